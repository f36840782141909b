package grade

import "errors"

// Sentinel errors.
var (
	// ErrUnknownLab is returned for a lab name that is not embedded.
	ErrUnknownLab = errors.New("unknown lab")
	// ErrInvalidLab is returned when a lab file breaks the format rules.
	ErrInvalidLab = errors.New("invalid lab")
	// ErrUnknownCheck is returned for a check kind the grader does not know.
	ErrUnknownCheck = errors.New("unknown check kind")
	// ErrUnsafeReset is returned when a lab's reset names an object outside
	// ctrlab's own (every name must start with "ctrlab-lab").
	ErrUnsafeReset = errors.New("reset names an object ctrlab does not own")
	// ErrNotImplemented is returned on systems without the Linux kernel APIs.
	ErrNotImplemented = errors.New("not implemented on this system")
)
