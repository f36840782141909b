package container

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ctrlab/ctrlab/pkg/ns"
	"github.com/ctrlab/ctrlab/pkg/reexec"
	"github.com/ctrlab/ctrlab/pkg/testutil"
)

// startRunner starts ctrlab-test-run (a foreground `ctrlab run`) for cfg
// and returns it with a reader of its stdout.
func startRunner(t *testing.T, s *Store, cfg *Config) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := reexec.Command("ctrlab-test-run")
	cmd.Env = []string{"CTRLAB_TEST_CONFIG=" + string(b), "CTRLAB_TEST_ROOT=" + s.Root}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd, bufio.NewReader(out)
}

func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the container's output: %v (got %q)", err, line)
	}
	return strings.TrimSpace(line)
}

func TestSignalIsForwarded(t *testing.T) {
	testutil.RequireRoot(t)
	s := newStore(t)
	cfg := NewConfig(busyboxRootfs(t), "sh", "-c",
		`trap 'echo got-TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done`)
	cfg.Name = testutil.Name("s")
	cmd, out := startRunner(t, s, cfg)
	if got := readLine(t, out); got != "ready" {
		t.Fatalf("first line %q, want ready", got)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if got := readLine(t, out); got != "got-TERM" {
		t.Errorf("after SIGTERM to ctrlab: %q, want got-TERM", got)
	}
	err := cmd.Wait()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 7 {
		t.Errorf("ctrlab run exited %v, want the container's 7", err)
	}
	// Not --rm: the stopped container stays, with its exit code.
	st, err := s.Get(cfg.Name)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != Stopped || st.ExitCode != 7 {
		t.Errorf("state %s exit %d, want stopped 7", st.Status, st.ExitCode)
	}
}

func TestDetachedLogsStopRemove(t *testing.T) {
	testutil.RequireRoot(t)
	s := newStore(t)
	rootfs := busyboxRootfs(t)
	ctx := context.Background()

	cfg := NewConfig(rootfs, "sh", "-c", `trap 'echo bye; exit 3' TERM; echo hello-from-d; while :; do sleep 0.05; done`)
	cfg.Name = testutil.Name("d")
	st, err := s.RunDetached(ctx, cfg, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != Running || !alive(st.Pid, st.PidStart) {
		t.Fatalf("after -d: status %s, pid %d alive=%v", st.Status, st.Pid, alive(st.Pid, st.PidStart))
	}
	if st.OwnerPid == os.Getpid() || !alive(st.OwnerPid, st.OwnerStart) {
		t.Fatalf("owner %d should be a live shim, not us", st.OwnerPid)
	}
	if err := s.Remove(cfg.Name, false); !errorsIs(err, ErrRunning) {
		t.Errorf("rm of a running container: %v, want ErrRunning", err)
	}
	poll(t, "the log line", func() bool {
		var b strings.Builder
		_ = s.Logs(ctx, cfg.Name, false, &b)
		return strings.Contains(b.String(), "hello-from-d\n")
	})
	stopped, err := s.Stop(cfg.Name, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if stopped.Status != Stopped || stopped.ExitCode != 3 {
		t.Errorf("after stop: %s exit %d, want stopped 3", stopped.Status, stopped.ExitCode)
	}
	var b strings.Builder
	if err := s.Logs(ctx, cfg.Name, true, &b); err != nil { // follow ends: it stopped
		t.Fatal(err)
	}
	if b.String() != "hello-from-d\nbye\n" {
		t.Errorf("logs = %q", b.String())
	}
	if alive(st.Pid, st.PidStart) || !waitGone(st.OwnerPid, st.OwnerStart, time.Minute) {
		t.Errorf("container or shim still alive after stop")
	}
	if err := s.Remove(cfg.Name, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Dir(st.ID)); !os.IsNotExist(err) {
		t.Errorf("state dir left after rm: %v", err)
	}

	// A PID 1 without a TERM handler ignores SIGTERM: stop escalates to SIGKILL.
	cfg2 := NewConfig(rootfs, "sh", "-c", `while :; do sleep 0.05; done`)
	cfg2.Name = testutil.Name("d")
	if _, err := s.RunDetached(ctx, cfg2, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	stopped, err = s.Stop(cfg2.Name, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if stopped.ExitCode != 128+int(syscall.SIGKILL) {
		t.Errorf("exit %d, want 137 (SIGKILL)", stopped.ExitCode)
	}
}

func errorsIs(err, target error) bool {
	for err != nil {
		if err == target {
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func TestExecJoinsNamespaces(t *testing.T) {
	testutil.RequireRoot(t)
	s := newStore(t)
	ctx := context.Background()
	cfg := NewConfig(busyboxRootfs(t), "sh", "-c", `while :; do sleep 0.05; done`)
	cfg.Name = testutil.Name("e")
	cfg.Hostname = "ctrlab-exec"
	st, err := s.RunDetached(ctx, cfg, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	code, err := s.Exec(ctx, cfg.Name, []string{"sh", "-c",
		`for n in mnt pid net ipc uts cgroup; do readlink /proc/self/ns/$n; done; hostname; cat /proc/self/cgroup | md5sum; cat /proc/1/cgroup | md5sum; grep CapEff /proc/self/status; exit 9`},
		ExecOptions{}, WithStdio(nil, &out, &out))
	if err != nil {
		t.Fatalf("exec: %v (%s)", err, out.String())
	}
	if code != 9 {
		t.Errorf("exec exit %d, want 9", code)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 10 {
		t.Fatalf("exec output: %q", out.String())
	}
	pid := pidStr(st.Pid)
	for i, k := range []ns.Kind{ns.Mount, ns.PID, ns.Net, ns.IPC, ns.UTS, ns.Cgroup} {
		want, err := ns.Inode(pid, k)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := ns.ParseLink(lines[i])
		if got != want {
			t.Errorf("exec'd %s namespace %d, container's %d", k, got, want)
		}
	}
	if lines[6] != "ctrlab-exec" {
		t.Errorf("hostname %q", lines[6])
	}
	if lines[7] != lines[8] {
		t.Errorf("exec'd process is not in PID 1's cgroup")
	}
	want, _ := CapMask(DefaultCapabilities)
	if got, _ := ParseStatusCaps(lines[9], "CapEff"); got != want {
		t.Errorf("exec'd CapEff %016x, want %016x", got, want)
	}
	// -t: a pty of the container's own devpts, the process its session leader.
	var tout syncBuffer
	code, err = s.Exec(ctx, cfg.Name, []string{"sh", "-c", "tty; ls /dev/pts; exit 4"}, ExecOptions{Terminal: true}, WithStdio(nil, &tout, &tout))
	if err != nil || code != 4 {
		t.Fatalf("exec -t: %d, %v (%q)", code, err, tout.String())
	}
	got := strings.Fields(tout.String())
	listed := len(got) > 1 && strings.Contains(" "+strings.Join(got[1:], " ")+" ", " "+strings.TrimPrefix(got[0], "/dev/pts/")+" ")
	if !strings.HasPrefix(got[0], "/dev/pts/") || !listed {
		t.Errorf("exec -t output %q: want the container's own /dev/pts/N", tout.String())
	}
	if _, err := s.Exec(ctx, cfg.Name, []string{"nope"}, ExecOptions{}); !errorsIs(err, ErrExecutableNotFound) {
		t.Errorf("exec of a missing binary: %v", err)
	}
}

// A `ctrlab run` SIGKILLed mid-run leaves its container's resources behind;
// ps (List) notices the dead owner and releases them; rm -f removes the rest.
func TestKilledOwnerIsCleanedUp(t *testing.T) {
	testutil.RequireRoot(t)
	s := newStore(t)
	// A host mount the container "owns", as an overlay would be.
	mnt := filepath.Join(t.TempDir(), testutil.Name("m"))
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
	cfg := NewConfig(busyboxRootfs(t), "sh", "-c", `echo ready; while :; do sleep 0.05; done`)
	cfg.Name = testutil.Name("k")
	cfg.Resources = []Resource{{Kind: "mount", Path: mnt}}
	cmd, out := startRunner(t, s, cfg)
	if got := readLine(t, out); got != "ready" {
		t.Fatalf("first line %q", got)
	}
	st, err := s.Get(cfg.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	// Pdeathsig takes the container down with its owner.
	poll(t, "the container to die with its owner", func() bool { return !alive(st.Pid, st.PidStart) })
	if !mounted(t, mnt) {
		t.Fatal("the mount should still be there before ps notices")
	}
	all, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var found *State
	for _, x := range all {
		if x.Name == cfg.Name {
			found = x
		}
	}
	if found == nil || found.Status != Dead {
		t.Fatalf("ps: %+v, want the container marked dead", found)
	}
	if mounted(t, mnt) {
		t.Error("ps did not release the dead container's mount")
	}
	if err := s.Remove(cfg.Name, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Dir(st.ID)); !os.IsNotExist(err) {
		t.Errorf("state dir left: %v", err)
	}
	if _, err := os.Stat("/proc/" + pidStr(st.Pid)); err == nil && alive(st.Pid, st.PidStart) {
		t.Error("container process left")
	}
}

func mounted(t *testing.T, path string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == path {
			return true
		}
	}
	return false
}

func TestDetachedAutoRemove(t *testing.T) {
	testutil.RequireRoot(t)
	s := newStore(t)
	mnt := filepath.Join(t.TempDir(), testutil.Name("m"))
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
	cfg := NewConfig(busyboxRootfs(t), "sh", "-c", "read x") // exits when its stdin (/dev/null) ends
	cfg.Name = testutil.Name("r")
	cfg.Resources = []Resource{{Kind: "mount", Path: mnt}}
	st, err := s.RunDetached(context.Background(), cfg, RunOptions{AutoRemove: true})
	if err != nil {
		t.Fatal(err)
	}
	poll(t, "the shim to remove the exited container", func() bool {
		_, err := os.Stat(s.Dir(st.ID))
		return os.IsNotExist(err)
	})
	if mounted(t, mnt) {
		t.Error("the shim did not release the container's mount")
	}
}
