package ns

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ID identifies a namespace as readlink shows it: "pid:[4026531836]".
type ID struct {
	Kind  Kind   `json:"kind"`
	Inode uint64 `json:"inode"`
}

func (id ID) String() string { return fmt.Sprintf("%s:[%d]", id.Kind.ProcName(), id.Inode) }

// Path is /proc/PID/ns/KIND; pid "self" or a number.
func Path(pid string, k Kind) string { return "/proc/" + pid + "/ns/" + k.ProcName() }

// Inode reads the namespace inode of process pid ("self" or a number), the
// number `readlink /proc/PID/ns/KIND` prints in brackets.
func Inode(pid string, k Kind) (uint64, error) {
	link, err := os.Readlink(Path(pid, k))
	if err != nil {
		return 0, fmt.Errorf("reading %s namespace of %s: %w", k, pid, err)
	}
	return ParseLink(link)
}

// ParseLink parses a /proc/PID/ns link target such as "net:[4026531840]".
func ParseLink(link string) (uint64, error) {
	i, j := strings.IndexByte(link, '['), strings.IndexByte(link, ']')
	if i < 0 || j < i {
		return 0, fmt.Errorf("parsing namespace link %q: no [inode]", link)
	}
	n, err := strconv.ParseUint(link[i+1:j], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing namespace link %q: %w", link, err)
	}
	return n, nil
}

// Inodes reads every namespace kind the kernel exposes for pid. Kinds the
// kernel lacks (time before 5.6, cgroup before 4.6) are absent from the map.
func Inodes(pid string) (map[Kind]uint64, error) {
	out := map[Kind]uint64{}
	for _, k := range All {
		n, err := Inode(pid, k)
		if err != nil {
			if os.IsNotExist(unwrapPath(err)) {
				continue
			}
			return nil, err
		}
		out[k] = n
	}
	return out, nil
}

func unwrapPath(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		if pe, ok := err.(*os.PathError); ok {
			return pe
		}
		err = u.Unwrap()
	}
}

// HostPID names the process whose namespaces count as "the host's": PID 1,
// or, where PID 1 cannot be read even by root (a protected init, as on some
// VMs), kthreadd, PID 2, which always lives in the initial namespaces.
// It returns an error when neither can be read (not root, or inside a PID
// namespace that hides both).
func HostPID() (string, error) {
	_, err := os.Readlink(Path("1", UTS))
	if err == nil {
		return "1", nil
	}
	if comm, cerr := os.ReadFile("/proc/2/comm"); cerr == nil && strings.TrimSpace(string(comm)) == "kthreadd" {
		if _, err2 := os.Readlink(Path("2", UTS)); err2 == nil {
			return "2", nil
		}
	}
	return "", fmt.Errorf("reading the host's namespaces (PID 1): %w", err)
}
