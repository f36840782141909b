package overlay

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// procFilesystems lists the filesystems the kernel knows and modulesDir
// holds its loadable modules; tests replace them.
var (
	procFilesystems = "/proc/filesystems"
	modulesDir      = "/lib/modules"
)

// Supported reports whether the kernel has overlayfs: built in or loaded
// (listed in /proc/filesystems), or available as a module that mount(2)
// loads on first use. Equivalent to: `grep overlay /proc/filesystems`.
func Supported() error {
	f, err := os.Open(procFilesystems)
	if err != nil {
		return fmt.Errorf("reading %s: %w", procFilesystems, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) > 0 && fs[len(fs)-1] == "overlay" {
			return nil
		}
	}
	if moduleAvailable() {
		return nil
	}
	return fmt.Errorf("%w: %s has no \"overlay\" line (load the module: `modprobe overlay`, or build the kernel with CONFIG_OVERLAY_FS)", ErrNotSupported, procFilesystems)
}

// moduleAvailable reports whether overlay.ko is in the running kernel's
// modules.dep (the kernel then loads it itself on the first overlay mount).
func moduleAvailable() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	b, err := os.ReadFile(filepath.Join(modulesDir, unix.ByteSliceToString(u.Release[:]), "modules.dep"))
	return err == nil && strings.Contains(string(b), "/overlay.ko")
}

func isDir(p string) (unix.Stat_t, bool) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return st, false
	}
	return st, st.Mode&unix.S_IFMT == unix.S_IFDIR
}

// Validate checks the rules overlayfs enforces before the kernel does, so
// the error names the path and the rule instead of a bare EINVAL.
func Validate(s Spec) error {
	if err := Supported(); err != nil {
		return err
	}
	if len(s.Lowers) == 0 {
		return fmt.Errorf("%w: an overlay needs at least one read-only layer (lowerdir=)", ErrNoLower)
	}
	if len(s.Lowers) > MaxLowers {
		return fmt.Errorf("%w: %d given, the kernel stacks at most %d", ErrTooManyLowers, len(s.Lowers), MaxLowers)
	}
	for i, l := range s.Lowers {
		if _, ok := isDir(l); !ok {
			return fmt.Errorf("%w: %s %q: every lowerdir must be an existing directory", ErrLowerMissing, LayerName(i), l)
		}
	}
	if (s.Upper == "") != (s.Work == "") {
		return fmt.Errorf("%w (upper %q, work %q): overlayfs needs a work directory to prepare copy-ups atomically", ErrWorkRequired, s.Upper, s.Work)
	}
	if _, ok := isDir(s.Target); !ok {
		return fmt.Errorf("%w: %q: the merged view needs an existing directory to mount on", ErrTargetMissing, s.Target)
	}
	if s.Upper == "" {
		return nil
	}
	ust, ok := isDir(s.Upper)
	if !ok {
		return fmt.Errorf("%w: %q: upperdir must be an existing, writable directory", ErrUpperMissing, s.Upper)
	}
	wst, ok := isDir(s.Work)
	if !ok {
		return fmt.Errorf("%w: %q: workdir must be an existing empty directory", ErrWorkMissing, s.Work)
	}
	if ust.Dev != wst.Dev {
		return fmt.Errorf("%w: upper %q is on device %d:%d but work %q is on %d:%d; overlayfs renames files from workdir into upperdir, and rename(2) cannot cross filesystems",
			ErrCrossDevice, s.Upper, unix.Major(uint64(ust.Dev)), unix.Minor(uint64(ust.Dev)),
			s.Work, unix.Major(uint64(wst.Dev)), unix.Minor(uint64(wst.Dev)))
	}
	u, w := cleanPath(s.Upper), cleanPath(s.Work)
	if u == w || strings.HasPrefix(w+"/", u+"/") || strings.HasPrefix(u+"/", w+"/") {
		return fmt.Errorf("%w: upper %q and work %q must be separate directories, neither inside the other", ErrNested, u, w)
	}
	ents, err := os.ReadDir(s.Work)
	if err != nil {
		return fmt.Errorf("reading work directory %q: %w", s.Work, err)
	}
	for _, e := range ents {
		// overlayfs itself leaves work/work (and work/index) behind; a
		// workdir reused for the same upper is fine.
		if e.IsDir() && (e.Name() == "work" || e.Name() == "index") {
			continue
		}
		return fmt.Errorf("%w: %q holds %q; workdir must be empty (overlayfs prepares copy-ups there and would clobber it)", ErrWorkNotEmpty, s.Work, e.Name())
	}
	return nil
}

// pageSize bounds the option string mount(2) copies from user space.
var pageSize = os.Getpagesize()

// Mount validates s and mounts the overlay at s.Target with mount(2).
//
// Equivalent to: `mount -t overlay overlay -o lowerdir=L1:L2,upperdir=U,workdir=W TARGET`.
//
// mount(2) takes the options as one string of at most a page (4096 bytes).
// When the string is longer, or a path holds a comma, Mount uses the new
// mount API instead (fsopen(2), fsconfig(2) with one "lowerdir+" per layer,
// fsmount(2), move_mount(2); Linux 6.8+), which has no such limit; on older
// kernels it returns ErrOptionsTooLong.
func Mount(ctx context.Context, s Spec) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s, err := absSpec(s)
	if err != nil {
		return fmt.Errorf("mounting overlay: %w", err)
	}
	if err := Validate(s); err != nil {
		return fmt.Errorf("mounting overlay at %q: %w", s.Target, err)
	}
	data := s.Data()
	if len(data) < pageSize && !hasComma(s) {
		flags, _ := s.splitOptions()
		if err := unix.Mount("overlay", s.Target, "overlay", flags, data); err != nil {
			return fmt.Errorf("mounting overlay at %q: %w", s.Target,
				&MountError{Op: "mount", Source: "overlay", Target: s.Target, FSType: "overlay", Flags: flags, Data: data, Err: mountErrno(err)})
		}
		return nil
	}
	if err := mountFsconfig(s); err != nil {
		return fmt.Errorf("mounting overlay at %q (%d-byte options, passed layer by layer): %w", s.Target, len(data), err)
	}
	return nil
}

func hasComma(s Spec) bool {
	for _, p := range append(append([]string{}, s.Lowers...), s.Upper, s.Work) {
		if strings.Contains(p, ",") {
			return true
		}
	}
	return false
}

// mountErrno turns ENODEV (filesystem type unknown) into ErrNotSupported
// while keeping the errno visible to errors.Is.
func mountErrno(err error) error {
	if errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("%w (%w)", ErrNotSupported, err)
	}
	return err
}

var mountAttrs = map[uintptr]int{
	0x1: unix.MOUNT_ATTR_RDONLY, 0x2: unix.MOUNT_ATTR_NOSUID, 0x4: unix.MOUNT_ATTR_NODEV,
	0x8: unix.MOUNT_ATTR_NOEXEC, 0x400: unix.MOUNT_ATTR_NOATIME, 0x1000000: unix.MOUNT_ATTR_STRICTATIME,
	0x800: unix.MOUNT_ATTR_NODIRATIME,
}

// mountFsconfig mounts with the new mount API, one fsconfig call per layer.
func mountFsconfig(s Spec) error {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		if errors.Is(err, unix.ENOSYS) {
			return fmt.Errorf("%w and this kernel has no fsopen(2)", ErrOptionsTooLong)
		}
		return &MountError{Op: "fsopen", FSType: "overlay", Target: s.Target, Err: mountErrno(err)}
	}
	defer unix.Close(fd)
	set := func(k, v string) error {
		if err := unix.FsconfigSetString(fd, k, v); err != nil {
			return &MountError{Op: "fsconfig", FSType: "overlay", Target: s.Target, Data: k + "=" + v, Err: withFSLog(fd, err)}
		}
		return nil
	}
	if err := set("source", "overlay"); err != nil {
		return err
	}
	for _, l := range s.Lowers {
		if err := unix.FsconfigSetString(fd, "lowerdir+", l); err != nil {
			if errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("%w and this kernel refused lowerdir+ (Linux 6.8+): %w", ErrOptionsTooLong,
					&MountError{Op: "fsconfig", FSType: "overlay", Target: s.Target, Data: "lowerdir+=" + l, Err: withFSLog(fd, err)})
			}
			return &MountError{Op: "fsconfig", FSType: "overlay", Target: s.Target, Data: "lowerdir+=" + l, Err: withFSLog(fd, err)}
		}
	}
	if s.Upper != "" {
		if err := set("upperdir", s.Upper); err != nil {
			return err
		}
		if err := set("workdir", s.Work); err != nil {
			return err
		}
	}
	flags, fsopts := s.splitOptions()
	for _, o := range fsopts {
		k, v, hasV := strings.Cut(o, "=")
		if hasV {
			err = set(k, v)
		} else if err = unix.FsconfigSetFlag(fd, k); err != nil {
			err = &MountError{Op: "fsconfig", FSType: "overlay", Target: s.Target, Data: k, Err: withFSLog(fd, err)}
		}
		if err != nil {
			return err
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return &MountError{Op: "fsconfig", FSType: "overlay", Target: s.Target, Data: "FSCONFIG_CMD_CREATE", Err: withFSLog(fd, err)}
	}
	attrs := 0
	for f, a := range mountAttrs {
		if flags&f != 0 {
			attrs |= a
		}
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, attrs)
	if err != nil {
		return &MountError{Op: "fsmount", FSType: "overlay", Target: s.Target, Flags: flags, Err: err}
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, s.Target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return &MountError{Op: "move_mount", FSType: "overlay", Target: s.Target, Err: err}
	}
	return nil
}

// withFSLog appends the messages the kernel queued on the fs context
// (read(2) on the fsopen fd gives "e overlayfs: ..." lines).
func withFSLog(fd int, err error) error {
	var msgs []string
	buf := make([]byte, 1024)
	for i := 0; i < 8; i++ {
		n, rerr := unix.Read(fd, buf)
		if rerr != nil || n <= 0 {
			break
		}
		msgs = append(msgs, strings.TrimSpace(string(buf[:n])))
	}
	if len(msgs) == 0 {
		return err
	}
	return fmt.Errorf("%w (kernel says: %s)", err, strings.Join(msgs, "; "))
}

// Unmount unmounts the overlay at target. If the mount is busy (a process
// has its cwd or a file open inside) it detaches it lazily instead: the
// merged view disappears now and the kernel frees it when the last user
// goes. Equivalent to: `umount TARGET` (then `umount -l TARGET`).
//
// It refuses to unmount anything that is not an overlay (ErrNotOverlay).
func Unmount(target string) error {
	mi, err := FindMount(target)
	if err != nil {
		return fmt.Errorf("unmounting %q: %w", target, err)
	}
	if mi.FSType != "overlay" {
		return fmt.Errorf("unmounting %q: %w (it is %s)", mi.MountPoint, ErrNotOverlay, mi.FSType)
	}
	err = unix.Unmount(mi.MountPoint, 0)
	if errors.Is(err, unix.EBUSY) {
		err = unix.Unmount(mi.MountPoint, unix.MNT_DETACH)
		if err != nil {
			return fmt.Errorf("unmounting %q: %w", mi.MountPoint, &MountError{Op: "umount2", Target: mi.MountPoint, Data: "MNT_DETACH", Err: err})
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("unmounting %q: %w", mi.MountPoint, &MountError{Op: "umount2", Target: mi.MountPoint, Err: err})
	}
	return nil
}

// absSpec returns s with every path made absolute, so the kernel and
// mountinfo record paths that do not depend on the working directory.
func absSpec(s Spec) (Spec, error) {
	abs := func(p string) (string, error) {
		if p == "" {
			return "", nil
		}
		return filepath.Abs(p)
	}
	var err error
	out := s
	out.Lowers = make([]string, len(s.Lowers))
	for i, l := range s.Lowers {
		if out.Lowers[i], err = abs(l); err != nil {
			return s, err
		}
	}
	if out.Upper, err = abs(s.Upper); err != nil {
		return s, err
	}
	if out.Work, err = abs(s.Work); err != nil {
		return s, err
	}
	if out.Target, err = abs(s.Target); err != nil {
		return s, err
	}
	return out, nil
}
