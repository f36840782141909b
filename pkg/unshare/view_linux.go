package unshare

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ctrlab/ctrlab/pkg/ns"
)

// readView reads the kernel state this process sees. pid is the number to
// use for /proc/PID/ns (the host PID when looking from outside).
func readView(pid string) View {
	v := View{PID: os.Getpid(), UID: os.Getuid(), GID: os.Getgid()}
	v.Inodes, _ = ns.Inodes(pid)
	v.ProcPIDs = procPIDs()
	v.Hostname = hostname()
	v.RootPropagation = rootPropagation("/proc/self/mountinfo")
	v.Interfaces = interfaces()
	v.MsgQueueKeys = msgQueueKeys()
	v.UIDMap = idMap("/proc/self/uid_map")
	v.GIDMap = idMap("/proc/self/gid_map")
	v.Cgroup = lines("/proc/self/cgroup")
	v.Uptime = uptime()
	v.Monotonic = monotonic()
	return v
}

func procPIDs() []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, n)
		}
	}
	sort.Ints(pids)
	return pids
}

func hostname() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "?"
	}
	return unix.ByteSliceToString(u.Nodename[:])
}

// rootPropagation returns the propagation of the mount at "/" as mountinfo
// shows it in the optional fields: "shared:1", "master:2" or "private".
func rootPropagation(path string) string {
	prop := "?"
	for _, l := range lines(path) {
		f := strings.Fields(l)
		if len(f) < 7 || f[4] != "/" {
			continue
		}
		var opt []string
		for _, x := range f[6:] {
			if x == "-" {
				break
			}
			opt = append(opt, x)
		}
		prop = "private"
		if len(opt) > 0 {
			prop = strings.Join(opt, " ")
		}
	}
	return prop
}

// mountedAt reports whether mountinfo at path lists a mount on dir.
func mountedAt(path, dir string) bool {
	for _, l := range lines(path) {
		if f := strings.Fields(l); len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

func interfaces() []Interface {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	out := make([]Interface, 0, len(ifs))
	for _, i := range ifs {
		out = append(out, Interface{Name: i.Name, Up: i.Flags&net.FlagUp != 0})
	}
	return out
}

// msgQueueKeys lists the keys of the SysV message queues in this process's
// IPC namespace (/proc/sysvipc/msg, what `ipcs -q` shows).
func msgQueueKeys() []int {
	var keys []int
	for i, l := range lines("/proc/sysvipc/msg") {
		f := strings.Fields(l)
		if i == 0 || len(f) == 0 {
			continue
		}
		if k, err := strconv.Atoi(f[0]); err == nil {
			keys = append(keys, k)
		}
	}
	return keys
}

func idMap(path string) string {
	var s []string
	for _, l := range lines(path) {
		s = append(s, strings.Join(strings.Fields(l), " "))
	}
	return strings.Join(s, "; ")
}

func uptime() string {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

func monotonic() string {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return "?"
	}
	return fmt.Sprintf("%d.%02d", int64(ts.Sec), int64(ts.Nsec)/10_000_000)
}

func lines(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// statusField returns a field of /proc/PID/status, e.g. "NSpid".
func statusField(pid int, name string) string {
	for _, l := range lines(fmt.Sprintf("/proc/%d/status", pid)) {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return ""
}
