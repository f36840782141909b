package inspect

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ctrlab/ctrlab/pkg/ns"
	"github.com/ctrlab/ctrlab/pkg/reexec"
	"github.com/ctrlab/ctrlab/pkg/testutil"
)

const childHostname = "ctrlabinspect"

func init() {
	// A child that sets its hostname, says "ready", and waits for stdin to close.
	reexec.Register("ctrlab-inspect-test-child", func() {
		if err := unix.Sethostname([]byte(childHostname)); err != nil {
			os.Stderr.WriteString("sethostname: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("ready\n")
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	})
}

func TestMain(m *testing.M) {
	if reexec.Init() {
		return
	}
	os.Exit(m.Run())
}

// lsnsInodes runs `lsns -J -p PID` (util-linux) and returns type -> inode.
func lsnsInodes(t *testing.T, pid int) map[string]uint64 {
	t.Helper()
	if _, err := exec.LookPath("lsns"); err != nil {
		t.Skip("lsns (util-linux) not installed")
	}
	out, err := exec.Command("lsns", "-J", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		t.Fatalf("lsns -J -p %d: %v", pid, err)
	}
	var doc struct {
		Namespaces []struct {
			NS   json.Number `json:"ns"` // a number, or a string in older util-linux
			Type string      `json:"type"`
		} `json:"namespaces"`
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("parsing lsns JSON %s: %v", out, err)
	}
	m := map[string]uint64{}
	for _, n := range doc.Namespaces {
		v, err := strconv.ParseUint(n.NS.String(), 10, 64)
		if err != nil {
			t.Fatalf("lsns ns %q: %v", n.NS, err)
		}
		m[n.Type] = v
	}
	if len(m) == 0 {
		t.Fatalf("lsns -J -p %d listed no namespaces: %s", pid, out)
	}
	return m
}

func assertMatchesKernel(t *testing.T, p *Process) {
	t.Helper()
	ls := lsnsInodes(t, p.PID)
	if len(p.Namespaces) != len(ls) {
		t.Errorf("snapshot has %d namespaces, lsns %d: %v", len(p.Namespaces), len(ls), ls)
	}
	for _, n := range p.Namespaces {
		link, err := os.Readlink("/proc/" + strconv.Itoa(p.PID) + "/ns/" + n.Kind.ProcName())
		if err != nil {
			t.Fatal(err)
		}
		if want := n.Kind.ProcName() + ":[" + strconv.FormatUint(n.Inode, 10) + "]"; link != want {
			t.Errorf("%s: readlink says %s, snapshot %s", n.Kind, link, want)
		}
		if got, ok := ls[n.Kind.LsnsType()]; !ok || got != n.Inode {
			t.Errorf("%s: lsns says %d (listed %v), snapshot %d", n.Kind, got, ok, n.Inode)
		}
	}
}

func TestSnapshotSelfMatchesLsns(t *testing.T) {
	testutil.RequireRoot(t)
	p, err := Snapshot("self")
	if err != nil {
		t.Fatal(err)
	}
	if p.PID != os.Getpid() || len(p.Namespaces) < 7 {
		t.Fatalf("pid %d namespaces %d", p.PID, len(p.Namespaces))
	}
	assertMatchesKernel(t, p)
	if p.HostRefPID == 0 {
		t.Fatalf("no host reference: errors %v", p.Errors)
	}
	// The test runs in the host's namespaces: every one is shared.
	for _, n := range p.Namespaces {
		if !n.SharedWithHost {
			t.Errorf("%s not shared with host PID %d: %d vs %d", n.Kind, p.HostRefPID, n.Inode, n.HostInode)
		}
	}
	var u unix.Utsname
	_ = unix.Uname(&u)
	if p.Hostname != unix.ByteSliceToString(u.Nodename[:]) {
		t.Errorf("hostname %q", p.Hostname)
	}
	if p.MountCount == 0 || p.MountCount != len(p.Mounts) || p.Root != "/" {
		t.Errorf("mount count %d (%d entries), root %q", p.MountCount, len(p.Mounts), p.Root)
	}
	hasRoot := false
	for _, m := range p.Mounts {
		hasRoot = hasRoot || m.MountPoint == "/"
	}
	if !hasRoot {
		t.Error("no mount at / in the snapshot")
	}
	if !contains(p.Capabilities.Effective.Names, "CAP_SYS_ADMIN") {
		t.Errorf("root without CAP_SYS_ADMIN? %v", p.Capabilities.Effective.Names)
	}
	if len(p.Errors) != 0 {
		t.Errorf("errors reading self as root: %v", p.Errors)
	}
}

// startChild starts a re-exec child in new user, net and UTS namespaces and
// returns its PID once it is ready. The child exits at cleanup.
func startChild(t *testing.T) int {
	t.Helper()
	cmd := reexec.Command("ctrlab-inspect-test-child")
	cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET | syscall.CLONE_NEWUTS
	cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}}
	cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}}
	// Become uid 0 inside so exec keeps the full capability set.
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting child in new namespaces: %v", err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("child did not get ready: %q %v", line, err)
	}
	return cmd.Process.Pid
}

func TestSnapshotChildInNewNamespaces(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireUserNS(t)
	pid := startChild(t)
	p, err := Snapshot(strconv.Itoa(pid))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Errors) != 0 {
		t.Errorf("errors: %v", p.Errors)
	}
	assertMatchesKernel(t, p)

	// Compare with this test process: exactly the three new kinds differ.
	self, err := ns.Inodes("self")
	if err != nil {
		t.Fatal(err)
	}
	fresh := map[ns.Kind]bool{ns.User: true, ns.Net: true, ns.UTS: true}
	for _, n := range p.Namespaces {
		if same := n.Inode == self[n.Kind]; same == fresh[n.Kind] {
			t.Errorf("%s: child %d, test process %d; want new=%v", n.Kind, n.Inode, self[n.Kind], fresh[n.Kind])
		}
		if fresh[n.Kind] && n.SharedWithHost {
			t.Errorf("%s reported shared with host", n.Kind)
		}
	}

	if p.Hostname != childHostname {
		t.Errorf("hostname = %q, want %q (read via setns into its UTS ns)", p.Hostname, childHostname)
	}
	var u unix.Utsname
	_ = unix.Uname(&u)
	if unix.ByteSliceToString(u.Nodename[:]) == childHostname {
		t.Error("the child's hostname leaked into the test process")
	}

	if len(p.Links) != 1 || p.Links[0].Name != "lo" || p.Links[0].Up || p.Links[0].State == "up" ||
		len(p.Links[0].Addresses) != 0 {
		t.Errorf("links in a fresh netns = %+v, want only lo, down, no addresses", p.Links)
	}
	if len(p.UIDMap) != 1 || p.UIDMap[0] != (IDMap{0, 100000, 65536}) {
		t.Errorf("uid_map = %v", p.UIDMap)
	}
	// Root in a new user namespace holds every capability of its bounding set.
	c := p.Capabilities
	if c.Effective.Mask != c.Bounding.Mask || !contains(c.Effective.Names, "CAP_SYS_ADMIN") {
		t.Errorf("effective %s bounding %s", c.Effective.Hex, c.Bounding.Hex)
	}
	// Seen from the host, the child runs as uid 100000.
	if p.UIDs[0] != 100000 {
		t.Errorf("uids seen from the host = %v, want 100000", p.UIDs)
	}
}

func TestLinksSelfHasLoopback(t *testing.T) {
	links, err := Links("self")
	if errors.Is(err, unix.EPROTONOSUPPORT) {
		t.Skipf("no rtnetlink here (qemu-user emulates no netlink sockets): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	var lo *Link
	for i := range links {
		if links[i].Name == "lo" {
			lo = &links[i]
		}
	}
	if lo == nil || lo.MTU == 0 {
		t.Fatalf("no lo in %+v", links)
	}
}

func TestSnapshotMissingProcess(t *testing.T) {
	// PIDs above pid_max never exist.
	_, err := Snapshot("99999999")
	if !errors.Is(err, ErrNoProcess) {
		t.Fatalf("err = %v, want ErrNoProcess", err)
	}
	if _, err := Snapshot("nope"); !errors.Is(err, ErrBadPID) {
		t.Fatalf("err = %v, want ErrBadPID", err)
	}
}

func TestSnapshotSelfUnprivileged(t *testing.T) {
	// Works for anyone: own namespaces, own hostname, own interfaces.
	p, err := Snapshot("self", WithHostPID("self"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range p.Namespaces {
		if !n.SharedWithHost {
			t.Errorf("%s not shared with itself", n.Kind)
		}
	}
	if p.MountCount == 0 || len(p.Cgroups) == 0 || p.Hostname == "" {
		t.Errorf("empty snapshot: %+v", p)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
