package quiz

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/ctrlab/ctrlab/pkg/cgroup"
	"github.com/ctrlab/ctrlab/pkg/ns"
	"golang.org/x/sys/unix"
)

func platformGenerators() map[string]Generator {
	return map[string]Generator{
		"kernel-release":      kernelRelease,
		"machine-platform":    machinePlatform,
		"hostname":            hostname,
		"nspid-depth":         nspidDepth,
		"ns-shared-with-pid1": nsSharedWithPID1,
		"ns-entries-self":     nsEntriesSelf,
		"cgroup-mode":         func() (string, error) { return CgroupMode() },
		"cgroup-self-v1-mem":  cgroupSelfMemory,
		"overlay-supported":   func() (string, error) { return fsSupported("overlay") },
		"ip-forward":          func() (string, error) { return readTrim("/proc/sys/net/ipv4/ip_forward") },
		"no-new-privs-self":   func() (string, error) { return statusField("NoNewPrivs") },
		"seccomp-self":        func() (string, error) { return statusField("Seccomp") },
		"root-propagation":    rootPropagation,
		"uid-map-self":        func() (string, error) { return readFirstLine("/proc/self/uid_map") },
		"time-ns-supported":   func() (string, error) { return exists("/proc/self/ns/time") },
		"max-user-namespaces": func() (string, error) { return readTrim("/proc/sys/user/max_user_namespaces") },
		"net-interfaces":      netInterfaces,
	}
}

func unavailable(what string, err error) error {
	return fmt.Errorf("%s: %w: %v", what, ErrUnavailable, err)
}

func readTrim(p string) (string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", unavailable("reading "+p, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func readFirstLine(p string) (string, error) {
	s, err := readTrim(p)
	if err != nil {
		return "", err
	}
	first, _, _ := strings.Cut(s, "\n")
	return strings.Join(strings.Fields(first), " "), nil
}

func exists(p string) (string, error) {
	if _, err := os.Lstat(p); err != nil {
		return "no", nil
	}
	return "yes", nil
}

func utsField(b []byte) string { return unix.ByteSliceToString(b) }

// kernelRelease is `uname -r`.
func kernelRelease() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", unavailable("uname", err)
	}
	return utsField(u.Release[:]), nil
}

func hostname() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", unavailable("uname", err)
	}
	return utsField(u.Nodename[:]), nil
}

// machinePlatform is the OCI platform an image index entry must have for
// this machine: linux/amd64, linux/arm64, linux/arm/v7...
func machinePlatform() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", unavailable("uname", err)
	}
	m := utsField(u.Machine[:])
	switch {
	case m == "x86_64":
		return "linux/amd64", nil
	case m == "aarch64" || m == "arm64":
		if runtime.GOARCH == "arm" { // 32-bit userland on a 64-bit Pi kernel
			return "linux/arm/v7", nil
		}
		return "linux/arm64", nil
	case strings.HasPrefix(m, "armv"):
		return "linux/arm/v" + m[4:5], nil
	case m == "i686" || m == "i386":
		return "linux/386", nil
	}
	return "linux/" + m, nil
}

// statusField reads one field of /proc/self/status.
func statusField(name string) (string, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "", unavailable("reading /proc/self/status", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == name {
			return strings.Join(strings.Fields(v), " "), nil
		}
	}
	return "", unavailable("reading /proc/self/status", fmt.Errorf("no %s field", name))
}

// nspidDepth is how many PID namespaces see this process: the number of
// PIDs on the NSpid line of /proc/self/status (1 on the host).
func nspidDepth() (string, error) {
	v, err := statusField("NSpid")
	if err != nil {
		return "", err
	}
	return strconv.Itoa(len(strings.Fields(v))), nil
}

var nsNames = []string{"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}

// nsSharedWithPID1 counts the namespace kinds this process shares with PID
// 1 (reading /proc/1/ns needs root). Where PID 1 cannot be read even by
// root (a protected init, as on some VMs), it compares with kthreadd, PID
// 2, which always lives in the initial namespaces: on the host the answer
// is the same.
func nsSharedWithPID1() (string, error) {
	ref, err := ns.HostPID()
	if err != nil {
		ref = "1" // reported below as needing root
	}
	n, seen := 0, 0
	for _, k := range nsNames {
		a, err1 := os.Readlink("/proc/self/ns/" + k)
		b, err2 := os.Readlink("/proc/" + ref + "/ns/" + k)
		if err1 != nil {
			continue // kind not supported by this kernel
		}
		if err2 != nil {
			return "", unavailable("reading /proc/1/ns (needs root)", err2)
		}
		seen++
		if a == b {
			n++
		}
	}
	if seen == 0 {
		return "", unavailable("reading /proc/self/ns", fmt.Errorf("no namespaces"))
	}
	return strconv.Itoa(n), nil
}

func nsEntriesSelf() (string, error) {
	ents, err := os.ReadDir("/proc/self/ns")
	if err != nil {
		return "", unavailable("reading /proc/self/ns", err)
	}
	return strconv.Itoa(len(ents)), nil
}

// CgroupMode reports "v1", "hybrid" or "v2" from the filesystem types at
// /sys/fs/cgroup and /sys/fs/cgroup/unified.
func CgroupMode() (string, error) {
	m, err := cgroup.DetectMode()
	if err != nil {
		return "", unavailable("statfs /sys/fs/cgroup", err)
	}
	return string(m), nil
}

// cgroupSelfMemory is this process's cgroup path: the v2 ("0::") line, or
// the memory controller's line on v1.
func cgroupSelfMemory() (string, error) {
	s, err := readTrim("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	var v2 string
	for _, l := range strings.Split(s, "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				return parts[2], nil
			}
		}
		if parts[0] == "0" && parts[1] == "" {
			v2 = parts[2]
		}
	}
	if v2 == "" {
		return "", unavailable("reading /proc/self/cgroup", fmt.Errorf("no memory or v2 line"))
	}
	return v2, nil
}

func fsSupported(name string) (string, error) {
	s, err := readTrim("/proc/filesystems")
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(s, "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && f[len(f)-1] == name {
			return "yes", nil
		}
	}
	return "no", nil
}

// rootPropagation is "shared" or "private" (or "slave") for / in this
// mount namespace, as `findmnt -o PROPAGATION /` prints it.
func rootPropagation() (string, error) {
	s, err := readTrim("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	prop := ""
	for _, l := range strings.Split(s, "\n") {
		f := strings.Fields(l)
		if len(f) < 7 || f[4] != "/" {
			continue
		}
		prop = "private"
		for _, opt := range f[6:] {
			if opt == "-" {
				break
			}
			switch {
			case strings.HasPrefix(opt, "shared:"):
				prop = "shared"
			case strings.HasPrefix(opt, "master:") && prop != "shared":
				prop = "slave"
			}
		}
	}
	if prop == "" {
		return "", unavailable("reading /proc/self/mountinfo", fmt.Errorf("no mount at /"))
	}
	return prop, nil
}

func netInterfaces() (string, error) {
	ents, err := os.ReadDir("/sys/class/net")
	if err != nil {
		return "", unavailable("reading /sys/class/net", err)
	}
	return strconv.Itoa(len(ents)), nil
}
