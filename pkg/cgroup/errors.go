package cgroup

import (
	"errors"
	"fmt"
)

var (
	// ErrNotImplemented is returned on systems without cgroups (not Linux).
	ErrNotImplemented = errors.New("cgroups are a Linux kernel feature")
	// ErrNotExist is returned by Load for a ctrlab cgroup that does not exist.
	ErrNotExist = errors.New("no such ctrlab cgroup")
	// ErrNoCgroups is returned when no cgroup filesystem is mounted.
	ErrNoCgroups = errors.New("no cgroup filesystem mounted at /sys/fs/cgroup")
	// ErrBadName is returned for a cgroup name that is not one path element.
	ErrBadName = errors.New("invalid cgroup name")
	// ErrBusy is returned by Delete when processes would not leave the cgroup.
	ErrBusy = errors.New("cgroup still has processes")
)

// ControllerError reports a controller the kernel does not offer, with the
// fix a learner can apply.
type ControllerError struct {
	Controller string // "memory", "cpu", "pids", "cpuset"
	Mode       Mode
}

func (e *ControllerError) Error() string {
	msg := fmt.Sprintf("the %s cgroup controller is not available on this kernel (cgroup %s)", e.Controller, e.Mode)
	switch e.Controller {
	case "memory":
		msg += ": it is disabled at boot on some systems (Raspberry Pi OS): add `cgroup_enable=memory cgroup_memory=1` to the kernel command line (/boot/firmware/cmdline.txt on a Pi) and reboot"
	default:
		msg += fmt.Sprintf(": check `cgroup_disable=%s` on the kernel command line (/proc/cmdline) and that the kernel was built with it (CONFIG_CGROUP_*)", e.Controller)
	}
	return msg
}

// Is makes errors.Is(err, ErrControllerUnavailable) true.
func (e *ControllerError) Is(target error) bool { return target == ErrControllerUnavailable }

// ErrControllerUnavailable matches any *ControllerError.
var ErrControllerUnavailable = errors.New("cgroup controller not available")

// FileError is a failed read or write of one cgroup file.
type FileError struct {
	Op    string // "write", "read"
	Path  string
	Value string // the value written, for writes
	Err   error
}

func (e *FileError) Error() string {
	if e.Op == "write" {
		return fmt.Sprintf("writing %q to %s: %v", e.Value, e.Path, e.Err)
	}
	verb := map[string]string{"read": "reading", "mkdir": "creating", "rmdir": "removing", "open": "opening", "statfs": "checking"}[e.Op]
	if verb == "" {
		verb = e.Op
	}
	return fmt.Sprintf("%s %s: %v", verb, e.Path, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }
