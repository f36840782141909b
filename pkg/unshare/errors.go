package unshare

import (
	"errors"
	"fmt"
	"syscall"
)

var (
	// ErrNotImplemented is returned on systems without Linux namespaces.
	ErrNotImplemented = errors.New("namespaces need Linux")
	// ErrNoNamespaces is returned when Config names no namespace kind.
	ErrNoNamespaces = errors.New("no namespace kind given")
	// ErrUnsupported is wrapped by FeatureError: the kernel lacks a namespace kind.
	ErrUnsupported = errors.New("not supported by this kernel")
	// ErrCommandNotFound is returned when the command to run does not exist
	// (inside the new namespaces; the exit status is then 127).
	ErrCommandNotFound = errors.New("command not found")
)

// FeatureError names a kernel feature that is missing and the Linux version
// that introduced it.
type FeatureError struct {
	Feature string // e.g. "time namespaces (CLONE_NEWTIME)"
	Kernel  string // first Linux version with it, e.g. "5.6"
	Running string // uname -r
	Detail  string // how we noticed
}

func (e *FeatureError) Error() string {
	return fmt.Sprintf("%s: %v (needs Linux %s or newer, running %s; %s)",
		e.Feature, ErrUnsupported, e.Kernel, e.Running, e.Detail)
}

func (e *FeatureError) Unwrap() error { return ErrUnsupported }

// InitError is a failure inside the new namespaces, reported by the init
// over its pipe: the operation, its target, and the errno when it was a
// syscall, so callers can test errors.Is(err, unix.EPERM).
type InitError struct {
	Op     string        `json:"op"`
	Target string        `json:"target,omitempty"`
	Msg    string        `json:"msg"`
	Errno  syscall.Errno `json:"errno,omitempty"`
}

func (e *InitError) Error() string {
	s := "inside the new namespaces: " + e.Op
	if e.Target != "" {
		s += " " + e.Target
	}
	return s + ": " + e.Msg
}

// Unwrap returns the errno (or ErrCommandNotFound) behind the failure.
func (e *InitError) Unwrap() error {
	if e.Op == "looking up command" && e.Errno == 0 {
		return ErrCommandNotFound
	}
	if e.Errno != 0 {
		return e.Errno
	}
	return nil
}

// CloneError is the kernel refusing to create the namespaces at all.
type CloneError struct {
	Flags string // CLONE_NEWNS|CLONE_NEWPID
	Err   error
}

func (e *CloneError) Error() string {
	return fmt.Sprintf("creating namespaces with clone(%s): %v", e.Flags, e.Err)
}

func (e *CloneError) Unwrap() error { return e.Err }
