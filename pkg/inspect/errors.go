package inspect

import (
	"errors"
	"fmt"
)

var (
	// ErrNoProcess is returned when the PID does not exist (or has exited).
	ErrNoProcess = errors.New("no such process")
	// ErrBadPID is returned for a PID that is neither "self" nor a positive number.
	ErrBadPID = errors.New("invalid PID")
	// ErrNotImplemented is returned on systems without Linux namespaces.
	ErrNotImplemented = errors.New("inspect needs a Linux kernel")
)

// SyscallError is a failed system call made while inspecting a process,
// such as setns(2) into its UTS namespace. errors.Is(err, unix.EPERM) works
// through Unwrap.
type SyscallError struct {
	Op     string // "setns", "open"
	Target string // the file or namespace acted on
	Flags  string // e.g. CLONE_NEWUTS
	Err    error
}

func (e *SyscallError) Error() string {
	s := e.Op + " " + e.Target
	if e.Flags != "" {
		s += " (" + e.Flags + ")"
	}
	return fmt.Sprintf("%s: %v", s, e.Err)
}

func (e *SyscallError) Unwrap() error { return e.Err }
