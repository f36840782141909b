package unshare

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ctrlab/ctrlab/pkg/explain"
	"github.com/ctrlab/ctrlab/pkg/ns"
)

// Config says which namespaces to create and what to run in them. It is
// JSON-serializable: the init receives it over a pipe.
type Config struct {
	// Kinds are the namespaces to create. PID implies Mount (a fresh /proc
	// needs a private mount namespace), as `unshare --mount-proc` does.
	Kinds []ns.Kind `json:"kinds"`
	// Hostname is set inside a new UTS namespace (default "ctrlab").
	Hostname string `json:"hostname,omitempty"`
	// MonotonicOffset and BoottimeOffset shift CLOCK_MONOTONIC and
	// CLOCK_BOOTTIME inside a new time namespace (/proc/PID/timens_offsets).
	MonotonicOffset time.Duration `json:"monotonicOffset,omitempty"`
	BoottimeOffset  time.Duration `json:"boottimeOffset,omitempty"`
	// Args is the command and its arguments. Empty runs ctrlab's built-in
	// view: the processes, hostname and ids as seen inside.
	Args []string `json:"args,omitempty"`
	// Quiet makes the built-in default command print nothing.
	Quiet bool `json:"quiet,omitempty"`
}

// Stdio are the streams the command inherits. Pass *os.File values (for
// example os.Stdin) to give an interactive shell the terminal itself.
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
}

// DefaultHostname is set in a new UTS namespace when Config.Hostname is empty.
const DefaultHostname = "ctrlab"

// Interface is a network interface and whether it is up.
type Interface struct {
	Name string `json:"name"`
	Up   bool   `json:"up"`
}

// View is what one process sees of the kernel: read on the host by the
// parent, and inside the new namespaces by the init before it execs.
type View struct {
	PID             int                `json:"pid"`
	Inodes          map[ns.Kind]uint64 `json:"inodes"`
	ProcPIDs        []int              `json:"procPids,omitempty"`
	Hostname        string             `json:"hostname"`
	RootPropagation string             `json:"rootPropagation"`
	DemoMount       string             `json:"demoMount,omitempty"`
	Interfaces      []Interface        `json:"interfaces"`
	MsgQueueKeys    []int              `json:"msgQueueKeys"`
	UID             int                `json:"uid"`
	GID             int                `json:"gid"`
	UIDMap          string             `json:"uidMap"`
	GIDMap          string             `json:"gidMap"`
	Cgroup          []string           `json:"cgroup"`
	Uptime          string             `json:"uptime"`
	Monotonic       string             `json:"monotonic"`
}

// Outside is what the host sees of the new process after it set itself up.
type Outside struct {
	HostPID         int                `json:"hostPid"`
	NSPid           string             `json:"nspid"`
	Inodes          map[ns.Kind]uint64 `json:"inodes"`
	UID             int                `json:"uid"`
	Cgroup          []string           `json:"cgroup"`
	HostnameAfter   string             `json:"hostnameAfter"`
	DemoMountOnHost bool               `json:"demoMountOnHost"`
	MsgQueueOnHost  bool               `json:"msgQueueOnHost"`
	HostUptimeAfter string             `json:"hostUptimeAfter"`
}

// Result is the evidence gathered for one run and the command's exit status.
type Result struct {
	Kinds      []ns.Kind       `json:"namespaces"`
	Command    []string        `json:"command"`
	Host       View            `json:"host"`
	Inside     View            `json:"inside"`
	Outside    Outside         `json:"outside"`
	DemoMount  string          `json:"demoMountPoint,omitempty"`
	MsgQueue   int             `json:"msgQueueKey,omitempty"`
	Report     *explain.Report `json:"report"`
	ExitCode   int             `json:"exitCode"`
	monotonic  time.Duration
	boottime   time.Duration
	hostname   string
	implicitNS []ns.Kind
	initPID    int // the process Run started (with time, the parent of HostPID)
}

// Option tunes Run.
type Option func(*options)

type options struct {
	ready func(*Result) error
}

// WithReady calls fn once the evidence is complete and before the command
// starts, so a caller can print the report ahead of the command's output.
// An error from fn stops the run (the init is killed, nothing is left).
func WithReady(fn func(*Result) error) Option {
	return func(o *options) {
		if fn != nil {
			o.ready = fn
		}
	}
}

// Normalize returns the kinds Run will create: sorted in display order, with
// Mount added when PID is present. The second value lists kinds added.
func Normalize(kinds []ns.Kind) (all, implied []ns.Kind) {
	seen := map[ns.Kind]bool{}
	for _, k := range kinds {
		seen[k] = true
	}
	if seen[ns.PID] && !seen[ns.Mount] {
		seen[ns.Mount] = true
		implied = append(implied, ns.Mount)
	}
	for _, k := range ns.All {
		if seen[k] {
			all = append(all, k)
		}
	}
	return all, implied
}

// Equivalent returns the util-linux command line doing the same step.
func Equivalent(cfg Config) string {
	kinds, _ := Normalize(cfg.Kinds)
	has := map[ns.Kind]bool{}
	for _, k := range kinds {
		has[k] = true
	}
	parts := []string{"unshare"}
	for _, k := range kinds {
		parts = append(parts, k.UnshareOption())
		if k == ns.PID {
			parts = append(parts, "--mount-proc")
		}
	}
	if has[ns.Time] {
		parts = append(parts, fmt.Sprintf("--monotonic %d --boottime %d",
			int64(cfg.MonotonicOffset/time.Second), int64(cfg.BoottimeOffset/time.Second)))
	}
	cmd := shellJoin(cfg.Args)
	if len(cfg.Args) == 0 {
		cmd = "ps" // ctrlab's built-in view lists the processes inside
	}
	if has[ns.UTS] {
		h := cfg.Hostname
		if h == "" {
			h = DefaultHostname
		}
		parts = append(parts, "sh -c "+shellQuote("hostname "+shellQuote(h)+" && exec "+cmd))
	} else {
		parts = append(parts, cmd)
	}
	return strings.Join(parts, " ")
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r == '/' || r == '=' || r == ':' || r == ',' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func nsID(k ns.Kind, ino uint64) string {
	if ino == 0 {
		return "-"
	}
	return ns.ID{Kind: k, Inode: ino}.String()
}

func ifaceString(ifs []Interface) string {
	var s []string
	for _, i := range ifs {
		st := "DOWN"
		if i.Up {
			st = "UP"
		}
		s = append(s, i.Name+" "+st)
	}
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, ", ")
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// cgroupPair picks the line of /proc/PID/cgroup that best shows a cgroup
// namespace: the first hierarchy whose host path is not "/", else "0::".
func cgroupPair(host, inside []string) (name, before, after string) {
	split := func(l string) (string, string) {
		p := strings.SplitN(l, ":", 3)
		if len(p) != 3 {
			return l, ""
		}
		h := p[1]
		if h == "" {
			h = "0::"
		}
		return h, p[2]
	}
	in := map[string]string{}
	for _, l := range inside {
		h, p := split(l)
		in[h] = p
	}
	pick := -1
	for i, l := range host {
		if _, p := split(l); p != "/" && pick < 0 {
			pick = i
		}
	}
	if pick < 0 {
		for i, l := range host {
			if h, _ := split(l); h == "0::" {
				pick = i
			}
		}
	}
	if pick < 0 {
		if len(host) == 0 {
			return "cgroup", "-", "-"
		}
		pick = 0
	}
	h, p := split(host[pick])
	return h, p, in[h]
}

// buildReport turns the evidence into the before/after view.
func buildReport(r *Result) *explain.Report {
	what := shellJoin(r.Command)
	if len(r.Command) == 0 {
		what = "ctrlab's built-in view (ps; id)"
	}
	rep := &explain.Report{Title: "unshare: " + kindNames(r.Kinds) + " — new namespaces for " + what}
	has := map[ns.Kind]bool{}
	for _, k := range r.Kinds {
		has[k] = true
	}
	for _, k := range ns.All {
		if _, ok := r.Host.Inodes[k]; !ok {
			continue
		}
		rep.Add(k.ProcName()+" namespace", nsID(k, r.Host.Inodes[k]), nsID(k, r.Outside.Inodes[k]))
	}
	h, in, out := r.Host, r.Inside, r.Outside
	if has[ns.PID] {
		rep.Add("pid: PID of the process", strconv.Itoa(out.HostPID), strconv.Itoa(in.PID))
		rep.Add("pid: PIDs in /proc", fmt.Sprintf("%d processes", len(h.ProcPIDs)), fmt.Sprintf("%d: %v", len(in.ProcPIDs), in.ProcPIDs))
	}
	if has[ns.UTS] {
		rep.Add("uts: hostname", h.Hostname, in.Hostname)
	}
	if has[ns.Mount] {
		rep.Add("mnt: propagation of /", h.RootPropagation, in.RootPropagation)
		onHost := "absent"
		if out.DemoMountOnHost {
			onHost = "PRESENT (leaked!)"
		}
		rep.Add("mnt: tmpfs on "+r.DemoMount, onHost, "mounted")
	}
	if has[ns.Net] {
		rep.Add("net: interfaces", ifaceString(h.Interfaces), ifaceString(in.Interfaces))
	}
	if has[ns.IPC] {
		onHost := "absent"
		if out.MsgQueueOnHost {
			onHost = "PRESENT"
		}
		inside := "absent"
		if containsInt(in.MsgQueueKeys, r.MsgQueue) {
			inside = "present"
		}
		rep.Add(fmt.Sprintf("ipc: SysV msg queue key 0x%08x", r.MsgQueue), onHost, inside)
	}
	if has[ns.User] {
		rep.Add("user: uid_map", h.UIDMap, in.UIDMap)
		rep.Add("user: gid_map", h.GIDMap, in.GIDMap)
		rep.Add("user: uid", strconv.Itoa(out.UID), strconv.Itoa(in.UID))
	}
	if has[ns.Cgroup] {
		name, before, after := cgroupPair(out.Cgroup, in.Cgroup)
		rep.Add("cgroup: /proc/PID/cgroup ("+name+")", before, after)
	}
	if has[ns.Time] {
		rep.Add("time: /proc/uptime (CLOCK_BOOTTIME s)", h.Uptime, in.Uptime)
		rep.Add("time: CLOCK_MONOTONIC (s)", h.Monotonic, in.Monotonic)
	}

	for _, k := range r.implicitNS {
		rep.Note(fmt.Sprintf("%s was added: pid needs a private mount namespace to mount a fresh /proc (like --mount-proc)", k))
	}
	if has[ns.PID] {
		rep.Note(fmt.Sprintf("the host sees the process as PID %d, inside it is PID %d (NSpid: %s)", out.HostPID, in.PID, out.NSPid))
	}
	if has[ns.UTS] {
		rep.Note(fmt.Sprintf("sethostname(%q) inside; the host's hostname is still %q", r.hostname, out.HostnameAfter))
	}
	if has[ns.Mount] {
		rep.Note("mount(\"\", \"/\", MS_REC|MS_PRIVATE) inside, then a tmpfs: the host's /proc/self/mountinfo does not list it")
	}
	if has[ns.Time] {
		rep.Note(fmt.Sprintf("time offsets written to /proc/self/timens_offsets before any process entered: monotonic %s, boottime %s",
			r.monotonic, r.boottime))
	}
	rep.Note("namespaces kept by the host: " + keptNames(r.Host.Inodes, r.Outside.Inodes))
	return rep
}

func kindNames(kinds []ns.Kind) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, " ")
}

func keptNames(host, child map[ns.Kind]uint64) string {
	var s []string
	for k, v := range host {
		if child[k] == v {
			s = append(s, k.ProcName())
		}
	}
	sort.Strings(s)
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, " ")
}

// secNsec formats d as timens_offsets wants it: seconds and nanoseconds,
// nanoseconds never negative.
func secNsec(d time.Duration) string {
	sec := int64(d / time.Second)
	nsec := int64(d % time.Second)
	if nsec < 0 {
		sec--
		nsec += int64(time.Second)
	}
	return fmt.Sprintf("%d %d", sec, nsec)
}
