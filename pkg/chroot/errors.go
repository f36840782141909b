package chroot

import (
	"errors"
	"syscall"
)

var (
	// ErrNotImplemented is returned on systems other than Linux.
	ErrNotImplemented = errors.New("chroot demo needs Linux")
	// ErrNotDir is returned when the new root is not a directory.
	ErrNotDir = errors.New("new root is not a directory")
	// ErrCommandNotFound is returned when the command does not exist inside
	// the new root (exit status 127).
	ErrCommandNotFound = errors.New("command not found inside the new root")
	// ErrNoBusybox is returned by the escape demo when no static busybox exists.
	ErrNoBusybox = errors.New("no static busybox to build a throw-away rootfs (apt-get install busybox-static)")
)

// ChildError is a failure reported by the re-executed child: the operation,
// its target and the errno when it was a syscall (errors.Is(err, unix.EPERM)).
type ChildError struct {
	Op       string        `json:"op"`
	Target   string        `json:"target,omitempty"`
	Msg      string        `json:"msg"`
	Errno    syscall.Errno `json:"errno,omitempty"`
	NotFound bool          `json:"notFound,omitempty"`
}

func (e *ChildError) Error() string {
	s := e.Op
	if e.Target != "" {
		s += " " + e.Target
	}
	return s + ": " + e.Msg
}

// Unwrap returns the errno, or ErrCommandNotFound.
func (e *ChildError) Unwrap() error {
	if e.NotFound {
		return ErrCommandNotFound
	}
	if e.Errno != 0 {
		return e.Errno
	}
	return nil
}
