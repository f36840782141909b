package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// pidStartTime reads field 22 of /proc/PID/stat (starttime, in clock ticks
// since boot): together with the PID it names one process for good, since
// PIDs are reused.
func pidStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return parseStatStart(string(b))
}

func parseStatStart(stat string) (uint64, error) {
	// comm (field 2) may hold spaces and parens: split after the last ')'.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("parsing /proc/PID/stat: no ')'")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 {
		return 0, errors.New("parsing /proc/PID/stat: too few fields")
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// alive reports whether pid is still the process that started at start.
// A zombie counts as dead.
func alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	st, err := parseStatStart(s)
	if err != nil || (start != 0 && st != start) {
		return false
	}
	if i := strings.LastIndexByte(s, ')'); i >= 0 && len(s) > i+2 && (s[i+2] == 'Z' || s[i+2] == 'X') {
		return false
	}
	return true
}

// signalIfAlive sends sig to pid only if it is still the same process.
func signalIfAlive(pid int, start uint64, sig syscall.Signal) error {
	if !alive(pid, start) {
		return ErrNotRunning
	}
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("sending %v to pid %d: %w", sig, pid, err)
	}
	return nil
}

// cgroupPaths parses /proc/PID/cgroup into hierarchy dirs under /sys/fs/cgroup
// that the process belongs to (v1 controllers and the v2 unified tree).
func cgroupPaths(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return nil, err
	}
	var out []string
	v2Root := "/sys/fs/cgroup"
	if isCgroup2("/sys/fs/cgroup/unified") {
		v2Root = "/sys/fs/cgroup/unified"
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			if isCgroup2(v2Root) {
				out = append(out, filepath.Join(v2Root, parts[2]))
			}
			continue
		}
		dir := strings.TrimPrefix(parts[1], "name=")
		out = append(out, filepath.Join("/sys/fs/cgroup", dir, parts[2]))
	}
	return out, nil
}

func isCgroup2(path string) bool {
	var st syscall.Statfs_t
	return syscall.Statfs(path, &st) == nil && uint32(st.Type) == 0x63677270 // CGROUP2_SUPER_MAGIC
}
