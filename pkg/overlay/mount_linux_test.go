package overlay

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ctrlab/ctrlab/pkg/testutil"
)

func readNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func TestCopyUpKeepsLowerAndCopiesWhole(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	orig := make([]byte, 256<<10)
	rand.Read(orig)
	s := stack(t, 2, func(l []string) {
		mkdirs(t, filepath.Join(l[1], "data"))
		if err := os.WriteFile(filepath.Join(l[1], "data", "big.bin"), orig, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	mount(t, s)

	lowerPath := filepath.Join(s.Lowers[1], "data", "big.bin")
	upperPath := filepath.Join(s.Upper, "data", "big.bin")
	var lowerBefore unix.Stat_t
	if err := unix.Stat(lowerPath, &lowerBefore); err != nil {
		t.Fatal(err)
	}
	// A read is served by the lower layer: nothing appears in upper.
	got, err := os.ReadFile(filepath.Join(s.Target, "data", "big.bin"))
	if err != nil || !bytes.Equal(got, orig) {
		t.Fatalf("reading through the merged view: %v (equal=%v)", err, bytes.Equal(got, orig))
	}
	if _, err := os.Lstat(upperPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a read made %s appear (err=%v)", upperPath, err)
	}

	// Append 5 bytes: overlayfs copies the whole file up first.
	f, err := os.OpenFile(filepath.Join(s.Target, "data", "big.bin"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("more\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()

	lowerNow, err := os.ReadFile(lowerPath)
	if err != nil || !bytes.Equal(lowerNow, orig) {
		t.Fatalf("lower file changed by a write through the overlay (err=%v)", err)
	}
	var lowerAfter unix.Stat_t
	if err := unix.Stat(lowerPath, &lowerAfter); err != nil || lowerAfter.Ino != lowerBefore.Ino || lowerAfter.Size != lowerBefore.Size {
		t.Fatalf("lower inode/size changed: before %d/%d after %d/%d", lowerBefore.Ino, lowerBefore.Size, lowerAfter.Ino, lowerAfter.Size)
	}
	upperNow, err := os.ReadFile(upperPath)
	if err != nil {
		t.Fatalf("no copy in upper after the write: %v", err)
	}
	if want := append(append([]byte{}, orig...), "more\n"...); !bytes.Equal(upperNow, want) {
		t.Fatalf("upper holds %d bytes, want the full %d-byte copy plus the append", len(upperNow), len(want))
	}
	// The parent directory was copied up too, as a directory.
	if fi, err := os.Lstat(filepath.Join(s.Upper, "data")); err != nil || !fi.IsDir() {
		t.Fatalf("parent dir not copied up: %v", err)
	}

	es, err := LayersAt(s.Target)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := findEntry(es, "/data/big.bin")
	if !ok || e.Layer != "upper" || !reflect.DeepEqual(e.Below, []string{"lower2"}) || e.Size != int64(len(orig)+5) {
		t.Fatalf("layer table entry = %+v, want served by upper, hiding lower2", e)
	}
}

func TestDeleteMakesWhiteout(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	s := stack(t, 1, func(l []string) {
		writeFile(t, filepath.Join(l[0], "etc", "motd"), "hello\n")
		writeFile(t, filepath.Join(l[0], "etc", "hostname"), "box\n")
	})
	mount(t, s)
	if err := os.Remove(filepath.Join(s.Target, "etc", "motd")); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	wh := filepath.Join(s.Upper, "etc", "motd")
	if err := unix.Lstat(wh, &st); err != nil {
		t.Fatalf("no whiteout in upper: %v", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Fatalf("upper/etc/motd mode %o rdev %d; want a 0/0 character device", st.Mode, st.Rdev)
	}
	if !IsWhiteout(wh) {
		t.Fatal("IsWhiteout = false for the kernel's whiteout")
	}
	if _, err := os.Stat(filepath.Join(s.Lowers[0], "etc", "motd")); err != nil {
		t.Fatalf("lower file gone: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(s.Target, "etc", "motd")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("deleted file still in the merged view: %v", err)
	}
	es, err := Layers(s)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := findEntry(es, "/etc/motd")
	if !ok || !e.Whiteout || e.Layer != "upper" || e.Type != "whiteout" || !reflect.DeepEqual(e.Below, []string{"lower1"}) {
		t.Fatalf("layer table entry for /etc/motd = %+v, want an upper whiteout hiding lower1", e)
	}
	if e, ok := findEntry(es, "/etc/hostname"); !ok || e.Layer != "lower1" || e.Whiteout {
		t.Fatalf("untouched /etc/hostname = %+v, want served by lower1", e)
	}
}

func TestOpaqueDirHidesLower(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	s := stack(t, 2, func(l []string) {
		writeFile(t, filepath.Join(l[0], "app", "static", "a.css"), "a")
		writeFile(t, filepath.Join(l[1], "app", "static", "b.html"), "b")
	})
	mount(t, s)
	dir := filepath.Join(s.Target, "app", "static")
	if got := readNames(t, dir); !reflect.DeepEqual(got, []string{"a.css", "b.html"}) {
		t.Fatalf("merged dir before = %v", got)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	mkdirs(t, dir)
	writeFile(t, filepath.Join(dir, "new.html"), "n")
	if got := readNames(t, dir); !reflect.DeepEqual(got, []string{"new.html"}) {
		t.Fatalf("merged dir after rm -r + mkdir = %v, want only new.html", got)
	}
	buf := make([]byte, 4)
	n, err := unix.Lgetxattr(filepath.Join(s.Upper, "app", "static"), XattrOpaque, buf)
	if err != nil || string(buf[:n]) != "y" {
		t.Fatalf("trusted.overlay.opaque on upper dir = %q, %v; want y", buf[:n], err)
	}
	es, err := LayersAt(s.Target)
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := findEntry(es, "/app/static"); !ok || !e.Opaque || e.Layer != "upper" {
		t.Fatalf("/app/static entry = %+v, want opaque in upper", e)
	}
	for _, hidden := range []string{"/app/static/a.css", "/app/static/b.html"} {
		if e, ok := findEntry(es, hidden); ok {
			t.Errorf("layer table lists hidden %s: %+v", hidden, e)
		}
	}
}

func TestDiffMatchesActions(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	s := stack(t, 2, func(l []string) {
		writeFile(t, filepath.Join(l[1], "etc", "os-release"), "base")
		writeFile(t, filepath.Join(l[1], "etc", "motd"), "base motd")
		writeFile(t, filepath.Join(l[0], "etc", "app.conf"), "port=80")
		writeFile(t, filepath.Join(l[0], "app", "static", "a.css"), "a")
		writeFile(t, filepath.Join(l[1], "app", "static", "b.html"), "b")
		writeFile(t, filepath.Join(l[1], "usr", "bin", "tool"), "t")
	})
	mount(t, s)
	m := s.Target
	// read (no change), modify, add, delete, replace a directory
	if _, err := os.ReadFile(filepath.Join(m, "etc", "os-release")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(m, "etc", "app.conf"), "port=8080")
	writeFile(t, filepath.Join(m, "tmp", "new.txt"), "new")
	if err := os.Remove(filepath.Join(m, "etc", "motd")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(m, "app", "static")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(m, "app", "static", "index.html"), "i")

	want := []string{
		"C /app", "C /app/static", "D /app/static/a.css", "D /app/static/b.html", "A /app/static/index.html",
		"C /etc", "C /etc/app.conf", "D /etc/motd",
		"A /tmp", "A /tmp/new.txt",
	}
	for _, tc := range []struct {
		name string
		diff func() ([]Change, error)
	}{
		{"Diff(upper, lowers)", func() ([]Change, error) { return Diff(s.Upper, s.Lowers...) }},
		{"DiffAt(merged)", func() ([]Change, error) { return DiffAt(m) }},
	} {
		cs, err := tc.diff()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range cs {
			got = append(got, c.String())
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s =\n  %s\nwant\n  %s", tc.name, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
}

func TestMountErrorFromKernel(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	s := stack(t, 1, nil)
	s.Options = []string{"ro", "ctrlab_no_such_option=1"}
	err := Mount(context.Background(), s)
	var me *MountError
	if !errors.As(err, &me) || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("Mount with a bogus option = %v, want a MountError wrapping EINVAL", err)
	}
	if me.FSType != "overlay" || me.Target != s.Target || !strings.Contains(me.Data, "lowerdir="+s.Lowers[0]) || FlagString(me.Flags) != "MS_RDONLY" {
		t.Fatalf("MountError fields = %+v", me)
	}
	if _, err := FindMount(s.Target); err == nil {
		t.Fatal("a mount appeared after the kernel refused")
	}
}

func TestMountedSpecReadsBackOddPaths(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	d := tempDir(t)
	s := Spec{Lowers: []string{filepath.Join(d, "top layer"), filepath.Join(d, "a:b")},
		Upper: filepath.Join(d, "up"), Work: filepath.Join(d, "work"), Target: filepath.Join(d, "merged")}
	mkdirs(t, append([]string{s.Upper, s.Work, s.Target}, s.Lowers...)...)
	writeFile(t, filepath.Join(s.Lowers[1], "from-bottom"), "x")
	mount(t, s)
	got, err := MountedSpec(s.Target)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Lowers, s.Lowers) || got.Upper != s.Upper || got.Work != s.Work {
		t.Fatalf("MountedSpec = %+v\nwant %+v", got, s)
	}
	line, err := MountinfoLine(s.Target)
	if err != nil || !strings.Contains(line, " - overlay ") || !strings.Contains(line, `top\040layer`) {
		t.Fatalf("MountinfoLine = %q, %v", line, err)
	}
	if _, err := os.Stat(filepath.Join(s.Target, "from-bottom")); err != nil {
		t.Fatalf("file of the bottom layer not visible: %v", err)
	}
}

// More than a page of options: Mount passes the layers one by one with
// fsconfig(2) lowerdir+ instead of one mount(2) string.
func TestMountLongOptions(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireKernel(t, 6, 8)
	t.Parallel()
	d := tempDir(t)
	s := Spec{Upper: filepath.Join(d, "upper"), Work: filepath.Join(d, "work"), Target: filepath.Join(d, "merged")}
	long := strings.Repeat("x", 120)
	for i := 0; i < 40; i++ {
		l := filepath.Join(d, long+"-layer"+string(rune('A'+i%26))+string(rune('a'+i/26)))
		s.Lowers = append(s.Lowers, l)
		writeFile(t, filepath.Join(l, "f"), l)
		writeFile(t, filepath.Join(l, "only", filepath.Base(l)), "x")
	}
	mkdirs(t, s.Upper, s.Work, s.Target)
	if len(s.Data()) < pageSize {
		t.Fatalf("test options only %d bytes", len(s.Data()))
	}
	mount(t, s)
	line, err := MountinfoLine(s.Target)
	if err != nil || !strings.Contains(line, "lowerdir+=") {
		t.Fatalf("mountinfo = %q, %v; want the lowerdir+ form", line, err)
	}
	got, err := MountedSpec(s.Target)
	if err != nil || !reflect.DeepEqual(got.Lowers, s.Lowers) {
		t.Fatalf("MountedSpec lowers differ (%v)", err)
	}
	// The top layer serves f; every layer contributes to only/.
	if b, err := os.ReadFile(filepath.Join(s.Target, "f")); err != nil || string(b) != s.Lowers[0] {
		t.Fatalf("merged f = %q, %v; want served by the top lower", b, err)
	}
	if n := len(readNames(t, filepath.Join(s.Target, "only"))); n != 40 {
		t.Fatalf("merged only/ has %d entries, want 40", n)
	}
}

func TestUnmount(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	s := stack(t, 1, func(l []string) { writeFile(t, filepath.Join(l[0], "f"), "x") })
	if err := Unmount(s.Target); !errors.Is(err, ErrNotMounted) {
		t.Fatalf("Unmount of a plain dir = %v, want ErrNotMounted", err)
	}
	if err := Mount(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	// A file held open makes the mount busy: Unmount detaches it lazily.
	f, err := os.Open(filepath.Join(s.Target, "f"))
	if err != nil {
		unix.Unmount(s.Target, unix.MNT_DETACH)
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := Unmount(s.Target); err != nil {
		unix.Unmount(s.Target, unix.MNT_DETACH)
		t.Fatalf("Unmount of a busy overlay: %v", err)
	}
	if _, err := FindMount(s.Target); !errors.Is(err, ErrNotMounted) {
		t.Fatalf("overlay still mounted after Unmount: %v", err)
	}
	if b := make([]byte, 1); true {
		if _, err := f.Read(b); err != nil || b[0] != 'x' {
			t.Fatalf("the open file stopped working after a lazy unmount: %v", err)
		}
	}
}
