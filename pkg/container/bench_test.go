package container

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ctrlab/ctrlab/pkg/testutil"
)

// benchRootfs is the smallest rootfs that runs /bin/true: a static
// busybox and one applet link.
func benchRootfs(b *testing.B) string {
	b.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		b.Skip("needs busybox (apt-get install busybox-static)")
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		b.Fatal(err)
	}
	root := filepath.Join(b.TempDir(), "rootfs")
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), data, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.Symlink("busybox", filepath.Join(root, "bin/true")); err != nil {
		b.Fatal(err)
	}
	return root
}

// BenchmarkRunTrue is the library half of `ctrlab run --rm --network none
// --rootfs DIR /bin/true`: state directory, re-exec of ctrlab-init with six
// new namespaces, the rootfs mounts, pivot_root, capabilities, execve, wait,
// removal. Root only.
func BenchmarkRunTrue(b *testing.B) {
	testutil.RequireRoot(b)
	rootfs := benchRootfs(b)
	s := NewStore(filepath.Join(b.TempDir(), "containers"))
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cfg := NewConfig(rootfs, "/bin/true")
		cfg.ReadOnlyRootfs = true
		code, err := s.Run(ctx, cfg, RunOptions{AutoRemove: true}, WithStdio(nil, io.Discard, io.Discard))
		if err != nil {
			b.Fatal(err)
		}
		if code != 0 {
			b.Fatalf("/bin/true exited %d", code)
		}
	}
}
