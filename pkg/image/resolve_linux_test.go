package image

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// The hand-made resolver (used where openat2 is missing: kernels before 5.6,
// qemu-user) must agree with the rules of RESOLVE_IN_ROOT.
func TestOpenInRootFallback(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "a/b"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "a/b/f"), []byte("in"), 0o644))
	must(os.WriteFile(filepath.Join(outside, "f"), []byte("out"), 0o644))
	must(os.Symlink("/a", filepath.Join(dir, "abs")))              // absolute: means <root>/a
	must(os.Symlink("../../../../..", filepath.Join(dir, "a/up"))) // climbs: stops at root
	must(os.Symlink(outside, filepath.Join(dir, "escape")))        // absolute host path: inside root
	must(os.Symlink("loop2", filepath.Join(dir, "loop1")))         // a loop
	must(os.Symlink("loop1", filepath.Join(dir, "loop2")))
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	must(err)
	defer unix.Close(root)
	read := func(rel string) (string, error) {
		fd, err := openInRoot(root, rel, unix.O_RDONLY, true)
		if err != nil {
			return "", err
		}
		defer unix.Close(fd)
		b := make([]byte, 16)
		n, err := unix.Read(fd, b)
		return string(b[:n]), err
	}
	for _, rel := range []string{"a/b/f", "abs/b/f", "a/up/a/b/f", "../../a/b/f", "a/b/../b/./f"} {
		if got, err := read(rel); err != nil || got != "in" {
			t.Errorf("%s: got %q, %v; want the file inside", rel, got, err)
		}
	}
	if _, err := read("escape/f"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("escape/f: err = %v, want ENOENT (the host path is taken inside the root)", err)
	}
	if _, err := read("loop1"); !errors.Is(err, unix.ELOOP) {
		t.Errorf("loop1: err = %v, want ELOOP", err)
	}
	if _, err := read("a/b/f/x"); !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("a/b/f/x: err = %v, want ENOTDIR", err)
	}
	fd, err := openInRoot(root, "abs", unix.O_PATH|unix.O_NOFOLLOW, true)
	must(err)
	var st unix.Stat_t
	must(unix.Fstat(fd, &st))
	unix.Close(fd)
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Errorf("O_NOFOLLOW on a trailing symlink opened mode %o, want the link itself", st.Mode)
	}
}
