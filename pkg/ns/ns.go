package ns

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Kind is a namespace kind, named as on ctrlab's command line.
type Kind string

// The eight namespace kinds, in the order ctrlab shows them.
const (
	Mount  Kind = "mount"
	PID    Kind = "pid"
	Net    Kind = "net"
	IPC    Kind = "ipc"
	UTS    Kind = "uts"
	User   Kind = "user"
	Cgroup Kind = "cgroup"
	Time   Kind = "time"
)

// All lists every kind in display order.
var All = []Kind{Mount, PID, Net, IPC, UTS, User, Cgroup, Time}

// Clone flag values (linux/sched.h); duplicated here so the package builds
// on every OS for `go vet` on a macOS Vagrant host.
const (
	cloneNewNS     = 0x00020000
	cloneNewCgroup = 0x02000000
	cloneNewUTS    = 0x04000000
	cloneNewIPC    = 0x08000000
	cloneNewUser   = 0x10000000
	cloneNewPID    = 0x20000000
	cloneNewNet    = 0x40000000
	cloneNewTime   = 0x00000080
)

var info = map[Kind]struct {
	flag  uintptr
	proc  string // file under /proc/PID/ns
	lsns  string // type name lsns prints
	flagN string
	util  string // util-linux unshare option
}{
	Mount:  {cloneNewNS, "mnt", "mnt", "CLONE_NEWNS", "--mount"},
	PID:    {cloneNewPID, "pid", "pid", "CLONE_NEWPID", "--pid --fork"},
	Net:    {cloneNewNet, "net", "net", "CLONE_NEWNET", "--net"},
	IPC:    {cloneNewIPC, "ipc", "ipc", "CLONE_NEWIPC", "--ipc"},
	UTS:    {cloneNewUTS, "uts", "uts", "CLONE_NEWUTS", "--uts"},
	User:   {cloneNewUser, "user", "user", "CLONE_NEWUSER", "--user --map-root-user"},
	Cgroup: {cloneNewCgroup, "cgroup", "cgroup", "CLONE_NEWCGROUP", "--cgroup"},
	Time:   {cloneNewTime, "time", "time", "CLONE_NEWTIME", "--time"},
}

// aliases accepted on the command line besides the canonical names.
var aliases = map[string]Kind{"mnt": Mount, "network": Net, "hostname": UTS}

// ErrUnknownKind is returned by Parse for a name that is not a namespace kind.
var ErrUnknownKind = errors.New("unknown namespace kind")

// Parse turns a name (canonical, /proc file name, or alias) into a Kind.
func Parse(s string) (Kind, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if _, ok := info[Kind(s)]; ok {
		return Kind(s), nil
	}
	if k, ok := aliases[s]; ok {
		return k, nil
	}
	return "", fmt.Errorf("%w %q (valid: %s)", ErrUnknownKind, s, ValidNames())
}

// ParseList parses names, removing duplicates and returning them in display order.
func ParseList(names []string) ([]Kind, error) {
	seen := map[Kind]bool{}
	for _, n := range names {
		for _, part := range strings.Split(n, ",") {
			if part == "" {
				continue
			}
			k, err := Parse(part)
			if err != nil {
				return nil, err
			}
			seen[k] = true
		}
	}
	var out []Kind
	for _, k := range All {
		if seen[k] {
			out = append(out, k)
		}
	}
	return out, nil
}

// ValidNames is the list of valid kinds for error messages and help.
func ValidNames() string {
	s := make([]string, len(All))
	for i, k := range All {
		s[i] = string(k)
	}
	return strings.Join(s, " ")
}

// CloneFlag is the CLONE_NEW* flag that creates a namespace of this kind.
func (k Kind) CloneFlag() uintptr { return info[k].flag }

// FlagName is the flag's C name, e.g. CLONE_NEWPID.
func (k Kind) FlagName() string { return info[k].flagN }

// ProcName is the file name under /proc/PID/ns (mnt for Mount).
func (k Kind) ProcName() string { return info[k].proc }

// LsnsType is the TYPE column lsns prints for this kind.
func (k Kind) LsnsType() string { return info[k].lsns }

// UnshareOption is the util-linux unshare(1) option for this kind.
func (k Kind) UnshareOption() string { return info[k].util }

// Flags ORs the clone flags of kinds.
func Flags(kinds []Kind) uintptr {
	var f uintptr
	for _, k := range kinds {
		f |= k.CloneFlag()
	}
	return f
}

// FlagString renders clone flags as CLONE_NEWNS|CLONE_NEWPID, sorted.
func FlagString(flags uintptr) string {
	var names []string
	for _, k := range All {
		if flags&k.CloneFlag() != 0 {
			names = append(names, k.FlagName())
		}
	}
	sort.Strings(names)
	return strings.Join(names, "|")
}
