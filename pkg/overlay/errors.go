package overlay

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels for the rules overlayfs imposes on its directories. Errors
// returned by Mount wrap one of these and name the offending path, so
// callers can test errors.Is(err, overlay.ErrWorkNotEmpty).
var (
	// ErrNotImplemented is returned on systems without overlayfs (not Linux).
	ErrNotImplemented = errors.New("overlayfs needs Linux")
	// ErrNotSupported: the kernel does not list overlay in /proc/filesystems.
	ErrNotSupported = errors.New("overlay filesystem not supported by this kernel")
	// ErrNoLower: an overlay needs at least one lower directory.
	ErrNoLower = errors.New("no lower directory given")
	// ErrTooManyLowers: the kernel stacks at most MaxLowers lower layers.
	ErrTooManyLowers = errors.New("too many lower directories")
	// ErrLowerMissing: a lower directory does not exist or is not a directory.
	ErrLowerMissing = errors.New("lower directory does not exist")
	// ErrUpperMissing: the upper directory does not exist or is not a directory.
	ErrUpperMissing = errors.New("upper directory does not exist")
	// ErrWorkMissing: the work directory does not exist or is not a directory.
	ErrWorkMissing = errors.New("work directory does not exist")
	// ErrWorkRequired: upper and work must be given together.
	ErrWorkRequired = errors.New("upper and work directories must be given together")
	// ErrTargetMissing: the mount point does not exist or is not a directory.
	ErrTargetMissing = errors.New("mount point does not exist")
	// ErrCrossDevice: upper and work are on different filesystems.
	ErrCrossDevice = errors.New("upper and work directories are on different filesystems")
	// ErrWorkNotEmpty: the work directory holds files overlayfs did not make.
	ErrWorkNotEmpty = errors.New("work directory is not empty")
	// ErrNested: upper and work must be separate subtrees.
	ErrNested = errors.New("upper and work directories overlap")
	// ErrOptionsTooLong: the option string exceeds one page and the kernel
	// lacks the lowerdir+ mount option (Linux 6.8) to pass layers one by one.
	ErrOptionsTooLong = errors.New("overlay mount options longer than a page")
	// ErrNotMounted: no mount at the given path.
	ErrNotMounted = errors.New("not a mount point")
	// ErrNotOverlay: the mount at the given path is not an overlay.
	ErrNotOverlay = errors.New("not an overlay mount")
	// ErrRelativeLayers: mountinfo shows layer paths relative to a directory
	// the mounting process had as its working directory; they cannot be resolved.
	ErrRelativeLayers = errors.New("overlay layers given as relative paths")
)

// MountError is a failed mount, unmount or new-mount-API syscall with
// everything the kernel was given, so a learner can retype it.
type MountError struct {
	Op     string  `json:"op"` // "mount", "umount2", "fsconfig", "fsmount", "move_mount"
	Source string  `json:"source"`
	Target string  `json:"target"`
	FSType string  `json:"fsType"`
	Flags  uintptr `json:"flags"`
	Data   string  `json:"data"`
	Err    error   `json:"-"`
}

func (e *MountError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", e.Op)
	if e.FSType != "" {
		fmt.Fprintf(&b, " -t %s", e.FSType)
	}
	if e.Source != "" {
		fmt.Fprintf(&b, " %s", e.Source)
	}
	fmt.Fprintf(&b, " %q", e.Target)
	if e.Flags != 0 {
		fmt.Fprintf(&b, " flags=%s", FlagString(e.Flags))
	}
	if e.Data != "" {
		fmt.Fprintf(&b, " data=%q", e.Data)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

// Unwrap lets errors.Is(err, unix.EINVAL) see the errno.
func (e *MountError) Unwrap() error { return e.Err }

// mount(2) flag values (identical on every Linux architecture), listed here
// so FlagString also builds on non-Linux hosts.
var flagNames = []struct {
	v    uintptr
	name string
}{
	{0x1, "MS_RDONLY"}, {0x2, "MS_NOSUID"}, {0x4, "MS_NODEV"}, {0x8, "MS_NOEXEC"},
	{0x10, "MS_SYNCHRONOUS"}, {0x20, "MS_REMOUNT"}, {0x400, "MS_NOATIME"},
	{0x800, "MS_NODIRATIME"}, {0x1000, "MS_BIND"}, {0x2000, "MS_MOVE"},
	{0x4000, "MS_REC"}, {0x200000, "MS_RELATIME"}, {0x1000000, "MS_STRICTATIME"},
}

// FlagString prints mount flags as MS_RDONLY|MS_NOSUID; unknown bits in hex.
func FlagString(f uintptr) string {
	if f == 0 {
		return "0"
	}
	var parts []string
	for _, n := range flagNames {
		if f&n.v != 0 {
			parts = append(parts, n.name)
			f &^= n.v
		}
	}
	if f != 0 {
		parts = append(parts, fmt.Sprintf("%#x", f))
	}
	return strings.Join(parts, "|")
}
