package inspect

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// CheckPID validates a PID argument: "self" or a positive number.
func CheckPID(pid string) error {
	if pid == "self" {
		return nil
	}
	n, err := strconv.Atoi(pid)
	if err != nil || n <= 0 {
		return fmt.Errorf("%w %q: want \"self\" or a positive number", ErrBadPID, pid)
	}
	return nil
}

// readProc opens /proc/PID/FILE and hands it to parse.
func readProc[T any](pid, file string, parse func(io.Reader) (T, error)) (T, error) {
	var zero T
	if err := CheckPID(pid); err != nil {
		return zero, err
	}
	p := "/proc/" + pid + "/" + file
	f, err := os.Open(p)
	if err != nil {
		return zero, procErr(pid, p, err)
	}
	defer f.Close()
	v, err := parse(f)
	if err != nil {
		return zero, fmt.Errorf("reading %s: %w", p, err)
	}
	return v, nil
}

// procErr turns "no such file" on /proc/PID/... into ErrNoProcess when the
// process itself is gone.
func procErr(pid, path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat("/proc/" + pid); serr != nil {
			return fmt.Errorf("reading %s: %w %s", path, ErrNoProcess, pid)
		}
	}
	return fmt.Errorf("reading %s: %w", path, err)
}

// ReadMountinfo reads the mount table as process pid sees it.
// Equivalent to: `cat /proc/PID/mountinfo` (or `findmnt -N PID`).
func ReadMountinfo(pid string) ([]Mount, error) {
	return readProc(pid, "mountinfo", ParseMountinfo)
}

// ReadCgroups reads the cgroups process pid belongs to, one per hierarchy.
// Equivalent to: `cat /proc/PID/cgroup`.
func ReadCgroups(pid string) ([]Cgroup, error) {
	return readProc(pid, "cgroup", ParseCgroups)
}

// ReadStatus reads identity, capability and seccomp lines of /proc/PID/status.
func ReadStatus(pid string) (*Status, error) {
	return readProc(pid, "status", ParseStatus)
}

// Caps reads the capability sets of process pid, decoded to names.
// Equivalent to: `grep Cap /proc/PID/status` then `capsh --decode=HEX`.
func Caps(pid string) (*Capabilities, error) {
	st, err := ReadStatus(pid)
	if err != nil {
		return nil, err
	}
	return &st.Capabilities, nil
}

// ReadIDMaps reads the user-namespace ID maps of process pid.
// Equivalent to: `cat /proc/PID/uid_map /proc/PID/gid_map`.
func ReadIDMaps(pid string) (uid, gid []IDMap, err error) {
	if uid, err = readProc(pid, "uid_map", ParseIDMap); err != nil {
		return nil, nil, err
	}
	if gid, err = readProc(pid, "gid_map", ParseIDMap); err != nil {
		return nil, nil, err
	}
	return uid, gid, nil
}

// readLink reads /proc/PID/NAME (root, cwd, exe).
func readLink(pid, name string) (string, error) {
	p := "/proc/" + pid + "/" + name
	s, err := os.Readlink(p)
	if err != nil {
		return "", procErr(pid, p, err)
	}
	return s, nil
}

func trimNL(b []byte) string { return strings.TrimRight(string(b), "\n") }
