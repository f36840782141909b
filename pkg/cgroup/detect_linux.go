package cgroup

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Root is where cgroup hierarchies are mounted.
const Root = "/sys/fs/cgroup"

// Parent is the directory, at the root of each hierarchy, that holds every
// ctrlab cgroup.
const Parent = "ctrlab"

// known are the controllers ctrlab manages.
var known = []string{"cpu", "cpuacct", "cpuset", "memory", "pids"}

// DetectMode reports only the mode, from two statfs(2) calls: v2 when
// /sys/fs/cgroup is cgroup2fs, hybrid when /sys/fs/cgroup/unified is,
// v1 otherwise. Equivalent to: `stat -fc %T /sys/fs/cgroup`.
func DetectMode() (Mode, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(Root, &st); err != nil {
		return "", &FileError{Op: "statfs", Path: Root, Err: err}
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return V2, nil
	}
	if unix.Statfs(filepath.Join(Root, "unified"), &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return Hybrid, nil
	}
	return V1, nil
}

// Detect reports the host's cgroup mode and usable controllers.
//
// Equivalent to: `stat -fc %T /sys/fs/cgroup` (cgroup2fs = v2, tmpfs = v1;
// hybrid when /sys/fs/cgroup/unified is cgroup2fs), `cat /proc/cgroups` and
// `cat /sys/fs/cgroup/cgroup.controllers` (statfs(2)).
func Detect() (*Info, error) {
	mode, err := DetectMode()
	if err != nil {
		return nil, err
	}
	info := &Info{Root: Root, Mode: mode}
	if mode == V2 {
		b, err := os.ReadFile(filepath.Join(Root, "cgroup.controllers"))
		if err != nil {
			return nil, &FileError{Op: "read", Path: filepath.Join(Root, "cgroup.controllers"), Err: err}
		}
		for _, c := range strings.Fields(string(b)) {
			if contains(known, c) {
				info.Controllers = append(info.Controllers, c)
			}
		}
		if info.Has("cpu") {
			// v2 accounts CPU time in cpu.stat for every cgroup.
			info.Controllers = append(info.Controllers, "cpuacct")
		}
		// cgroup.kill exists only in non-root cgroups (Linux 5.14+).
		info.Kill = kernelAtLeast(5, 14)
		// memory.swap.max exists only on non-root cgroups; CONFIG_SWAP decides.
		info.Swap = fileExists("/proc/swaps") && info.Has("memory")
	} else {
		mounts, err := v1Mounts()
		if err != nil {
			return nil, err
		}
		enabled := enabledV1()
		info.Mounts = map[string]string{}
		for c, m := range mounts {
			if contains(known, c) && enabled[c] {
				info.Mounts[c] = m
				info.Controllers = append(info.Controllers, c)
			}
		}
		if m, ok := info.Mounts["memory"]; ok {
			info.Swap = fileExists(filepath.Join(m, "memory.memsw.limit_in_bytes"))
		}
		if len(mounts) == 0 {
			return nil, ErrNoCgroups
		}
	}
	sort.Strings(info.Controllers)
	return info, nil
}

// v1Mounts maps each v1 controller to the mount point of its hierarchy,
// from /proc/self/mountinfo (preferring mounts under /sys/fs/cgroup).
func v1Mounts() (map[string]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, &FileError{Op: "read", Path: "/proc/self/mountinfo", Err: err}
	}
	defer f.Close()
	return parseV1Mounts(bufio.NewScanner(f)), nil
}

func parseV1Mounts(sc *bufio.Scanner) map[string]string {
	out := map[string]string{}
	for sc.Scan() {
		// 36 25 0:31 / /sys/fs/cgroup/memory rw,relatime shared:14 - cgroup cgroup rw,memory
		line := sc.Text()
		i := strings.Index(line, " - ")
		if i < 0 {
			continue
		}
		pre, post := strings.Fields(line[:i]), strings.Fields(line[i+3:])
		if len(pre) < 5 || len(post) < 3 || post[0] != "cgroup" || pre[3] != "/" {
			continue
		}
		mnt := unescapeMount(pre[4])
		for _, opt := range strings.Split(post[2], ",") {
			if contains(known, opt) {
				if old, ok := out[opt]; !ok || (!strings.HasPrefix(old, Root+"/") && strings.HasPrefix(mnt, Root+"/")) {
					out[opt] = mnt
				}
			}
		}
	}
	return out
}

func unescapeMount(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

// enabledV1 reads /proc/cgroups: controllers compiled in and not disabled.
func enabledV1() map[string]bool {
	m := map[string]bool{}
	b, err := os.ReadFile("/proc/cgroups")
	if err != nil {
		return m
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 4 && !strings.HasPrefix(f[0], "#") {
			m[f[0]] = f[3] == "1"
		}
	}
	return m
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	var ma, mi int
	rel := unix.ByteSliceToString(u.Release[:])
	parts := strings.SplitN(rel, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, mi = leadingInt(parts[0]), leadingInt(parts[1])
	return ma > major || (ma == major && mi >= minor)
}

func leadingInt(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}
