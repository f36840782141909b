package inspect

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/ctrlab/ctrlab/pkg/ns"
)

// Snapshot reads the kernel view of process pid ("self" or a number).
//
// It fails only when the process cannot be read at all (ErrNoProcess,
// ErrBadPID, or no permission to read /proc/PID/status). A part that needs
// more privilege than the caller has (another user's namespaces, the
// hostname or interfaces of a process in other namespaces without root) is
// left empty and named in Process.Errors.
//
// The hostname of a process in another UTS namespace cannot be read from
// /proc (/proc/sys/kernel/hostname answers for the reader's UTS namespace,
// whichever /proc it is read through), so Snapshot joins the target's UTS
// namespace with [setns(2)] on a locked OS thread, calls uname(2), and
// joins its own again. Equivalent to: `nsenter -t PID -u hostname`.
// Interfaces are dumped over a netlink socket opened inside the target's
// network namespace. Equivalent to: `nsenter -t PID -n ip addr`.
//
// [setns(2)]: https://man7.org/linux/man-pages/man2/setns.2.html
func Snapshot(pid string, opts ...Option) (*Process, error) {
	o := defaults(opts)
	if err := CheckPID(pid); err != nil {
		return nil, err
	}
	st, err := ReadStatus(pid)
	if err != nil {
		return nil, err
	}
	p := &Process{
		Command: st.Name, NSPids: st.NSPids, UIDs: st.UIDs, GIDs: st.GIDs, Groups: st.Groups,
		Capabilities: st.Capabilities, NoNewPrivs: st.NoNewPrivs,
		Seccomp: st.Seccomp, SeccompFilters: st.SeccompFilters,
		UIDMap: []IDMap{}, GIDMap: []IDMap{}, Cgroups: []Cgroup{}, Links: []Link{},
		Namespaces: []Namespace{},
	}
	if pid == "self" {
		p.PID = os.Getpid()
	} else {
		p.PID, _ = strconv.Atoi(pid)
	}
	soft := func(err error) {
		if err != nil {
			p.Errors = append(p.Errors, err.Error())
		}
	}

	nss, err := ns.Inodes(pid)
	soft(err)
	host, hostPID, herr := hostInodes(o.hostPID)
	soft(herr)
	p.HostRefPID = hostPID
	for _, k := range ns.All {
		ino, ok := nss[k]
		if !ok {
			continue
		}
		n := Namespace{Kind: k, Inode: ino, HostInode: host[k]}
		n.SharedWithHost = n.HostInode != 0 && n.HostInode == ino
		p.Namespaces = append(p.Namespaces, n)
	}

	p.UIDMap, p.GIDMap, err = ReadIDMaps(pid)
	soft(err)
	p.Hostname, err = Hostname(pid)
	soft(err)
	p.Root, err = readLink(pid, "root")
	soft(err)
	p.Cwd, err = readLink(pid, "cwd")
	soft(err)
	if cg, err := ReadCgroups(pid); err == nil {
		p.Cgroups = cg
	} else {
		soft(err)
	}
	if m, err := ReadMountinfo(pid); err == nil {
		p.Mounts, p.MountCount = m, len(m)
	} else {
		soft(err)
	}
	if o.links {
		if l, err := Links(pid); err == nil {
			p.Links = l
		} else {
			soft(err)
		}
	}
	if p.UIDMap == nil {
		p.UIDMap = []IDMap{}
	}
	if p.GIDMap == nil {
		p.GIDMap = []IDMap{}
	}
	return p, nil
}

// hostInodes reads the reference namespaces: those of pid (normally 1). If
// they cannot be read (PID 1 protected, or hidden by a PID namespace), it
// falls back to kthreadd, PID 2, which always lives in the initial
// namespaces.
func hostInodes(pid string) (map[ns.Kind]uint64, int, error) {
	m, err := ns.Inodes(pid)
	if err == nil {
		n, _ := strconv.Atoi(pid)
		if pid == "self" {
			n = os.Getpid()
		}
		return m, n, nil
	}
	if ref, rerr := ns.HostPID(); pid == "1" && rerr == nil && ref != "1" {
		if m2, err2 := ns.Inodes(ref); err2 == nil {
			n, _ := strconv.Atoi(ref)
			return m2, n, nil
		}
	}
	return map[ns.Kind]uint64{}, 0, fmt.Errorf("reading host namespaces (PID %s) to compare: %w", pid, err)
}

// Hostname returns the hostname of process pid's UTS namespace. For a
// process in the caller's own UTS namespace that is uname(2); otherwise the
// calling thread joins the target's UTS namespace with setns(2) (needs
// CAP_SYS_ADMIN), reads uname(2), and goes back.
// Equivalent to: `nsenter -t PID -u hostname`.
func Hostname(pid string) (string, error) {
	if err := CheckPID(pid); err != nil {
		return "", err
	}
	runtime.LockOSThread()
	target, err := ns.Inode(pid, ns.UTS)
	if err != nil {
		runtime.UnlockOSThread()
		return "", err
	}
	mine, err := ns.Inode("thread-self", ns.UTS)
	if err != nil {
		runtime.UnlockOSThread()
		return "", err
	}
	if target == mine {
		defer runtime.UnlockOSThread()
		return uname()
	}

	origPath := "/proc/thread-self/ns/uts"
	orig, err := unix.Open(origPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return "", &SyscallError{Op: "open", Target: origPath, Err: err}
	}
	defer unix.Close(orig)
	path := ns.Path(pid, ns.UTS)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return "", &SyscallError{Op: "open", Target: path, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWUTS); err != nil {
		runtime.UnlockOSThread()
		return "", fmt.Errorf("reading hostname of PID %s: %w", pid,
			&SyscallError{Op: "setns", Target: path, Flags: "CLONE_NEWUTS", Err: err})
	}
	name, nerr := uname()
	if err := unix.Setns(orig, unix.CLONE_NEWUTS); err != nil {
		// Leave the thread locked: the runtime kills it when this
		// goroutine ends, so no other goroutine runs in the wrong namespace.
		return "", &SyscallError{Op: "setns", Target: origPath, Flags: "CLONE_NEWUTS", Err: err}
	}
	runtime.UnlockOSThread()
	return name, nerr
}

func uname() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", &SyscallError{Op: "uname", Err: err}
	}
	return unix.ByteSliceToString(u.Nodename[:]), nil
}

// Links lists the network interfaces in the network namespace of process
// pid, with state, MTU, MAC and addresses. For a process in the caller's
// own network namespace it uses an ordinary netlink socket; otherwise it
// opens one inside the target's namespace (needs CAP_SYS_ADMIN).
// Equivalent to: `nsenter -t PID -n ip -d addr`.
func Links(pid string) ([]Link, error) {
	if err := CheckPID(pid); err != nil {
		return nil, err
	}
	target, err := ns.Inode(pid, ns.Net)
	if err != nil {
		return nil, err
	}
	mine, err := ns.Inode("self", ns.Net)
	if err != nil {
		return nil, err
	}
	var h *netlink.Handle
	if target == mine {
		h, err = netlink.NewHandle()
	} else {
		var nsh netns.NsHandle
		nsh, err = netns.GetFromPath(ns.Path(pid, ns.Net))
		if err != nil {
			return nil, &SyscallError{Op: "open", Target: ns.Path(pid, ns.Net), Err: err}
		}
		defer nsh.Close()
		h, err = netlink.NewHandleAt(nsh)
	}
	if err != nil {
		return nil, fmt.Errorf("opening a netlink socket in the net namespace of PID %s: %w", pid, err)
	}
	defer h.Close()
	return LinksIn(h)
}

// LinksIn lists the interfaces a netlink handle sees (a handle made with
// netlink.NewHandleAt for a namespace of yours).
// Equivalent to: `ip -d addr show`.
func LinksIn(h *netlink.Handle) ([]Link, error) {
	links, err := retryDump(h.LinkList)
	if err != nil {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return h.AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("listing addresses: %w", err)
	}
	byIndex := map[int][]Address{}
	for _, a := range addrs {
		if a.IPNet == nil {
			continue
		}
		fam := "inet6"
		if a.IP.To4() != nil {
			fam = "inet"
		}
		byIndex[a.LinkIndex] = append(byIndex[a.LinkIndex],
			Address{CIDR: a.IPNet.String(), Family: fam, Scope: scopeName(a.Scope)})
	}
	out := make([]Link, 0, len(links))
	for _, l := range links {
		at := l.Attrs()
		lk := Link{
			Index: at.Index, Name: at.Name, Type: l.Type(), Up: at.Flags&net.FlagUp != 0,
			State: at.OperState.String(), MTU: at.MTU, Master: at.MasterIndex,
			Addresses: byIndex[at.Index],
		}
		if len(at.HardwareAddr) > 0 {
			lk.MAC = at.HardwareAddr.String()
		}
		if lk.Addresses == nil {
			lk.Addresses = []Address{}
		}
		out = append(out, lk)
	}
	return out, nil
}

// retryDump repeats a netlink dump the kernel interrupted because the
// table changed mid-dump (other tests add links concurrently).
func retryDump[T any](dump func() ([]T, error)) ([]T, error) {
	var v []T
	var err error
	for i := 0; i < 10; i++ {
		v, err = dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	return v, err
}

// scopeName names an address scope the way `ip addr` does.
func scopeName(s int) string {
	switch s {
	case unix.RT_SCOPE_UNIVERSE:
		return "global"
	case unix.RT_SCOPE_SITE:
		return "site"
	case unix.RT_SCOPE_LINK:
		return "link"
	case unix.RT_SCOPE_HOST:
		return "host"
	case unix.RT_SCOPE_NOWHERE:
		return "nowhere"
	}
	return strconv.Itoa(s)
}
