package quiz

import "errors"

var (
	// ErrInvalid wraps every problem found in a quiz file.
	ErrInvalid = errors.New("invalid quiz")
	// ErrNotFound is returned when no quiz has the requested topic.
	ErrNotFound = errors.New("no such quiz topic")
	// ErrUnavailable is returned by a live generator that cannot compute
	// its answer here (missing file, not root); the question is skipped.
	ErrUnavailable = errors.New("live answer unavailable on this system")
)
