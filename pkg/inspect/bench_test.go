package inspect

import "testing"

// BenchmarkSnapshotSelf reads this process's kernel state: namespace
// inodes, cgroup, mountinfo, capabilities, id maps and (via netlink) links.
func BenchmarkSnapshotSelf(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Snapshot("self"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSnapshotSelfNoLinks is the same without the netlink dump.
func BenchmarkSnapshotSelfNoLinks(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Snapshot("self", WithoutLinks()); err != nil {
			b.Fatal(err)
		}
	}
}
