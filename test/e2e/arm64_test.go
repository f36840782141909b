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
