package cgroup

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ctrlab/ctrlab/pkg/reexec"
	"github.com/ctrlab/ctrlab/pkg/testutil"
)

func TestMain(m *testing.M) {
	if reexec.Init() {
		return
	}
	os.Exit(m.Run())
}

func TestParseV1Mounts(t *testing.T) {
	mi := `25 30 0:23 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw
31 25 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:11 - cgroup cgroup rw,cpu,cpuacct
32 25 0:30 / /sys/fs/cgroup/memory rw,nosuid shared:12 - cgroup cgroup rw,memory
33 25 0:31 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
40 70 0:30 /docker/abc /elsewhere/memory rw - cgroup cgroup rw,memory
`
	got := parseV1Mounts(bufio.NewScanner(strings.NewReader(mi)))
	want := map[string]string{"cpu": "/sys/fs/cgroup/cpu,cpuacct", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct", "memory": "/sys/fs/cgroup/memory", "pids": "/sys/fs/cgroup/pids"}
	if len(got) != len(want) {
		t.Fatalf("parseV1Mounts = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("mount of %s = %q, want %q", k, got[k], v)
		}
	}
}

// newTestCgroup creates a uniquely named cgroup removed at cleanup, and
// checks at cleanup that no directory of it is left behind.
func newTestCgroup(t *testing.T, prefix string, opts ...Option) *Cgroup {
	t.Helper()
	testutil.RequireRoot(t)
	c, err := New(testutil.Name(prefix), opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Delete(); err != nil {
			t.Errorf("Delete: %v", err)
		}
		assertGone(t, c)
	})
	return c
}

func assertGone(t *testing.T, c *Cgroup) {
	t.Helper()
	for _, d := range c.dirs() {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after Delete (stat: %v)", d, err)
		}
	}
}

func readKernel(t *testing.T, dir, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatalf("reading the kernel's %s: %v", file, err)
	}
	return strings.TrimSpace(string(b))
}

func keyed(t *testing.T, dir, file, key string) uint64 {
	t.Helper()
	m := ParseFlatKeyed(readKernel(t, dir, file))
	v, ok := m[key]
	if !ok {
		t.Fatalf("%s/%s has no %q: %v", dir, file, key, m)
	}
	return v
}

func TestDetectMatchesStatfs(t *testing.T) {
	info, err := Detect()
	if err != nil {
		t.Skipf("no cgroups here: %v", err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(Root, &st); err != nil {
		t.Fatal(err)
	}
	if (st.Type == unix.CGROUP2_SUPER_MAGIC) != info.Mode.IsV2() {
		t.Errorf("mode %s but statfs type %#x", info.Mode, st.Type)
	}
	t.Logf("mode %s, controllers %v, swap %v", info.Mode, info.Controllers, info.Swap)
}

func TestSetWritesKernelFiles(t *testing.T) {
	c := newTestCgroup(t, "set")
	writes, err := c.Set(Resources{MemoryMax: 64 << 20, CPUs: 0.5, PidsMax: 20, CPUWeight: 200})
	if err != nil {
		t.Fatalf("Set: %v", err)
	}
	for _, w := range writes {
		if got := readKernel(t, filepath.Dir(w.Path), filepath.Base(w.Path)); got != w.ReadBack {
			t.Errorf("%s: ReadBack %q but the kernel shows %q", w.Path, w.ReadBack, got)
		}
		t.Logf("%s <- %q (reads %q)", w.Path, w.Wrote, w.ReadBack)
	}
	mem, cpu, pids := c.Path("memory"), c.Path("cpu"), c.Path("pids")
	if c.Mode().IsV2() {
		if got := readKernel(t, mem, "memory.max"); got != "67108864" {
			t.Errorf("memory.max = %q, want 67108864", got)
		}
		if got := readKernel(t, cpu, "cpu.max"); got != "50000 100000" {
			t.Errorf("cpu.max = %q, want \"50000 100000\"", got)
		}
		if got := readKernel(t, cpu, "cpu.weight"); got != "200" {
			t.Errorf("cpu.weight = %q, want 200", got)
		}
	} else {
		if got := readKernel(t, mem, "memory.limit_in_bytes"); got != "67108864" {
			t.Errorf("memory.limit_in_bytes = %q, want 67108864", got)
		}
		if got := readKernel(t, cpu, "cpu.cfs_quota_us"); got != "50000" {
			t.Errorf("cpu.cfs_quota_us = %q, want 50000", got)
		}
		if got := readKernel(t, cpu, "cpu.cfs_period_us"); got != "100000" {
			t.Errorf("cpu.cfs_period_us = %q, want 100000", got)
		}
		if got := readKernel(t, cpu, "cpu.shares"); got != strconv.FormatUint(WeightToShares(200), 10) {
			t.Errorf("cpu.shares = %q, want %d", got, WeightToShares(200))
		}
	}
	if got := readKernel(t, pids, "pids.max"); got != "20" {
		t.Errorf("pids.max = %q, want 20", got)
	}
	// Unlimited writes the kernel's "no limit".
	if _, err := c.Set(Resources{PidsMax: Unlimited}); err != nil {
		t.Fatal(err)
	}
	if got := readKernel(t, pids, "pids.max"); got != "max" {
		t.Errorf("pids.max = %q after Unlimited, want max", got)
	}
}

func TestCpuset(t *testing.T) {
	testutil.RequireRoot(t)
	if info, err := Detect(); err != nil || !info.Has("cpuset") {
		t.Skip("no cpuset controller")
	}
	c := newTestCgroup(t, "cs", WithCpuset())
	if _, err := c.Set(Resources{Cpuset: "0"}); err != nil {
		t.Fatalf("Set cpuset: %v", err)
	}
	if got := readKernel(t, c.Path("cpuset"), "cpuset.cpus"); got != "0" {
		t.Errorf("cpuset.cpus = %q, want 0", got)
	}
}

// inCgroup reports whether /proc/PID/cgroup places pid in c (every
// hierarchy on v1).
func inCgroup(t *testing.T, pid int, procCgroup string, c *Cgroup) {
	t.Helper()
	want := "/" + Parent + "/" + c.Name()
	lines := strings.Split(strings.TrimSpace(procCgroup), "\n")
	if c.Mode().IsV2() {
		if len(lines) != 1 || lines[0] != "0::"+want {
			t.Errorf("pid %d: /proc/PID/cgroup = %q, want 0::%s", pid, procCgroup, want)
		}
		return
	}
	for _, ctl := range []string{"memory", "pids", "cpu"} {
		found := false
		for _, l := range lines {
			f := strings.SplitN(l, ":", 3)
			if len(f) == 3 && contains(strings.Split(f[1], ","), ctl) {
				found = true
				if f[2] != want {
					t.Errorf("pid %d: %s cgroup is %q, want %q", pid, ctl, f[2], want)
				}
			}
		}
		if !found {
			t.Errorf("pid %d: no %s line in %q", pid, ctl, procCgroup)
		}
	}
}

func TestStartPlacesProcessInside(t *testing.T) {
	c := newTestCgroup(t, "st")
	cmd := reexec.Command(sleepName)
	if err := c.Start(cmd); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	b, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	inCgroup(t, cmd.Process.Pid, string(b), c)
	procs, err := c.Procs()
	if err != nil {
		t.Fatal(err)
	}
	if !containsInt(procs, cmd.Process.Pid) {
		t.Errorf("cgroup.procs %v lacks pid %d", procs, cmd.Process.Pid)
	}
}

func containsInt(l []int, v int) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

func TestRunReportsExitAndCgroup(t *testing.T) {
	c := newTestCgroup(t, "run")
	cmd := reexec.Command(spinName, "10ms")
	res, err := c.Run(context.Background(), cmd)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.ExitCode != 0 {
		t.Errorf("exit code %d (signal %q), want 0", res.ExitCode, res.Signal)
	}
	inCgroup(t, res.Pid, res.ProcCgroup, c)
	if res.Stats.CPUUsageUsec == 0 {
		t.Errorf("the kernel accounted no CPU time to the cgroup: %+v", res.Stats)
	}
}

// A workload killed from outside, with children still running: Delete
// kills the rest and leaves nothing behind (checked in newTestCgroup).
func TestDeleteAfterKilledWorkload(t *testing.T) {
	c := newTestCgroup(t, "kill")
	if _, err := c.Set(Resources{PidsMax: 40}); err != nil {
		t.Fatal(err)
	}
	bomb := reexec.Command(forkbombName, "30s")
	if err := c.Start(bomb); err != nil {
		t.Fatalf("Start: %v", err)
	}
	// Wait until it has children, then SIGKILL the parent only.
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := c.Procs()
		if err != nil {
			t.Fatal(err)
		}
		if len(p) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = bomb.Process.Kill()
	_ = bomb.Wait()
	if err := c.Delete(); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	assertGone(t, c)
	if _, err := Load(c.Name()); !errors.Is(err, ErrNotExist) {
		t.Errorf("Load after Delete: %v, want ErrNotExist", err)
	}
}

func TestListAndLoad(t *testing.T) {
	c := newTestCgroup(t, "ls")
	names, err := List()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, n := range names {
		found = found || n == c.Name()
	}
	if !found {
		t.Errorf("List() = %v lacks %s", names, c.Name())
	}
	l, err := Load(c.Name())
	if err != nil {
		t.Fatal(err)
	}
	if l.Path("pids") != c.Path("pids") || l.Path("memory") != c.Path("memory") {
		t.Errorf("Load paths %v, New paths %v", l.Paths(), c.Paths())
	}
}

// runDemo runs a demo keeping its cgroup so the test can read the kernel's
// files, and removes it at cleanup.
func runDemo(t *testing.T, kind DemoKind) (*DemoResult, *Cgroup) {
	t.Helper()
	testutil.RequireRoot(t)
	name := testutil.Name(string(kind)[:1])
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Demo(ctx, kind, WithDemoName(name), WithKeep())
	c, lerr := Load(name)
	if lerr == nil {
		t.Cleanup(func() {
			if err := c.Delete(); err != nil {
				t.Errorf("Delete: %v", err)
			}
			assertGone(t, c)
		})
	}
	if err != nil {
		t.Fatalf("Demo(%s): %v", kind, err)
	}
	if lerr != nil {
		t.Fatalf("Load(%s): %v", name, lerr)
	}
	t.Logf("output:\n%s", res.Output)
	t.Logf("run: %+v", res.Run)
	return res, c
}

func TestDemoMemoryIsOOMKilled(t *testing.T) {
	res, c := runDemo(t, DemoMemory)
	mem := c.Path("memory")
	var kills uint64
	if c.Mode().IsV2() {
		kills = keyed(t, mem, "memory.events", "oom_kill")
	} else {
		kills = keyed(t, mem, "memory.oom_control", "oom_kill")
	}
	if kills < 1 {
		t.Errorf("the kernel counted %d OOM kills, want >= 1", kills)
	}
	if res.Run.Signal != "SIGKILL" {
		t.Errorf("workload ended with exit %d signal %q, want SIGKILL", res.Run.ExitCode, res.Run.Signal)
	}
	if res.Run.Stats.OOMKills != kills {
		t.Errorf("Stats.OOMKills = %d, kernel file says %d", res.Run.Stats.OOMKills, kills)
	}
}

func TestDemoPidsRefusesForks(t *testing.T) {
	res, c := runDemo(t, DemoPids)
	refused := keyed(t, c.Path("pids"), "pids.events", "max")
	if refused < 1 {
		t.Errorf("pids.events max = %d, want >= 1", refused)
	}
	if got := readKernel(t, c.Path("pids"), "pids.max"); got != "16" {
		t.Errorf("pids.max = %q, want 16", got)
	}
	t.Logf("forks: %d spawned, %d refused (workload); kernel pids.events max %d", res.Spawned, res.Refused, refused)
}

func TestDemoCPUStaysNearQuota(t *testing.T) {
	res, c := runDemo(t, DemoCPU)
	cpu := c.Path("cpu")
	var usage time.Duration
	if c.Mode().IsV2() {
		usage = time.Duration(keyed(t, cpu, "cpu.stat", "usage_usec")) * time.Microsecond
		if got := readKernel(t, cpu, "cpu.max"); got != "20000 100000" {
			t.Errorf("cpu.max = %q", got)
		}
	} else {
		ns, err := ParseUint(readKernel(t, c.Path("cpuacct"), "cpuacct.usage"))
		if err != nil {
			t.Fatal(err)
		}
		usage = time.Duration(ns)
		if got := readKernel(t, cpu, "cpu.cfs_quota_us"); got != "20000" {
			t.Errorf("cpu.cfs_quota_us = %q", got)
		}
	}
	wall := res.Run.Wall()
	if wall < 3*time.Second {
		t.Errorf("the busy loop ran %v, want >= 3s", wall)
	}
	if usage <= 0 || usage > wall/2 {
		t.Errorf("CPU usage %v over %v wall: want 0 < usage <= wall/2 under a 0.2 CPU quota", usage, wall)
	}
	t.Logf("usage %v over %v wall (%.2f CPU), nr_throttled %d", usage, wall, usage.Seconds()/wall.Seconds(), res.Run.Stats.NrThrottled)
}
