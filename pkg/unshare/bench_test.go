package unshare

import (
	"context"
	"os/exec"
	"testing"

	"github.com/ctrlab/ctrlab/pkg/ns"
	"github.com/ctrlab/ctrlab/pkg/testutil"
)

// BenchmarkUnshareTrue re-executes ctrlab-unshare-init in new mount, PID,
// network, UTS and IPC namespaces and runs the host's true(1): the
// namespace half of a container start, without a rootfs. Root only.
func BenchmarkUnshareTrue(b *testing.B) {
	testutil.RequireRoot(b)
	tr, err := exec.LookPath("true")
	if err != nil {
		b.Skip("no true(1) on PATH")
	}
	cfg := Config{Kinds: []ns.Kind{ns.Mount, ns.PID, ns.Net, ns.UTS, ns.IPC}, Args: []string{tr}}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := Run(ctx, cfg, Stdio{})
		if err != nil {
			b.Fatal(err)
		}
		if res.ExitCode != 0 {
			b.Fatalf("true exited %d", res.ExitCode)
		}
	}
}
