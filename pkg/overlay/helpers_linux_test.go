package overlay

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctrlab/ctrlab/pkg/reexec"
)

func TestMain(m *testing.M) {
	if reexec.Init() {
		return
	}
	os.Exit(m.Run())
}

// tempDir makes a ctrlab-prefixed scratch directory (so anything left
// behind is easy to spot) and removes it at cleanup, refusing to if a
// mount is still inside it.
func tempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "ctrlab-ovltest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if b, _ := os.ReadFile("/proc/self/mountinfo"); bytes.Contains(b, []byte(" "+d+"/")) {
			t.Errorf("a mount is still under %s; not removing it", d)
			return
		}
		os.RemoveAll(d)
	})
	return d
}

func mkdirs(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	mkdirs(t, filepath.Dir(p))
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// stack lays out lowers l1..lN (l1 on top), upper, work and merged under a
// fresh temp dir; fill populates the lowers before the mount.
func stack(t *testing.T, n int, fill func(lowers []string)) Spec {
	t.Helper()
	d := tempDir(t)
	s := Spec{Upper: filepath.Join(d, "upper"), Work: filepath.Join(d, "work"), Target: filepath.Join(d, "merged")}
	for i := 1; i <= n; i++ {
		s.Lowers = append(s.Lowers, filepath.Join(d, "l"+string(rune('0'+i))))
	}
	mkdirs(t, append([]string{s.Upper, s.Work, s.Target}, s.Lowers...)...)
	if fill != nil {
		fill(s.Lowers)
	}
	return s
}

// mount mounts s and unmounts it at cleanup, asserting the mount is gone.
func mount(t *testing.T, s Spec) {
	t.Helper()
	if err := Mount(context.Background(), s); err != nil {
		t.Fatalf("Mount: %v", err)
	}
	t.Cleanup(func() {
		if err := Unmount(s.Target); err != nil {
			t.Errorf("Unmount: %v", err)
		}
		if b, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(b), " "+s.Target+" ") {
			t.Errorf("%s still in mountinfo after Unmount", s.Target)
		}
	})
}

func findEntry(es []Entry, p string) (Entry, bool) {
	for _, e := range es {
		if e.Path == p {
			return e, true
		}
	}
	return Entry{}, false
}
