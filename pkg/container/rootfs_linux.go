package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ctrlab/ctrlab/pkg/ns"
)

// MountError is a failed mount(2) with everything needed to understand it.
type MountError struct {
	Source, Target, FSType string
	Flags                  uintptr
	Data                   string
	Err                    error
}

func (e *MountError) Error() string {
	return fmt.Sprintf("mount %s on %q (type %s, flags %s, data %q): %v",
		e.Source, e.Target, e.FSType, mountFlagString(e.Flags), e.Data, e.Err)
}

// Unwrap exposes the errno.
func (e *MountError) Unwrap() error { return e.Err }

var mountFlagNames = []struct {
	f uintptr
	n string
}{
	{unix.MS_RDONLY, "MS_RDONLY"}, {unix.MS_NOSUID, "MS_NOSUID"}, {unix.MS_NODEV, "MS_NODEV"},
	{unix.MS_NOEXEC, "MS_NOEXEC"}, {unix.MS_REMOUNT, "MS_REMOUNT"}, {unix.MS_BIND, "MS_BIND"},
	{unix.MS_REC, "MS_REC"}, {unix.MS_PRIVATE, "MS_PRIVATE"}, {unix.MS_SLAVE, "MS_SLAVE"},
	{unix.MS_STRICTATIME, "MS_STRICTATIME"}, {unix.MS_RELATIME, "MS_RELATIME"},
}

func mountFlagString(f uintptr) string {
	var s []string
	for _, m := range mountFlagNames {
		if f&m.f != 0 {
			s = append(s, m.n)
		}
	}
	if len(s) == 0 {
		return "0"
	}
	return strings.Join(s, "|")
}

func mount(source, target, fstype string, flags uintptr, data string) error {
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return &MountError{Source: source, Target: target, FSType: fstype, Flags: flags, Data: data, Err: err}
	}
	return nil
}

// sysMount is one of the mounts every container gets.
type sysMount struct {
	dest, fstype, source string
	flags                uintptr
	data                 string
}

const (
	nsDevFlags = unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV
)

// setupRootfs makes the container's filesystem tree under cfg.Rootfs (still
// seen from the host's root): the mount namespace's propagation, the rootfs
// bind mount, /proc, /dev, /sys, /sys/fs/cgroup, devices and volumes.
func setupRootfs(cfg *Config) error {
	// runc's default rootfsPropagation: nothing we mount leaks to the host,
	// host mounts still propagate in.
	if err := mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return stepErr("making / rslave", "/", err)
	}
	root := cfg.Rootfs
	// pivot_root needs the new root to be a mount point.
	if err := mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return stepErr("bind-mounting the rootfs onto itself", root, err)
	}
	mounts := []sysMount{
		{"/proc", "proc", "proc", nsDevFlags, ""},
		{"/dev", "tmpfs", "tmpfs", unix.MS_NOSUID | unix.MS_STRICTATIME, "mode=755,size=65536k"},
		{"/dev/pts", "devpts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620" + ptsGID(root)},
		{"/dev/shm", "tmpfs", "shm", nsDevFlags, "mode=1777,size=65536k"},
		{"/dev/mqueue", "mqueue", "mqueue", nsDevFlags, ""},
	}
	for _, m := range mounts {
		if err := mountIn(root, m); err != nil {
			if m.fstype == "mqueue" && errors.Is(err, unix.EPERM) {
				continue // no IPC namespace of our own: skip, as runc does rootless
			}
			return err
		}
	}
	if err := setupSys(cfg); err != nil {
		return err
	}
	if err := setupDev(cfg); err != nil {
		return err
	}
	for _, m := range cfg.Mounts {
		if err := bindVolume(root, m); err != nil {
			return err
		}
	}
	return nil
}

// ptsGID is ",gid=5" when the rootfs has a tty group of gid 5 (runc's default).
func ptsGID(root string) string {
	if b, err := os.ReadFile(filepath.Join(root, "etc/group")); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Split(l, ":"); len(f) >= 3 && f[2] == "5" {
				return ",gid=5"
			}
		}
	}
	return ""
}

func mountIn(root string, m sysMount) error {
	dst, err := secureJoin(root, m.dest)
	if err != nil {
		return stepErr("resolving mount point", m.dest, err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return stepErr("creating mount point", m.dest, err)
	}
	if err := mount(m.source, dst, m.fstype, m.flags, m.data); err != nil {
		return stepErr("mounting "+m.fstype, m.dest, err)
	}
	return nil
}

// setupSys mounts /sys read-only and /sys/fs/cgroup.
func setupSys(cfg *Config) error {
	root := cfg.Rootfs
	if cfg.HasNS(ns.Net) {
		if err := mountIn(root, sysMount{"/sys", "sysfs", "sysfs", nsDevFlags | unix.MS_RDONLY, ""}); err != nil {
			return err
		}
	} else {
		// sysfs shows the network devices of the mounter's netns: with the
		// host's network, bind the host's /sys read-only instead (as runc).
		dst := filepath.Join(root, "sys")
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return stepErr("creating mount point", "/sys", err)
		}
		if err := mount("/sys", dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return stepErr("bind-mounting /sys", "/sys", err)
		}
		if err := mount("", dst, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|nsDevFlags, ""); err != nil {
			return stepErr("remounting /sys read-only", "/sys", err)
		}
	}
	if !cfg.HasNS(ns.Cgroup) {
		return nil // without a cgroup namespace a fresh mount would show the host's whole tree
	}
	cg := filepath.Join(root, "sys/fs/cgroup")
	if isCgroup2("/sys/fs/cgroup") {
		if err := mount("cgroup2", cg, "cgroup2", nsDevFlags|unix.MS_RDONLY, ""); err != nil {
			return stepErr("mounting cgroup2", "/sys/fs/cgroup", err)
		}
		return nil
	}
	// cgroup v1 (or hybrid): a tmpfs holding one read-only mount per
	// hierarchy, each showing the container's cgroup as its root (cgroup ns).
	if err := mount("tmpfs", cg, "tmpfs", nsDevFlags, "mode=755"); err != nil {
		return stepErr("mounting tmpfs", "/sys/fs/cgroup", err)
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return stepErr("reading", "/proc/self/cgroup", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		name, fstype, data := "unified", "cgroup2", ""
		if parts[1] != "" {
			name, fstype, data = strings.TrimPrefix(parts[1], "name="), "cgroup", parts[1]
		} else if !isCgroup2("/sys/fs/cgroup/unified") {
			continue
		}
		dst := filepath.Join(cg, name)
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return stepErr("creating mount point", "/sys/fs/cgroup/"+name, err)
		}
		if err := mount("cgroup", dst, fstype, nsDevFlags|unix.MS_RDONLY, data); err != nil {
			if errors.Is(err, unix.EPERM) && cfg.UserNS {
				os.Remove(dst)
				continue // v1 hierarchies cannot be mounted from a user namespace
			}
			return stepErr("mounting cgroup "+data, "/sys/fs/cgroup/"+name, err)
		}
		// cpu,cpuacct is also reachable as cpu and cpuacct, as on the host.
		if strings.Contains(name, ",") {
			for _, c := range strings.Split(name, ",") {
				_ = os.Symlink(name, filepath.Join(cg, c))
			}
		}
	}
	if err := mount("", cg, "", unix.MS_REMOUNT|unix.MS_RDONLY|nsDevFlags, "mode=755"); err != nil {
		return stepErr("remounting tmpfs read-only", "/sys/fs/cgroup", err)
	}
	return nil
}

var devices = []struct {
	name         string
	major, minor uint32
}{
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
}

// setupDev creates the default device nodes and the /dev symlinks.
func setupDev(cfg *Config) error {
	dev := filepath.Join(cfg.Rootfs, "dev")
	old := unix.Umask(0)
	defer unix.Umask(old)
	for _, d := range devices {
		p := filepath.Join(dev, d.name)
		var err error
		if !cfg.UserNS {
			err = unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(d.major, d.minor)))
		}
		if cfg.UserNS || errors.Is(err, unix.EPERM) {
			// mknod is refused in a user namespace: bind the host's node.
			err = bindFile("/dev/"+d.name, p)
		}
		if err != nil {
			return stepErr("creating device", "/dev/"+d.name, err)
		}
	}
	links := [][2]string{
		{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"},
	}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "core"})
	}
	for _, l := range links {
		if err := os.Symlink(l[0], filepath.Join(dev, l[1])); err != nil {
			return stepErr("creating symlink", "/dev/"+l[1], err)
		}
	}
	return nil
}

// bindFile bind-mounts the file src onto dst, creating dst empty.
func bindFile(src, dst string) error {
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o666)
	if err != nil {
		return err
	}
	f.Close()
	return mount(src, dst, "", unix.MS_BIND, "")
}

// bindVolume bind-mounts a host path into the container (docker -v).
func bindVolume(root string, m Mount) error {
	fi, err := os.Stat(m.Source)
	if err != nil {
		return stepErr("reading volume source", m.Source, err)
	}
	dst, err := secureJoin(root, m.Destination)
	if err != nil {
		return stepErr("resolving volume target", m.Destination, err)
	}
	if fi.IsDir() {
		err = os.MkdirAll(dst, 0o755)
	} else {
		if err = os.MkdirAll(filepath.Dir(dst), 0o755); err == nil {
			var f *os.File
			if f, err = os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				f.Close()
			}
		}
	}
	if err != nil {
		return stepErr("creating volume target", m.Destination, err)
	}
	if err := mount(m.Source, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return stepErr("bind-mounting volume", m.Destination, err)
	}
	if m.ReadOnly {
		if err := remountRO(dst); err != nil {
			return stepErr("remounting volume read-only", m.Destination, err)
		}
	}
	return nil
}

// remountRO makes the bind mount at path read-only, keeping the flags the
// kernel locked on it (nosuid, nodev, noexec), or the remount fails in a
// user namespace.
func remountRO(path string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return err
	}
	keep := uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	return mount("", path, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|keep, "")
}

// pivotRoot switches the root to the current directory's mount, as runc:
// pivot_root(".", ".") stacks the old root on top of the new one, and
// unmounting "." (lazily) removes it; no directory for the old root needed.
func pivotRoot(rootfs string) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return stepErr("opening old root", "/", err)
	}
	defer unix.Close(oldroot)
	newroot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return stepErr("opening new root", rootfs, err)
	}
	defer unix.Close(newroot)
	if err := unix.Fchdir(newroot); err != nil {
		return stepErr("changing directory to the rootfs", rootfs, err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return stepErr("pivot_root", rootfs, err)
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return stepErr("changing directory to the old root", "/", err)
	}
	// Make the old root a slave so the unmount does not propagate to the host.
	if err := mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return stepErr("making the old root rslave", "/", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return stepErr("unmounting the old root", "/", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return stepErr("changing directory", "/", err)
	}
	return nil
}

// maskPath hides path: /dev/null over a file, an empty read-only tmpfs over a directory.
// It reports false when path does not exist on this kernel.
func maskPath(path string) (bool, error) {
	err := mount("/dev/null", path, "", unix.MS_BIND, "")
	if err != nil && errors.Is(err, unix.ENOTDIR) {
		err = mount("tmpfs", path, "tmpfs", unix.MS_RDONLY, "size=0")
	}
	if err != nil && errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	return err == nil, err
}

// readonlyPath bind-mounts path onto itself and remounts it read-only.
// It reports false when path does not exist on this kernel.
func readonlyPath(path string) (bool, error) {
	if err := mount(path, path, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return false, nil
		}
		return false, err
	}
	return true, remountRO(path)
}

// setupConsole (after pivot_root) opens a pty in the container's devpts,
// sends its master to the parent, bind-mounts the slave on /dev/console
// and makes it this process's stdio and controlling terminal
// (ioctl TIOCSCTTY; the init is a session leader from setsid).
func setupConsole(sendMaster func(*os.File) error) error {
	master, slave, err := openPTY()
	if err != nil {
		return stepErr("opening a pty", "/dev/ptmx", err)
	}
	defer slave.Close()
	err = sendMaster(master)
	master.Close()
	if err != nil {
		return stepErr("sending the pty master", "", err)
	}
	if err := bindFile(slave.Name(), "/dev/console"); err != nil {
		return stepErr("bind-mounting the console", "/dev/console", err)
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup3(int(slave.Fd()), fd, 0); err != nil {
			return stepErr("dup3 of the pty", slave.Name(), err)
		}
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return stepErr("ioctl(TIOCSCTTY)", slave.Name(), err)
	}
	return nil
}
