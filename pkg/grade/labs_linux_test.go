package grade

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/ctrlab/ctrlab/labs"
	"github.com/ctrlab/ctrlab/pkg/testutil"
)

func loadLab(t *testing.T, name string) *Lab {
	t.Helper()
	all, err := Load(labs.FS)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Find(all, name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// missingNeeds names the first of a lab's needs this machine lacks. A
// busybox applet does not count as util-linux or iproute2 (busybox's `ip`
// ignores a veth's peer name), so the cgroup-v2 VM, which has only busybox,
// runs just the labs busybox can do.
func missingNeeds(l *Lab) string {
	notBusybox := func(tool string) bool {
		p, err := exec.LookPath(tool)
		if err != nil {
			return false
		}
		real, _ := filepath.EvalSymlinks(p)
		return filepath.Base(real) != "busybox"
	}
	for _, n := range l.Needs {
		switch n {
		case "iproute2":
			if !notBusybox("ip") {
				return n
			}
		case "util-linux":
			if !notBusybox("unshare") || !notBusybox("setsid") {
				return n
			}
		case "iptables":
			if !notBusybox("iptables") {
				return n
			}
		case "busybox-static":
			if _, err := os.Stat("/bin/busybox"); err != nil {
				return n
			}
		}
	}
	return ""
}

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("busybox-static not installed")
	}
}

// useTestCtrlab builds the ctrlab binary for the labs' scripts and reset
// (the test binary is not ctrlab), with a private store root and bridge so
// the lab's container never touches the machine's own.
func useTestCtrlab(t *testing.T) {
	t.Helper()
	bin := os.Getenv("CTRLAB_E2E_BINARY") // a prebuilt static ctrlab (the test VMs have no Go)
	if bin == "" {
		if _, err := exec.LookPath("go"); err != nil {
			t.Skip("no go toolchain to build ctrlab for the labs' scripts, and no CTRLAB_E2E_BINARY")
		}
		bin = filepath.Join(t.TempDir(), "ctrlab")
		build := exec.Command("go", "build", "-o", bin, "github.com/ctrlab/ctrlab/cmd/ctrlab")
		build.Env = append(os.Environ(), "CGO_ENABLED=0") // static: it also runs inside ctrlab/self
		out, err := build.CombinedOutput()
		if err != nil {
			t.Fatalf("building ctrlab: %v\n%s", err, out)
		}
	}
	old := Ctrlab
	Ctrlab = bin
	t.Setenv("CTRLAB_ROOT", t.TempDir())
	t.Setenv("CTRLAB_BRIDGE", "ctrlablabbr0")
	t.Setenv("CTRLAB_SUBNET", "10.205.0.0/24")
	t.Cleanup(func() {
		Ctrlab = old
		// Only this test's bridge: `net cleanup` would take every ctrlab link.
		_ = exec.Command(bin, "net", "bridge", "down", "--name", "ctrlablabbr0").Run()
	})
}

// leftovers lists every object the lab's reset names that still exists.
func leftovers(l *Lab) []string {
	var left []string
	r := l.Reset
	for _, p := range r.Processes {
		if len(FindProcesses(p)) > 0 {
			left = append(left, "process "+p)
		}
	}
	for _, m := range r.Mounts {
		if isMounted(m) {
			left = append(left, "mount "+m)
		}
	}
	for _, n := range r.Netns {
		if _, err := os.Lstat(netnsPath(n)); err == nil {
			left = append(left, "netns "+n)
		}
	}
	for _, name := range r.Links {
		if _, err := netlink.LinkByName(name); err == nil {
			left = append(left, "link "+name)
		}
	}
	for _, c := range r.Cgroups {
		for _, d := range cgroupDirs(c) {
			left = append(left, "cgroup "+d)
		}
	}
	for _, p := range r.Paths {
		if _, err := os.Lstat(p); err == nil {
			left = append(left, "path "+p)
		}
	}
	if len(r.Iptables) > 0 {
		out, _ := exec.Command("iptables", "-w", "-t", "nat", "-S").Output()
		if bytes.Contains(out, []byte("ctrlab-lab")) {
			left = append(left, "iptables rule")
		}
	}
	return left
}

func sysctlValues(l *Lab) map[string]string {
	m := map[string]string{}
	for _, s := range l.Reset.Sysctls {
		b, _ := os.ReadFile(sysctlPath(s))
		m[s] = strings.TrimSpace(string(b))
	}
	return m
}

// TestLabsLifecycle: for every lab, on a clean machine every task FAILS
// with a message; after the reference solution every task PASSES; after
// reset nothing the lab names is left and sysctls are as before.
func TestLabsLifecycle(t *testing.T) {
	testutil.RequireRoot(t)
	needTools(t, "mount", "setsid", "chroot")
	all, err := Load(labs.FS)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("CTRLAB_LABS") != "" { // e.g. the cgroup-v2 VM runs only the cgroup labs
		var some []*Lab
		for _, l := range all {
			if strings.Contains(","+os.Getenv("CTRLAB_LABS")+",", ","+l.Name+",") {
				some = append(some, l)
			}
		}
		all = some
	}
	useTestCtrlab(t)
	for _, l := range all {
		t.Run(l.Name, func(t *testing.T) {
			if n := missingNeeds(l); n != "" {
				t.Skipf("this machine lacks %s", n)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if _, err := Reset(ctx, l); err != nil {
				t.Fatalf("reset before: %v", err)
			}
			before := sysctlValues(l)
			t.Cleanup(func() {
				if _, err := Reset(context.Background(), l); err != nil {
					t.Errorf("reset: %v", err)
				}
			})
			var log bytes.Buffer
			if err := Start(ctx, l, &log); err != nil {
				t.Fatalf("start: %v\n%s", err, log.String())
			}
			r := Grade(ctx, l)
			if r.Passed != 0 {
				t.Fatalf("on a clean machine %d/%d tasks passed: %+v", r.Passed, r.Total, r.Tasks)
			}
			for _, task := range r.Tasks {
				if task.Hint == "" || task.Checks[0].Found == "" || task.Checks[0].Expected == "" {
					t.Errorf("task %s failed without a found/expected/hint message: %+v", task.ID, task)
				}
			}
			if err := Solve(ctx, l, &log); err != nil {
				t.Fatalf("solve: %v\n%s", err, log.String())
			}
			r = Grade(ctx, l)
			if !r.AllPassed() {
				for _, task := range r.Tasks {
					if !task.Pass {
						t.Errorf("after solve, task %s fails: %+v", task.ID, task.Checks)
					}
				}
				t.Fatalf("solution log:\n%s", log.String())
			}
			done, err := Reset(ctx, l)
			if err != nil {
				t.Fatalf("reset: %v", err)
			}
			if len(done) == 0 {
				t.Errorf("reset removed nothing")
			}
			if left := leftovers(l); len(left) > 0 {
				t.Errorf("after reset, left behind: %v", left)
			}
			if after := sysctlValues(l); len(before) > 0 && before[l.Reset.Sysctls[0]] != after[l.Reset.Sysctls[0]] {
				t.Errorf("sysctls not restored: before %v, after %v", before, after)
			}
		})
	}
}

// TestFakingIsRefused writes the expected words into files (and runs the
// named processes without doing the work): every check must still fail.
func TestFakingIsRefused(t *testing.T) {
	testutil.RequireRoot(t)
	needTools(t, "sleep")
	ctx := context.Background()
	fake := "/tmp/ctrlab-lab-fake"
	t.Cleanup(func() { _ = os.RemoveAll(fake) })

	// pid-uts: hostname "set" in a file, sleep run on the host.
	l := loadLab(t, "pid-uts")
	_ = os.MkdirAll(fake, 0o755)
	_ = os.WriteFile(filepath.Join(fake, "hostname"), []byte("ctrlab-lab-uts\n"), 0o644)
	sleep := exec.Command("sleep", "1002")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleep.Process.Kill(); _ = sleep.Wait() })
	if r := Grade(ctx, l); r.Passed != 0 {
		t.Errorf("pid-uts faked: %d tasks passed: %+v", r.Passed, r.Tasks)
	}

	// cgroup-memory: a directory that looks like the cgroup, with the limit
	// file, and the process outside any such cgroup.
	l = loadLab(t, "cgroup-memory")
	look := filepath.Join(fake, "sys/fs/cgroup/memory/ctrlab-lab-mem")
	_ = os.MkdirAll(look, 0o755)
	_ = os.WriteFile(filepath.Join(look, "memory.limit_in_bytes"), []byte("67108864\n"), 0o644)
	_ = os.WriteFile(filepath.Join(look, "memory.max"), []byte("67108864\n"), 0o644)
	sleep2 := exec.Command("sleep", "1005")
	if err := sleep2.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleep2.Process.Kill(); _ = sleep2.Wait() })
	if r := Grade(ctx, l); r.Passed != 0 {
		t.Errorf("cgroup-memory faked: %d tasks passed: %+v", r.Passed, r.Tasks)
	}

	// overlay-by-hand: upper and lower made by hand, no mount, a regular
	// empty file where the whiteout should be.
	l = loadLab(t, "overlay-by-hand")
	if _, err := Reset(ctx, l); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = Reset(context.Background(), l) })
	if err := Start(ctx, l, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	d := "/tmp/ctrlab-lab-ovl"
	_ = os.MkdirAll(d+"/upper", 0o755)
	_ = os.MkdirAll(d+"/merged", 0o755)
	_ = os.WriteFile(d+"/upper/hello.txt", []byte("hello from the lower layer\nchanged\n"), 0o644)
	_ = os.WriteFile(d+"/upper/remove-me.txt", nil, 0o000)
	r := Grade(ctx, l)
	for _, task := range r.Tasks {
		if task.Pass && task.ID != "copy-up" {
			t.Errorf("overlay faked: task %s passed", task.ID)
		}
	}
	if r.Tasks[0].Pass || r.Tasks[2].Pass {
		t.Errorf("overlay faked without a mount: %+v", r.Tasks)
	}
}
