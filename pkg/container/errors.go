package container

import (
	"errors"
	"fmt"
	"syscall"
)

// Sentinel errors.
var (
	// ErrNotImplemented is returned on systems other than Linux.
	ErrNotImplemented = errors.New("containers need Linux")
	// ErrNotFound is returned when no container has the given name or ID.
	ErrNotFound = errors.New("no such container")
	// ErrNameInUse is returned when a container with the name already exists.
	ErrNameInUse = errors.New("container name already in use")
	// ErrRunning is returned when removing a running container without force.
	ErrRunning = errors.New("container is running (stop it first, or force)")
	// ErrNotRunning is returned when signalling or joining a stopped container.
	ErrNotRunning = errors.New("container is not running")
	// ErrExecutableNotFound is returned when the command is not in the container's PATH.
	ErrExecutableNotFound = errors.New("executable file not found in $PATH")
)

// StepError is a failure inside the container's init, reported back to the
// parent over the init pipe: which step, on which path, and the errno.
type StepError struct {
	Step  string        `json:"step"`
	Path  string        `json:"path,omitempty"`
	Errno syscall.Errno `json:"errno,omitempty"`
	Msg   string        `json:"msg,omitempty"`
}

func (e *StepError) Error() string {
	s := "container init: " + e.Step
	if e.Path != "" {
		s += fmt.Sprintf(" %q", e.Path)
	}
	if e.Msg != "" {
		return s + ": " + e.Msg
	}
	if e.Errno != 0 {
		return s + ": " + e.Errno.Error()
	}
	return s
}

// Unwrap lets callers test errors.Is(err, unix.EPERM) or ErrExecutableNotFound.
func (e *StepError) Unwrap() error {
	if e.Msg == ErrExecutableNotFound.Error() {
		return ErrExecutableNotFound
	}
	if e.Errno != 0 {
		return e.Errno
	}
	return nil
}

// stepErr builds a StepError from err, keeping its errno.
func stepErr(step, path string, err error) *StepError {
	se := &StepError{Step: step, Path: path}
	var errno syscall.Errno
	if errors.Is(err, ErrExecutableNotFound) {
		se.Msg = ErrExecutableNotFound.Error()
	} else if errors.As(err, &errno) {
		se.Errno = errno
		if err.Error() != errno.Error() {
			se.Msg = err.Error()
		}
	} else if err != nil {
		se.Msg = err.Error()
	}
	return se
}
