package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// binfmtAarch64 reports whether binfmt_misc runs aarch64 binaries here.
func binfmtAarch64() bool {
	for _, n := range []string{"ctrlab-aarch64", "qemu-aarch64"} {
		b, err := os.ReadFile(filepath.Join("/proc/sys/fs/binfmt_misc", n))
		if err == nil && strings.HasPrefix(string(b), "enabled") {
			return true
		}
	}
	return false
}

// TestRunArm64 runs the arm64 busybox image. It needs binfmt_misc for
// aarch64 (hack/binfmt.sh register) and the image: from the registry
// (CTRLAB_TEST_REGISTRY) or built from an arm64 static busybox
// (CTRLAB_TEST_BUSYBOX_ARM64). `make test-arm64-run` sets all of it up.
func TestRunArm64(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the arm64-under-qemu test runs on amd64 hosts")
	}
	if !binfmtAarch64() {
		t.Skip("binfmt_misc has no aarch64 entry: run `make test-arm64-run` (hack/binfmt.sh register)")
	}
	e := newEnv(t)
	ref := ""
	if bb := os.Getenv("CTRLAB_TEST_BUSYBOX_ARM64"); bb != "" {
		dir := filepath.Join(t.TempDir(), "oci")
		if err := writeBusyboxLayout(dir, bb, "arm64"); err != nil {
			t.Fatal(err)
		}
		e.mustRun("load", dir)
		ref = BusyboxRef
	} else if reg := os.Getenv("CTRLAB_TEST_REGISTRY"); reg != "" {
		ref = reg + "/busybox:latest"
		e.mustRun("pull", "--insecure", "--platform", "linux/arm64", ref)
	} else {
		t.Skip("no arm64 busybox image: set CTRLAB_TEST_BUSYBOX_ARM64 or CTRLAB_TEST_REGISTRY (make test-arm64-run does)")
	}

	t.Run("amd64 ctrlab, arm64 image", func(t *testing.T) {
		start := time.Now()
		out := e.mustRun("run", "--rm", "--platform", "linux/arm64", ref, "sh", "-c", "uname -m; echo pid=$$; ip -4 -o addr show eth0 | wc -l")
		if f := strings.Fields(out); len(f) < 3 || f[0] != "aarch64" || f[1] != "pid=1" || f[2] != "1" {
			t.Errorf("want aarch64, PID 1 and an eth0 address; got %q", out)
		}
		t.Logf("amd64 ctrlab ran the arm64 image in %v", time.Since(start).Round(time.Millisecond))
		e.assertNoLeftovers()
	})

	t.Run("arm64 ctrlab under qemu-user", func(t *testing.T) {
		bin := filepath.Join(t.TempDir(), "ctrlab-arm64")
		build := exec.Command("go", "build", "-o", bin, "github.com/ctrlab/ctrlab/cmd/ctrlab")
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOARCH=arm64")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building the arm64 binary: %v\n%s", err, out)
		}
		start := time.Now()
		c := exec.Command("nsenter", "--net="+e.nsPath, bin, "run", "--rm", "--network", "none", "--platform", "linux/arm64", ref, "uname", "-m")
		c.Env = append(os.Environ(), "CTRLAB_ROOT="+e.root)
		out, err := c.CombinedOutput()
		if err != nil && strings.Contains(string(out), "fork/exec /proc/self/exe: invalid argument") {
			// qemu-user (7.2, Debian 12) emulates clone(2) without CLONE_VM
			// as fork and refuses any other flag, so CLONE_NEW* give EINVAL.
			t.Skipf("qemu-user refuses clone(2) with namespace flags (EINVAL): the arm64 binary needs a real arm64 kernel or the arm64 VM; output: %s", out)
		}
		if err != nil || strings.TrimSpace(string(out)) != "aarch64" {
			t.Fatalf("arm64 ctrlab run: %v: %q", err, out)
		}
		t.Logf("arm64 ctrlab under qemu-user ran the arm64 image in %v", time.Since(start).Round(time.Millisecond))
		e.assertNoLeftovers()
	})
}

// TestRunArm64Native runs the arm64 ctrlab binary on an arm64 kernel (the
// arm64 test VM, `make test-arm64-vm`, or an arm64 machine) with the busybox
// image built from the machine's own arm64 /bin/busybox: PID 1, new
// namespaces, the overlay at /, aarch64.
func TestRunArm64Native(t *testing.T) {
	if runtime.GOARCH != "arm64" {
		t.Skip("runs where ctrlab itself is arm64 (make test-arm64-vm)")
	}
	e := newEnv(t)
	e.needBusybox()
	script := `echo arch=$(uname -m) pid=$$; for n in mnt pid net ipc uts cgroup; do echo ns:$n=$(readlink /proc/self/ns/$n); done
awk '$5 == "/" {for (i = 7; i < NF; i++) if ($i == "-") print "rootfs=" $(i+1)}' /proc/self/mountinfo; echo cgroup=$(cat /proc/self/cgroup)`
	start := time.Now()
	out := e.mustRun("run", "--rm", "--network", "none", BusyboxRef, "sh", "-c", script)
	t.Logf("arm64 ctrlab ran the arm64 image in %v:\n%s", time.Since(start).Round(time.Millisecond), out)
	kv := map[string]string{}
	for _, f := range strings.Fields(out) {
		if k, v, ok := strings.Cut(f, "="); ok {
			kv[k] = v
		}
	}
	for k, want := range map[string]string{"arch": "aarch64", "pid": "1", "rootfs": "overlay"} {
		if kv[k] != want {
			t.Errorf("%s = %q, want %q\n%s", k, kv[k], want, out)
		}
	}
	for _, n := range []string{"mnt", "pid", "net", "ipc", "uts", "cgroup"} {
		if in := kv["ns:"+n]; in == "" || in == nsLink(os.Getpid(), n) {
			t.Errorf("namespace %s inside %q: want a new one (host %q)", n, in, nsLink(os.Getpid(), n))
		}
	}
	e.assertNoLeftovers()
}
