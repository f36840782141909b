package cgroup

import (
	"testing"

	"github.com/ctrlab/ctrlab/pkg/testutil"
)

// BenchmarkNewSetDelete creates ctrlab/NAME in every usable hierarchy,
// writes a memory, CPU and pids limit, and removes it: the cgroup work of
// one `ctrlab run -m 64m --cpus 0.5 --pids-limit 64`. Root only.
func BenchmarkNewSetDelete(b *testing.B) {
	testutil.RequireRoot(b)
	r := Resources{MemoryMax: 64 << 20, CPUs: 0.5, PidsMax: 64}
	for i := 0; i < b.N; i++ {
		c, err := New(testutil.Name("bcg"))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Set(r); err != nil {
			_ = c.Delete()
			b.Fatal(err)
		}
		if err := c.Delete(); err != nil {
			b.Fatal(err)
		}
	}
}
