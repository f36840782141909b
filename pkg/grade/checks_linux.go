package grade

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/ctrlab/ctrlab/pkg/cgroup"
	"github.com/ctrlab/ctrlab/pkg/inspect"
	"github.com/ctrlab/ctrlab/pkg/netsetup"
	"github.com/ctrlab/ctrlab/pkg/ns"
	"github.com/ctrlab/ctrlab/pkg/overlay"
)

type evalFunc func(context.Context, Check) CheckResult

var evaluators = map[string]evalFunc{
	"process":       checkProcess,
	"process-ns":    checkProcessNS,
	"process-pid1":  checkPID1,
	"hostname":      checkHostname,
	"process-root":  checkProcessRoot,
	"pivot-root":    checkPivotRoot,
	"file-in-ns":    checkFileInNS,
	"cgroup":        checkCgroup,
	"cgroup-limit":  checkCgroupLimit,
	"cgroup-member": checkCgroupMember,
	"netns":         checkNetns,
	"link":          checkLink,
	"addr":          checkAddr,
	"route-default": checkRouteDefault,
	"veth-peer":     checkVethPeer,
	"ping":          checkPing,
	"masquerade":    checkMasquerade,
	"sysctl":        checkSysctl,
	"mount":         checkMount,
	"copy-up":       checkCopyUp,
	"whiteout":      checkWhiteout,
	"neigh":         checkNeigh,
	"same-lowers":   checkSameLowers,
}

func pass(expected, found string) CheckResult {
	return CheckResult{Pass: true, Expected: expected, Found: found}
}

func fail(expected, format string, a ...any) CheckResult {
	return CheckResult{Expected: expected, Found: fmt.Sprintf(format, a...)}
}

// FindProcesses returns the PIDs whose command line (arguments joined by
// spaces) is exactly cmdline.
func FindProcesses(cmdline string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || len(b) == 0 {
			continue
		}
		if strings.Join(strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"), " ") == cmdline {
			pids = append(pids, pid)
		}
	}
	return pids
}

// withProcess runs fn for each process matching c.Process and passes if any
// passes; the first failure is reported otherwise.
func withProcess(c Check, expected string, fn func(pid int) CheckResult) CheckResult {
	pids := FindProcesses(c.Process)
	if len(pids) == 0 {
		return fail(expected, "no process with command line %q is running", c.Process)
	}
	var first CheckResult
	for i, pid := range pids {
		r := fn(pid)
		if r.Pass {
			return r
		}
		if i == 0 {
			first = r
		}
	}
	return first
}

func checkProcess(_ context.Context, c Check) CheckResult {
	exp := fmt.Sprintf("a process %q", c.Process)
	return withProcess(c, exp, func(pid int) CheckResult { return pass(exp, fmt.Sprintf("PID %d", pid)) })
}

func checkProcessNS(_ context.Context, c Check) CheckResult {
	exp := fmt.Sprintf("%q in new %s namespaces (inodes differ from the host's)", c.Process, strings.Join(c.Namespaces, "+"))
	return withProcess(c, exp, func(pid int) CheckResult {
		var same []string
		for _, name := range c.Namespaces {
			k, err := ns.Parse(name)
			if err != nil {
				return fail(exp, "%v", err)
			}
			mine, err1 := ns.Inode(strconv.Itoa(pid), k)
			host, err2 := hostInode(k)
			if err1 != nil || err2 != nil {
				return fail(exp, "cannot read %s namespaces: %v %v", k, err1, err2)
			}
			if mine == host {
				same = append(same, fmt.Sprintf("%s:[%d] (the host's)", k.ProcName(), mine))
			}
		}
		if len(same) > 0 {
			return fail(exp, "PID %d still shares %s", pid, strings.Join(same, ", "))
		}
		return pass(exp, fmt.Sprintf("PID %d in new namespaces", pid))
	})
}

func checkPID1(_ context.Context, c Check) CheckResult {
	exp := fmt.Sprintf("%q is PID 1 in its own PID namespace", c.Process)
	return withProcess(c, exp, func(pid int) CheckResult {
		nspid, err := statusField(pid, "NSpid")
		if err != nil {
			return fail(exp, "%v", err)
		}
		f := strings.Fields(nspid)
		if len(f) < 2 || f[len(f)-1] != "1" {
			return fail(exp, "host PID %d has NSpid %q (not PID 1 of a child namespace)", pid, nspid)
		}
		return pass(exp, fmt.Sprintf("host PID %d is PID 1 inside (NSpid %s)", pid, nspid))
	})
}

func statusField(pid int, field string) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// hostInode is the host's namespace of kind k: that of ns.HostPID (PID 1,
// or kthreadd where PID 1 cannot be read), else the grader's own, which runs
// on the host. "thread-self", not "self": /proc/self shows the main thread.
func hostInode(k ns.Kind) (uint64, error) {
	if ref, err := ns.HostPID(); err == nil {
		return ns.Inode(ref, k)
	}
	return ns.Inode("thread-self", k)
}

// inNamespace runs fn on a fresh OS thread that has joined the namespace
// at path. The thread is never returned to the Go scheduler: when the
// goroutine ends, the runtime destroys it, so no other code ever runs in
// the foreign namespace.
func inNamespace(path string, nstype int, unshareFS bool, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // no Unlock: the thread dies with the goroutine
		if unshareFS {
			// setns into a mount namespace needs a thread that does not share
			// its filesystem attributes (root, cwd) with the others.
			if err := unix.Unshare(unix.CLONE_FS); err != nil {
				errc <- fmt.Errorf("unsharing fs attributes: %w", err)
				return
			}
		}
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("opening %s: %w", path, err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, nstype); err != nil {
			errc <- fmt.Errorf("joining %s: %w", path, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// HostnameOf returns the hostname seen inside pid's UTS namespace
// (setns into it on a locked thread, then uname(2)): pkg/inspect's reader.
func HostnameOf(pid int) (string, error) { return inspect.Hostname(strconv.Itoa(pid)) }

func checkHostname(_ context.Context, c Check) CheckResult {
	exp := fmt.Sprintf("hostname %q inside the UTS namespace of %q", c.Value, c.Process)
	return withProcess(c, exp, func(pid int) CheckResult {
		name, err := HostnameOf(pid)
		if err != nil {
			return fail(exp, "%v", err)
		}
		if name != c.Value {
			return fail(exp, "hostname %q inside PID %d's UTS namespace", name, pid)
		}
		return pass(exp, fmt.Sprintf("hostname %q", name))
	})
}

func checkProcessRoot(_ context.Context, c Check) CheckResult {
	exp := fmt.Sprintf("%q has root directory %s", c.Process, c.Path)
	return withProcess(c, exp, func(pid int) CheckResult {
		root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", pid))
		if err != nil {
			return fail(exp, "%v", err)
		}
		if root != c.Path {
			return fail(exp, "root directory %s", root)
		}
		return pass(exp, "root directory "+root)
	})
}

// checkPivotRoot joins the process's mount namespace (which moves the
// thread to the namespace's root) and compares that root with the
// process's own: equal after pivot_root, different after a mere chroot.
func checkPivotRoot(_ context.Context, c Check) CheckResult {
	exp := fmt.Sprintf("%q's root is its mount namespace's root (pivot_root), in a new mount namespace", c.Process)
	return withProcess(c, exp, func(pid int) CheckResult {
		if mine, _ := ns.Inode(strconv.Itoa(pid), ns.Mount); mine == 0 || func() bool { h, _ := hostInode(ns.Mount); return h == mine }() {
			return fail(exp, "PID %d is in the host's mount namespace", pid)
		}
		var procRoot, nsRoot unix.Stat_t
		if err := unix.Stat(fmt.Sprintf("/proc/%d/root/", pid), &procRoot); err != nil {
			return fail(exp, "%v", err)
		}
		err := inNamespace(fmt.Sprintf("/proc/%d/ns/mnt", pid), unix.CLONE_NEWNS, true, func() error {
			return unix.Stat("/", &nsRoot)
		})
		if err != nil {
			return fail(exp, "%v", err)
		}
		if procRoot.Dev != nsRoot.Dev || procRoot.Ino != nsRoot.Ino {
			return fail(exp, "PID %d's root is a directory below its namespace's root (chroot, escapable)", pid)
		}
		return pass(exp, fmt.Sprintf("PID %d's root is its mount namespace's root", pid))
	})
}

func checkFileInNS(_ context.Context, c Check) CheckResult {
	exp := fmt.Sprintf("%s seen inside %q's mount namespace containing %q, and not on the host", c.Path, c.Process, c.Contains)
	if _, err := os.Lstat(c.Path); err == nil {
		return fail(exp, "%s exists on the host too: it must exist only inside", c.Path)
	}
	return withProcess(c, exp, func(pid int) CheckResult {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/root%s", pid, c.Path))
		if err != nil {
			return fail(exp, "inside PID %d: %v", pid, errors.Unwrap(err))
		}
		want := strings.ReplaceAll(c.Contains, "{pid}", strconv.Itoa(pid))
		if !strings.Contains(string(b), want) {
			return fail(exp, "%s inside holds %q", c.Path, firstLine(b))
		}
		return pass(exp, fmt.Sprintf("%s inside PID %d holds %q", c.Path, pid, firstLine(b)))
	})
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return s
}

// cgroup2 reports whether /sys/fs/cgroup is a pure cgroup-v2 mount.
func cgroup2() bool {
	m, err := cgroup.DetectMode()
	return err == nil && m.IsV2()
}

// cgroupDir is the directory of cgroup path for resource (memory, pids,
// cpu) on this host: one tree on v2, one per controller on v1.
func cgroupDir(path, resource string) string {
	if cgroup2() {
		return filepath.Join("/sys/fs/cgroup", path)
	}
	if resource == "" {
		resource = "memory"
	}
	return filepath.Join("/sys/fs/cgroup", resource, path)
}

func isCgroupFS(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && (st.Type == unix.CGROUP2_SUPER_MAGIC || st.Type == unix.CGROUP_SUPER_MAGIC)
}

func checkCgroup(_ context.Context, c Check) CheckResult {
	dir := cgroupDir(c.Cgroup, c.Resource)
	exp := "a cgroup at " + dir
	fi, err := os.Stat(dir)
	if err != nil {
		return fail(exp, "no such directory")
	}
	if !fi.IsDir() || !isCgroupFS(dir) {
		return fail(exp, "%s is not on a cgroup filesystem (a look-alike is not a cgroup)", dir)
	}
	return pass(exp, "cgroup "+dir)
}

// limitFile maps a resource to its limit file on v2 and v1.
func limitFile(resource string) string {
	v2 := cgroup2()
	switch resource {
	case "memory":
		if v2 {
			return "memory.max"
		}
		return "memory.limit_in_bytes"
	case "pids":
		return "pids.max"
	case "cpu":
		if v2 {
			return "cpu.max"
		}
		return "cpu.cfs_quota_us"
	}
	return resource
}

func checkCgroupLimit(ctx context.Context, c Check) CheckResult {
	if c.Process != "" && c.Cgroup == "" {
		exp := fmt.Sprintf("the %s limit of %q's own cgroup = %s", c.Resource, c.Process, c.Value)
		return withProcess(c, exp, func(pid int) CheckResult {
			path, err := cgroupOf(pid, c.Resource)
			if err != nil {
				return fail(exp, "%v", err)
			}
			c2 := c
			c2.Process, c2.Cgroup = "", strings.TrimPrefix(path, "/")
			return checkCgroupLimit(ctx, c2)
		})
	}
	dir := cgroupDir(c.Cgroup, c.Resource)
	file := filepath.Join(dir, limitFile(c.Resource))
	exp := fmt.Sprintf("%s = %s", file, c.Value)
	if !isCgroupFS(dir) {
		return fail(exp, "%s is not a cgroup", dir)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return fail(exp, "%v", err)
	}
	got := strings.TrimSpace(string(b))
	if got != c.Value {
		return fail(exp, "%s = %s", file, got)
	}
	return pass(exp, exp)
}

func checkCgroupMember(_ context.Context, c Check) CheckResult {
	exp := fmt.Sprintf("%q in cgroup /%s (%s)", c.Process, c.Cgroup, c.Resource)
	return withProcess(c, exp, func(pid int) CheckResult {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		if err != nil {
			return fail(exp, "%v", err)
		}
		want := "/" + c.Cgroup
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			f := strings.SplitN(line, ":", 3)
			if len(f) != 3 {
				continue
			}
			v2line := f[0] == "0" && f[1] == ""
			ctrl := false
			for _, x := range strings.Split(f[1], ",") {
				if x == c.Resource {
					ctrl = true
				}
			}
			if (cgroup2() && v2line || !cgroup2() && ctrl) && f[2] == want {
				return pass(exp, fmt.Sprintf("PID %d: %s", pid, line))
			}
		}
		return fail(exp, "PID %d's cgroups: %s", pid, strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "; "))
	})
}

// cgroupOf is pid's cgroup path for resource, from /proc/PID/cgroup: the
// 0:: line on v2, the line naming the controller on v1.
func cgroupOf(pid int, resource string) (string, error) {
	cgs, err := inspect.ReadCgroups(strconv.Itoa(pid))
	if err != nil {
		return "", err
	}
	v2 := cgroup2()
	for _, cg := range cgs {
		if v2 && cg.HierarchyID == 0 {
			return cg.Path, nil
		}
		for _, ctl := range cg.Controllers {
			if !v2 && ctl == resource {
				return cg.Path, nil
			}
		}
	}
	return "", fmt.Errorf("PID %d is in no %s cgroup", pid, resource)
}

func netnsPath(name string) string { return filepath.Join("/run/netns", name) }

func checkNetns(_ context.Context, c Check) CheckResult {
	p := netnsPath(c.Netns)
	exp := "a network namespace named " + c.Netns
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return fail(exp, "no %s", p)
	}
	if st.Type != unix.NSFS_MAGIC {
		return fail(exp, "%s is a plain file, not a namespace", p)
	}
	return pass(exp, p+" is a network namespace")
}

// handle opens a netlink handle in the named netns ("" = this one).
func handle(netnsName string) (*netlink.Handle, error) {
	if netnsName == "" {
		return netlink.NewHandle()
	}
	h, err := netns.GetFromPath(netnsPath(netnsName))
	if err != nil {
		return nil, fmt.Errorf("no network namespace %s", netnsName)
	}
	defer h.Close()
	return netlink.NewHandleAt(h)
}

func where(netnsName string) string {
	if netnsName == "" {
		return "on the host"
	}
	return "in netns " + netnsName
}

func findLink(c Check) (*netlink.Handle, netlink.Link, error) {
	h, err := handle(c.Netns)
	if err != nil {
		return nil, nil, err
	}
	l, err := h.LinkByName(c.Link)
	if err != nil {
		h.Close()
		return nil, nil, fmt.Errorf("no link %s %s", c.Link, where(c.Netns))
	}
	return h, l, nil
}

func checkLink(_ context.Context, c Check) CheckResult {
	exp := fmt.Sprintf("link %s %s", c.Link, where(c.Netns))
	if c.Type != "" {
		exp += " of type " + c.Type
	}
	exp += ", up"
	if c.Master != "" {
		exp += ", enslaved to " + c.Master
	}
	h, l, err := findLink(c)
	if err != nil {
		return fail(exp, "%v", err)
	}
	defer h.Close()
	a := l.Attrs()
	if c.Type != "" && l.Type() != c.Type {
		return fail(exp, "%s is a %s", c.Link, l.Type())
	}
	if a.Flags&net.FlagUp == 0 {
		return fail(exp, "%s is down", c.Link)
	}
	if c.Master != "" {
		m, err := h.LinkByName(c.Master)
		if err != nil || a.MasterIndex != m.Attrs().Index {
			return fail(exp, "%s is not a port of %s", c.Link, c.Master)
		}
	}
	return pass(exp, fmt.Sprintf("%s %s, %s", l.Type(), c.Link, a.OperState))
}

func checkAddr(_ context.Context, c Check) CheckResult {
	exp := fmt.Sprintf("address %s on %s %s", c.CIDR, c.Link, where(c.Netns))
	h, l, err := findLink(c)
	if err != nil {
		return fail(exp, "%v", err)
	}
	defer h.Close()
	addrs, err := h.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return fail(exp, "%v", err)
	}
	var have []string
	for _, a := range addrs {
		if a.IPNet.String() == c.CIDR {
			return pass(exp, "inet "+c.CIDR)
		}
		have = append(have, a.IPNet.String())
	}
	return fail(exp, "%s has addresses [%s]", c.Link, strings.Join(have, " "))
}

func checkRouteDefault(_ context.Context, c Check) CheckResult {
	exp := fmt.Sprintf("default route via %s %s", c.Via, where(c.Netns))
	h, err := handle(c.Netns)
	if err != nil {
		return fail(exp, "%v", err)
	}
	defer h.Close()
	routes, err := h.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fail(exp, "%v", err)
	}
	for _, r := range routes {
		if (r.Dst == nil || r.Dst.String() == "0.0.0.0/0") && r.Gw != nil {
			if r.Gw.String() == c.Via {
				return pass(exp, "default via "+c.Via)
			}
			return fail(exp, "default via %s", r.Gw)
		}
	}
	return fail(exp, "no default route")
}

func checkVethPeer(_ context.Context, c Check) CheckResult {
	exp := fmt.Sprintf("%s %s and %s %s are the two ends of one veth pair", c.Link, where(c.Netns), c.Peer, where(c.PeerNetns))
	h, l, err := findLink(c)
	if err != nil {
		return fail(exp, "%v", err)
	}
	defer h.Close()
	if _, ok := l.(*netlink.Veth); !ok {
		return fail(exp, "%s is a %s, not a veth", c.Link, l.Type())
	}
	// IFLA_LINK of a veth is its peer's ifindex (what `ip link` shows as @ifN).
	peerIdx := l.Attrs().ParentIndex
	h2, p, err := findLink(Check{Netns: c.PeerNetns, Link: c.Peer})
	if err != nil {
		return fail(exp, "%v", err)
	}
	defer h2.Close()
	if p.Attrs().Index != peerIdx {
		return fail(exp, "%s's peer has ifindex %d, %s has %d", c.Link, peerIdx, c.Peer, p.Attrs().Index)
	}
	return pass(exp, fmt.Sprintf("peer ifindex %d = %s", peerIdx, c.Peer))
}

// Ping sends ICMP echo requests to addr from inside the named netns and
// reports whether one was answered (pkg/netsetup's raw-socket ping).
// Equivalent to: `ip netns exec NS ping -c1 ADDR`.
func Ping(ctx context.Context, netnsName, addr string, timeout time.Duration) error {
	dst, err := netip.ParseAddr(addr)
	if err != nil || !dst.Is4() {
		return fmt.Errorf("%q is not an IPv4 address", addr)
	}
	h, err := netns.GetFromPath(netnsPath(netnsName))
	if err != nil {
		return fmt.Errorf("no network namespace %s", netnsName)
	}
	defer h.Close()
	if _, err := netsetup.Ping(ctx, h, dst, timeout); err != nil {
		return fmt.Errorf("no echo reply from %s: %w", addr, err)
	}
	return nil
}

func checkPing(ctx context.Context, c Check) CheckResult {
	exp := fmt.Sprintf("an ICMP echo from netns %s to %s is answered", c.Netns, c.To)
	if err := Ping(ctx, c.Netns, c.To, 2*time.Second); err != nil {
		return fail(exp, "%v", err)
	}
	return pass(exp, "echo reply from "+c.To)
}

func checkMasquerade(ctx context.Context, c Check) CheckResult {
	exp := fmt.Sprintf("a MASQUERADE rule for %s in the nat table's POSTROUTING chain", c.CIDR)
	out, err := exec.CommandContext(ctx, "iptables", "-w", "-t", "nat", "-S", "POSTROUTING").Output()
	if err != nil {
		return fail(exp, "reading the nat table: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		src, masq := false, false
		for i, w := range f {
			if w == "-s" && i+1 < len(f) && f[i+1] == c.CIDR {
				src = true
			}
			if w == "MASQUERADE" {
				masq = true
			}
		}
		if src && masq {
			return pass(exp, sc.Text())
		}
	}
	return fail(exp, "no such rule (%d rules in nat POSTROUTING)", bytes.Count(out, []byte("-A ")))
}

func checkSysctl(_ context.Context, c Check) CheckResult {
	p := filepath.Join("/proc/sys", strings.ReplaceAll(c.Path, ".", "/"))
	exp := fmt.Sprintf("%s = %s", c.Path, c.Value)
	b, err := os.ReadFile(p)
	if err != nil {
		return fail(exp, "%v", err)
	}
	if got := strings.TrimSpace(string(b)); got != c.Value {
		return fail(exp, "%s = %s", c.Path, got)
	}
	return pass(exp, exp)
}

// mountAt returns fstype and all options (mount + super) of the topmost
// mount at path, from /proc/self/mountinfo.
func mountAt(path string) (fstype string, opts []string, ok bool) {
	mounts, err := inspect.ReadMountinfo("self")
	if err != nil {
		return "", nil, false
	}
	for _, m := range mounts {
		if m.MountPoint == path {
			fstype, opts, ok = m.FSType, append(strings.Split(m.Options, ","), strings.Split(m.SuperOptions, ",")...), true
		}
	}
	return fstype, opts, ok
}

func checkMount(_ context.Context, c Check) CheckResult {
	exp := fmt.Sprintf("a %s mount at %s with %s", c.FSType, c.Path, strings.Join(c.Options, ","))
	fstype, opts, ok := mountAt(c.Path)
	if !ok {
		return fail(exp, "nothing is mounted at %s", c.Path)
	}
	if fstype != c.FSType {
		return fail(exp, "a %s mount", fstype)
	}
	have := map[string]bool{}
	for _, o := range opts {
		have[o] = true
	}
	for _, want := range c.Options {
		if !have[want] {
			return fail(exp, "options %s", strings.Join(opts, ","))
		}
	}
	return pass(exp, fmt.Sprintf("%s at %s", fstype, c.Path))
}

func sha(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))[:12], nil
}

func checkCopyUp(_ context.Context, c Check) CheckResult {
	up, low := filepath.Join(c.Upper, c.File), filepath.Join(c.Lower, c.File)
	exp := fmt.Sprintf("%s copied up: a full copy in %s that differs from the lower, and the lower file unchanged (sha256 %s…)", c.File, c.Upper, c.Value)
	fi, err := os.Lstat(up)
	if err != nil || !fi.Mode().IsRegular() {
		return fail(exp, "no regular file %s in upper", c.File)
	}
	lowSum, err := sha(low)
	if err != nil {
		return fail(exp, "lower file: %v", err)
	}
	if lowSum != c.Value {
		return fail(exp, "the lower file changed (sha256 %s…): write through the merged view, not the layer", lowSum)
	}
	upSum, _ := sha(up)
	if upSum == lowSum {
		return fail(exp, "upper copy is identical to lower: modify the file through the merged view")
	}
	return pass(exp, fmt.Sprintf("upper %s… / lower %s…", upSum, lowSum))
}

func checkWhiteout(_ context.Context, c Check) CheckResult {
	up := filepath.Join(c.Upper, c.File)
	exp := fmt.Sprintf("a whiteout for %s in %s, and %s gone from %s", c.File, c.Upper, c.File, c.Merged)
	if !overlay.IsWhiteout(up) {
		return fail(exp, "no whiteout at %s", up)
	}
	if typ, _, ok := mountAt(c.Merged); !ok || typ != "overlay" {
		return fail(exp, "%s is not an overlay mount", c.Merged)
	}
	if _, err := os.Lstat(filepath.Join(c.Merged, c.File)); err == nil {
		return fail(exp, "%s still visible in the merged view", c.File)
	}
	return pass(exp, "whiteout (char 0/0) "+up)
}

// eth0Addr is the first IPv4 address of eth0 inside pid's network namespace.
func eth0Addr(pid int) (net.IP, error) {
	h, err := netns.GetFromPid(pid)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	nh, err := netlink.NewHandleAt(h)
	if err != nil {
		return nil, err
	}
	defer nh.Close()
	l, err := nh.LinkByName("eth0")
	if err != nil {
		return nil, fmt.Errorf("no eth0 in PID %d's network namespace", pid)
	}
	addrs, err := nh.AddrList(l, netlink.FAMILY_V4)
	if err != nil || len(addrs) == 0 {
		return nil, fmt.Errorf("eth0 of PID %d has no IPv4 address", pid)
	}
	return addrs[0].IP, nil
}

// checkNeigh passes when the host has resolved the container's address to
// a MAC: only traffic between the host and the container (a ping from the
// host) puts it in the host's neighbour table.
func checkNeigh(_ context.Context, c Check) CheckResult {
	exp := fmt.Sprintf("the host's neighbour table resolves %q's eth0 address (the host talked to it)", c.Process)
	return withProcess(c, exp, func(pid int) CheckResult {
		ip, err := eth0Addr(pid)
		if err != nil {
			return fail(exp, "%v", err)
		}
		neighs, err := netlink.NeighList(0, netlink.FAMILY_V4)
		if err != nil {
			return fail(exp, "%v", err)
		}
		for _, n := range neighs {
			if n.IP.Equal(ip) && len(n.HardwareAddr) > 0 && n.State&(netlink.NUD_FAILED|netlink.NUD_INCOMPLETE) == 0 {
				return pass(exp, fmt.Sprintf("%s lladdr %s", ip, n.HardwareAddr))
			}
		}
		return fail(exp, "no neighbour entry for %s on the host", ip)
	})
}

// rootLowers are the lower layers of the overlay mounted at pid's "/".
func rootLowers(pid int) ([]string, error) {
	mounts, err := inspect.ReadMountinfo(strconv.Itoa(pid))
	if err != nil {
		return nil, err
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		if m := mounts[i]; m.MountPoint == "/" {
			if m.FSType != "overlay" {
				return nil, fmt.Errorf("PID %d's root is %s, not an overlay", pid, m.FSType)
			}
			spec, err := overlay.SpecFromSuperOptions(m.SuperOptions)
			if err != nil {
				return nil, err
			}
			return spec.Lowers, nil
		}
	}
	return nil, fmt.Errorf("PID %d has no root mount", pid)
}

func checkSameLowers(_ context.Context, c Check) CheckResult {
	exp := fmt.Sprintf("an overlay at %s over exactly the image layers of %q", c.Path, c.Process)
	return withProcess(c, exp, func(pid int) CheckResult {
		want, err := rootLowers(pid)
		if err != nil {
			return fail(exp, "%v", err)
		}
		mounts, _ := inspect.ReadMountinfo("self")
		for i := len(mounts) - 1; i >= 0; i-- {
			m := mounts[i]
			if m.MountPoint != c.Path {
				continue
			}
			if m.FSType != "overlay" {
				return fail(exp, "a %s mount at %s", m.FSType, c.Path)
			}
			spec, err := overlay.SpecFromSuperOptions(m.SuperOptions)
			if err != nil {
				return fail(exp, "%v", err)
			}
			// overlayfs needs two lowers without an upper: an extra empty
			// directory below the image's layers changes nothing it shows.
			got := spec.Lowers
			for len(got) > len(want) && emptyDir(got[len(got)-1]) {
				got = got[:len(got)-1]
			}
			if strings.Join(got, ":") != strings.Join(want, ":") {
				return fail(exp, "lowerdir %s, the container's is %s", strings.Join(spec.Lowers, ":"), strings.Join(want, ":"))
			}
			return pass(exp, fmt.Sprintf("%d shared layers", len(want)))
		}
		return fail(exp, "nothing is mounted at %s", c.Path)
	})
}

func emptyDir(dir string) bool {
	ents, err := os.ReadDir(dir)
	return err == nil && len(ents) == 0
}
