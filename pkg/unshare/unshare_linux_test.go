package unshare

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

const busybox = "/bin/busybox"

func init() {
	// Runs Run as whatever user the test started it as, and prints the
	// outcome as JSON: {"err": "...", "eperm": true, "uidMap": "..."}.
	reexec.Register("ctrlab-unshare-test-run", func() {
		kinds, _ := ns.ParseList(os.Args[1:])
		res, err := Run(context.Background(), Config{Kinds: kinds, Quiet: true}, Stdio{})
		out := map[string]any{"eperm": errors.Is(err, unix.EPERM)}
		if err != nil {
			out["err"] = err.Error()
		}
		if res != nil {
			out["uidMap"] = res.Inside.UIDMap
			out["uid"] = res.Inside.UID
		}
		_ = json.NewEncoder(os.Stdout).Encode(out)
		os.Exit(0)
	})
}

func TestMain(m *testing.M) {
	if reexec.Init() {
		return
	}
	os.Exit(m.Run())
}

// run runs cfg and fails the test on error; it returns the result and what
// the command printed. It also checks the run left nothing behind.
func run(t *testing.T, cfg Config, opts ...Option) (*Result, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, cfg, Stdio{Out: &out, Err: &errOut}, opts...)
	if err != nil {
		t.Fatalf("Run(%v): %v\nstderr: %s", cfg.Kinds, err, errOut.String())
	}
	if res.ExitCode != 0 {
		t.Fatalf("Run(%v): exit %d\nstdout: %s\nstderr: %s", cfg.Kinds, res.ExitCode, out.String(), errOut.String())
	}
	assertNoLeftovers(t, res)
	return res, out.String()
}

func assertNoLeftovers(t *testing.T, res *Result) {
	t.Helper()
	if res.DemoMount != "" {
		if _, err := os.Stat(res.DemoMount); !os.IsNotExist(err) {
			t.Errorf("demo mount point %s left behind (stat: %v)", res.DemoMount, err)
		}
		if mountedAt("/proc/self/mountinfo", res.DemoMount) {
			t.Errorf("demo mount %s visible on the host after the run", res.DemoMount)
		}
	}
	// The init was waited for: its PID must not be our child any more.
	var ws unix.WaitStatus
	if res.initPID == 0 {
		t.Errorf("Run did not record the init's PID")
	}
	if pid, err := unix.Wait4(res.initPID, &ws, unix.WNOHANG, nil); err == nil && pid != 0 {
		t.Errorf("init %d was not reaped by Run", res.initPID)
	}
	if res.Outside.HostPID != res.initPID { // the init forked (time namespace)
		waitGone(t, res.Outside.HostPID)
	}
}

// waitGone polls until pid no longer exists or is a zombie (killed, and
// waiting to be reaped by whoever inherited it).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		if i := bytes.LastIndexByte(b, ')'); i > 0 && bytes.HasPrefix(b[i+1:], []byte(" Z")) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("process %d still alive: %s", pid, b)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hostInode(t *testing.T, k ns.Kind) uint64 {
	t.Helper()
	n, err := ns.Inode("self", k)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func assertNewNS(t *testing.T, res *Result, kinds ...ns.Kind) {
	t.Helper()
	for _, k := range kinds {
		h, c := hostInode(t, k), res.Outside.Inodes[k]
		if c == 0 || c == h {
			t.Errorf("%s namespace: child %d, host %d; want a new inode", k, c, h)
		}
		if in := res.Inside.Inodes[k]; in != c {
			t.Errorf("%s namespace: inside sees %d, host sees the child in %d", k, in, c)
		}
	}
}

func TestRunPID(t *testing.T) {
	testutil.RequireRoot(t)
	res, out := run(t, Config{Kinds: []ns.Kind{ns.PID}})
	assertNewNS(t, res, ns.PID, ns.Mount)
	if res.Inside.PID != 1 {
		t.Errorf("PID inside = %d, want 1", res.Inside.PID)
	}
	if fmt.Sprint(res.Inside.ProcPIDs) != "[1]" {
		t.Errorf("PIDs in the new /proc = %v, want [1]", res.Inside.ProcPIDs)
	}
	if f := strings.Fields(res.Outside.NSPid); len(f) != 2 || f[0] != strconv.Itoa(res.Outside.HostPID) || f[1] != "1" {
		t.Errorf("NSpid = %q, want \"%d 1\"", res.Outside.NSPid, res.Outside.HostPID)
	}
	// The built-in command lists the processes of the new /proc: only itself.
	if !strings.Contains(out, "inside: pid 1,") || strings.Count(out, "ctrlab-unshare-show") != 1 {
		t.Errorf("inside view:\n%s", out)
	}
	if n := len(procPIDs()); n < 2 {
		t.Errorf("host /proc lists %d processes: the fresh /proc leaked to the host", n)
	}
}

func TestRunUTS(t *testing.T) {
	testutil.RequireRoot(t)
	before, _ := os.Hostname()
	name := testutil.Name("h")
	res, out := run(t, Config{Kinds: []ns.Kind{ns.UTS}, Hostname: name, Args: []string{busybox, "hostname"}})
	assertNewNS(t, res, ns.UTS)
	if got := strings.TrimSpace(out); got != name {
		t.Errorf("hostname inside = %q, want %q", got, name)
	}
	if after, _ := os.Hostname(); after != before || res.Outside.HostnameAfter != before {
		t.Errorf("host hostname changed: %q -> %q (seen during run %q)", before, after, res.Outside.HostnameAfter)
	}
}

func TestRunMount(t *testing.T) {
	testutil.RequireRoot(t)
	var onHostDuring bool
	res, out := run(t, Config{Kinds: []ns.Kind{ns.Mount}, Args: []string{busybox, "cat", "/proc/self/mountinfo"}},
		WithReady(func(r *Result) error {
			b, err := os.ReadFile("/proc/self/mountinfo")
			onHostDuring = err != nil || bytes.Contains(b, []byte(r.DemoMount))
			return err
		}))
	assertNewNS(t, res, ns.Mount)
	if onHostDuring {
		t.Errorf("the host's mountinfo lists %s while the namespace is alive", res.DemoMount)
	}
	if !mountLineHas(out, res.DemoMount, "tmpfs", "ctrlab-demo") {
		t.Errorf("mountinfo inside has no tmpfs on %s:\n%s", res.DemoMount, out)
	}
	if res.Inside.RootPropagation != "private" {
		t.Errorf("propagation of / inside = %q, want private", res.Inside.RootPropagation)
	}
}

func mountLineHas(mountinfo, dir string, words ...string) bool {
	for _, l := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(l)
		if len(f) < 5 || f[4] != dir {
			continue
		}
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(l, w)
		}
		if ok {
			return true
		}
	}
	return false
}

func TestRunNet(t *testing.T) {
	testutil.RequireRoot(t)
	res, out := run(t, Config{Kinds: []ns.Kind{ns.Net}, Args: []string{busybox, "cat", "/proc/net/dev"}})
	assertNewNS(t, res, ns.Net)
	if len(res.Inside.Interfaces) != 1 || res.Inside.Interfaces[0].Name != "lo" || res.Inside.Interfaces[0].Up {
		t.Errorf("interfaces inside = %v, want only lo, down", res.Inside.Interfaces)
	}
	// /proc/net/dev: two header lines, then one line per interface.
	var ifs []string
	for i, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if i >= 2 {
			ifs = append(ifs, strings.TrimSpace(strings.SplitN(l, ":", 2)[0]))
		}
	}
	if fmt.Sprint(ifs) != "[lo]" {
		t.Errorf("/proc/net/dev inside lists %v, want [lo]\n%s", ifs, out)
	}
}

func TestRunIPC(t *testing.T) {
	testutil.RequireRoot(t)
	var onHostDuring bool
	res, out := run(t, Config{Kinds: []ns.Kind{ns.IPC}, Args: []string{busybox, "cat", "/proc/sysvipc/msg"}},
		WithReady(func(r *Result) error {
			onHostDuring = containsInt(msgQueueKeys(), r.MsgQueue)
			return nil
		}))
	assertNewNS(t, res, ns.IPC)
	if res.MsgQueue == 0 {
		t.Fatal("no message queue key chosen")
	}
	if onHostDuring {
		t.Errorf("queue key 0x%x is visible in the host's /proc/sysvipc/msg", res.MsgQueue)
	}
	found := false
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		found = found || (len(f) > 0 && f[0] == strconv.Itoa(res.MsgQueue))
	}
	if !found {
		t.Errorf("queue key %d not in /proc/sysvipc/msg inside:\n%s", res.MsgQueue, out)
	}
	if containsInt(msgQueueKeys(), res.MsgQueue) {
		t.Errorf("queue key 0x%x on the host after the run", res.MsgQueue)
	}
}

func TestRunUser(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireUserNS(t)
	res, out := run(t, Config{Kinds: []ns.Kind{ns.User}, Args: []string{busybox, "cat", "/proc/self/uid_map", "/proc/self/gid_map"}})
	assertNewNS(t, res, ns.User)
	want := fmt.Sprintf("0 %d 1", os.Getuid())
	if res.Inside.UIDMap != want {
		t.Errorf("uid_map inside = %q, want %q", res.Inside.UIDMap, want)
	}
	if got := strings.Join(strings.Fields(out), " "); got != want+" "+fmt.Sprintf("0 %d 1", os.Getgid()) {
		t.Errorf("uid_map+gid_map inside = %q", got)
	}
	if res.Inside.UID != 0 {
		t.Errorf("uid inside = %d, want 0", res.Inside.UID)
	}
}

// TestRunCgroup starts the init from a thread placed in a fresh v1 pids
// cgroup (when the host has one), so the host sees a path that is not "/"
// while the process itself sees "/".
func TestRunCgroup(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireKernel(t, 4, 6)
	var cg string
	if st, err := os.Stat("/sys/fs/cgroup/pids/tasks"); err == nil && st.Mode().IsRegular() {
		cg = filepath.Join("/sys/fs/cgroup/pids", testutil.Name("cg"))
		if err := os.Mkdir(cg, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { removeCgroup(t, cg) })
		startHook = func() error {
			return os.WriteFile(filepath.Join(cg, "tasks"), []byte(strconv.Itoa(unix.Gettid())), 0)
		}
		t.Cleanup(func() { startHook = nil })
	}
	res, out := run(t, Config{Kinds: []ns.Kind{ns.Cgroup}, Args: []string{busybox, "cat", "/proc/self/cgroup"}})
	assertNewNS(t, res, ns.Cgroup)
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasSuffix(l, ":/") {
			t.Errorf("/proc/self/cgroup inside: %q, want every path \"/\"\n%s", l, out)
		}
	}
	if cg != "" {
		want := "pids:/" + filepath.Base(cg)
		found := false
		for _, l := range res.Outside.Cgroup {
			found = found || strings.HasSuffix(l, want)
		}
		if !found {
			t.Errorf("host view of /proc/PID/cgroup = %q, want a line ending %q", res.Outside.Cgroup, want)
		}
	}
}

func removeCgroup(t *testing.T, dir string) {
	// The forking thread leaves the cgroup when the runtime discards it;
	// poll rather than assume when that happens.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := os.Remove(dir)
		if err == nil || os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("removing cgroup %s: %v", dir, err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRunTime(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireKernel(t, 5, 6)
	const boot, mono = 48 * time.Hour, 24 * time.Hour
	res, out := run(t, Config{Kinds: []ns.Kind{ns.Time}, BoottimeOffset: boot, MonotonicOffset: mono,
		Args: []string{busybox, "cat", "/proc/uptime"}})
	assertNewNS(t, res, ns.Time)
	hostUp := seconds(t, res.Outside.HostUptimeAfter)
	inUp := seconds(t, strings.Fields(out)[0])
	// The clock moves on between the reads, so compare with a wide margin
	// in the safe direction only.
	if inUp < hostUp+boot.Seconds()-60 || inUp > hostUp+boot.Seconds()+600 {
		t.Errorf("/proc/uptime inside = %.2f, host %.2f: want about +%v", inUp, hostUp, boot)
	}
	if d := seconds(t, res.Inside.Monotonic) - seconds(t, res.Host.Monotonic); d < mono.Seconds()-60 {
		t.Errorf("CLOCK_MONOTONIC inside is %.0fs ahead, want about %v", d, mono)
	}
}

// TestRunTimePID checks the init forked into the new time namespace is
// PID 1 of the new PID namespace, and relays the command's exit status.
func TestRunTimePID(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireKernel(t, 5, 6)
	res, out := run(t, Config{Kinds: []ns.Kind{ns.Time, ns.PID}, BoottimeOffset: time.Hour})
	assertNewNS(t, res, ns.Time, ns.PID, ns.Mount)
	if res.Inside.PID != 1 || fmt.Sprint(res.Inside.ProcPIDs) != "[1]" {
		t.Errorf("inside: PID %d, /proc lists %v; want PID 1 alone", res.Inside.PID, res.Inside.ProcPIDs)
	}
	if f := strings.Fields(res.Outside.NSPid); len(f) != 2 || f[0] != strconv.Itoa(res.Outside.HostPID) || f[1] != "1" {
		t.Errorf("NSpid = %q, want \"%d 1\"", res.Outside.NSPid, res.Outside.HostPID)
	}
	if !strings.Contains(out, "inside: pid 1,") {
		t.Errorf("inside view:\n%s", out)
	}

	res, err := Run(context.Background(), Config{Kinds: []ns.Kind{ns.Time, ns.PID}, Args: []string{busybox, "sh", "-c", "exit 7"}}, Stdio{})
	if err != nil || res.ExitCode != 7 {
		t.Fatalf("exit 7: res=%+v err=%v", res, err)
	}
	assertNoLeftovers(t, res)
	res, err = Run(context.Background(), Config{Kinds: []ns.Kind{ns.Time}, Args: []string{busybox, "sh", "-c", "kill -TERM $$"}}, Stdio{})
	if err != nil || res.ExitCode != 128+int(unix.SIGTERM) {
		t.Fatalf("killed by SIGTERM: res=%+v err=%v; want exit %d", res, err, 128+int(unix.SIGTERM))
	}
	assertNoLeftovers(t, res)
	res, err = Run(context.Background(), Config{Kinds: []ns.Kind{ns.Time}, Args: []string{"ctrlab-no-such-command"}}, Stdio{})
	if !errors.Is(err, ErrCommandNotFound) || res == nil || res.ExitCode != 127 {
		t.Fatalf("missing command: res=%+v err=%v; want ErrCommandNotFound, exit 127", res, err)
	}
	assertNoLeftovers(t, res)
}

// TestRunTimeCancelKillsBoth: cancelling kills the init, and its forked
// child in the time namespace dies with it (PR_SET_PDEATHSIG).
func TestRunTimeCancelKillsBoth(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireKernel(t, 5, 6)
	ctx, cancel := context.WithCancel(context.Background())
	var r *Result
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, Config{Kinds: []ns.Kind{ns.Time}, Args: []string{busybox, "sleep", "600"}}, Stdio{},
			WithReady(func(res *Result) error { r = res; cancel(); return nil }))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("Run did not return after cancel")
	}
	if r.initPID == r.Outside.HostPID {
		t.Fatalf("init %d did not fork a child into the time namespace", r.initPID)
	}
	if err := unix.Kill(r.initPID, 0); !errors.Is(err, unix.ESRCH) {
		t.Errorf("init %d still exists after cancel (kill 0: %v)", r.initPID, err)
	}
	waitGone(t, r.Outside.HostPID)
}

func seconds(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("parsing seconds %q: %v", s, err)
	}
	return f
}

func TestRunAll(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireKernel(t, 5, 6)
	res, _ := run(t, Config{Kinds: ns.All, Args: []string{busybox, "true"}})
	assertNewNS(t, res, ns.All...)
	for _, row := range res.Report.Rows {
		if strings.HasSuffix(row.Item, " namespace") && !row.Changed {
			t.Errorf("report row %q not marked changed", row.Item)
		}
	}
	if len(res.Report.Equivalent) != 1 || !strings.HasPrefix(res.Report.Equivalent[0], "unshare --mount --pid --fork") {
		t.Errorf("equivalent = %q", res.Report.Equivalent)
	}
}

func TestRunExitStatusAndMissingCommand(t *testing.T) {
	testutil.RequireRoot(t)
	res, err := Run(context.Background(), Config{Kinds: []ns.Kind{ns.PID}, Args: []string{busybox, "sh", "-c", "exit 7"}}, Stdio{})
	if err != nil || res.ExitCode != 7 {
		t.Fatalf("exit 7: res=%+v err=%v", res, err)
	}
	assertNoLeftovers(t, res)
	res, err = Run(context.Background(), Config{Kinds: []ns.Kind{ns.UTS}, Args: []string{"ctrlab-no-such-command"}}, Stdio{})
	if !errors.Is(err, ErrCommandNotFound) || res == nil || res.ExitCode != 127 {
		t.Fatalf("missing command: res=%+v err=%v; want ErrCommandNotFound, exit 127", res, err)
	}
	if !strings.Contains(err.Error(), "ctrlab-no-such-command") {
		t.Errorf("error does not name the command: %v", err)
	}
}

func TestRunCancelKillsInit(t *testing.T) {
	testutil.RequireRoot(t)
	ctx, cancel := context.WithCancel(context.Background())
	var pid int
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, Config{Kinds: []ns.Kind{ns.PID}, Args: []string{busybox, "sleep", "600"}}, Stdio{},
			WithReady(func(r *Result) error { pid = r.Outside.HostPID; cancel(); return nil }))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("Run did not return after cancel")
	}
	if err := unix.Kill(pid, 0); !errors.Is(err, unix.ESRCH) {
		t.Errorf("init %d still exists after cancel (kill 0: %v)", pid, err)
	}
}

// runAs re-executes the test binary as uid/gid 65534 and runs Run there.
func runAs(t *testing.T, kinds ...string) map[string]any {
	t.Helper()
	cmd := reexec.Command("ctrlab-unshare-test-run", kinds...)
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 65534, Gid: 65534}
	cmd.Dir = "/"
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("running as uid 65534: %v\n%s", err, stderr.String())
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("decoding %q: %v", b, err)
	}
	return out
}

func TestRunUnprivilegedPIDIsRefused(t *testing.T) {
	testutil.RequireRoot(t)
	out := runAs(t, "pid")
	msg, _ := out["err"].(string)
	if out["eperm"] != true || !strings.Contains(msg, "CLONE_NEWPID") || !strings.Contains(msg, "operation not permitted") {
		t.Fatalf("unprivileged pid: %v; want an EPERM error naming CLONE_NEWPID", out)
	}
}

func TestRunUnprivilegedUser(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireUserNS(t)
	if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && strings.TrimSpace(string(b)) == "0" {
		t.Skip("unprivileged user namespaces are disabled")
	}
	out := runAs(t, "user", "pid", "uts")
	if out["err"] != nil || out["uidMap"] != "0 65534 1" || out["uid"] != float64(0) {
		t.Fatalf("unprivileged user+pid+uts: %v; want uid 0 inside mapped from 65534", out)
	}
}
