package lesson

import "errors"

var (
	// ErrNotFound is returned when no lesson has the requested name.
	ErrNotFound = errors.New("no such lesson")
	// ErrInvalid wraps every validation problem in a lesson file.
	ErrInvalid = errors.New("invalid lesson")
	// ErrStepFailed is returned by an --auto run when a step's command
	// exits non-zero or its output lacks an expectation.
	ErrStepFailed = errors.New("lesson step failed")
	// ErrQuit is returned when the learner quits an interactive lesson.
	ErrQuit = errors.New("learner quit the lesson")
)
