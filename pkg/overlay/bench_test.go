package overlay

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ctrlab/ctrlab/pkg/testutil"
)

// BenchmarkMountUnmount mounts and unmounts an overlay of 1 and of 6
// lowers (the shape of a small and of a typical image) with an upper and
// work dir, as `ctrlab run IMAGE` does per container. Root only.
func BenchmarkMountUnmount(b *testing.B) {
	testutil.RequireRoot(b)
	if err := Supported(); err != nil {
		b.Skip(err)
	}
	for _, n := range []int{1, 6} {
		b.Run(fmt.Sprintf("lowers=%d", n), func(b *testing.B) {
			dir, err := os.MkdirTemp("", "ctrlab-ovlbench-")
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() {
				_ = Unmount(filepath.Join(dir, "merged")) // only if a Fatal left it
				os.RemoveAll(dir)
			})
			s := Spec{Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work"), Target: filepath.Join(dir, "merged")}
			for i := 0; i < n; i++ {
				l := filepath.Join(dir, fmt.Sprintf("l%d", i))
				s.Lowers = append(s.Lowers, l)
				if err := os.MkdirAll(filepath.Join(l, fmt.Sprintf("etc/l%d", i)), 0o755); err != nil {
					b.Fatal(err)
				}
			}
			for _, d := range []string{s.Upper, s.Work, s.Target} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := Mount(ctx, s); err != nil {
					b.Fatal(err)
				}
				if err := Unmount(s.Target); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
