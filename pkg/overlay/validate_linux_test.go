package overlay

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Validation runs before any syscall that changes state, so these cases
// need no privilege.
func TestValidateErrors(t *testing.T) {
	t.Parallel()
	shm := "/dev/shm"
	for _, tc := range []struct {
		name  string
		edit  func(t *testing.T, s *Spec)
		want  error
		rule  string
		path  func(s Spec) string
		needs string
	}{
		{"no lower", func(t *testing.T, s *Spec) { s.Lowers = nil }, ErrNoLower, "at least one", nil, ""},
		{"lower missing", func(t *testing.T, s *Spec) { s.Lowers[1] += "-gone" }, ErrLowerMissing, "lower2", func(s Spec) string { return s.Lowers[1] }, ""},
		{"lower is a file", func(t *testing.T, s *Spec) { writeFile(t, s.Lowers[0]+"f", "x"); s.Lowers[0] += "f" }, ErrLowerMissing, "must be an existing directory", func(s Spec) string { return s.Lowers[0] }, ""},
		{"upper missing", func(t *testing.T, s *Spec) { s.Upper += "-gone" }, ErrUpperMissing, "upperdir", func(s Spec) string { return s.Upper }, ""},
		{"work missing", func(t *testing.T, s *Spec) { s.Work += "-gone" }, ErrWorkMissing, "workdir", func(s Spec) string { return s.Work }, ""},
		{"work without upper", func(t *testing.T, s *Spec) { s.Upper = "" }, ErrWorkRequired, "together", nil, ""},
		{"target missing", func(t *testing.T, s *Spec) { s.Target += "-gone" }, ErrTargetMissing, "mount on", func(s Spec) string { return s.Target }, ""},
		{"work not empty", func(t *testing.T, s *Spec) { writeFile(t, filepath.Join(s.Work, "stray"), "x") }, ErrWorkNotEmpty, "must be empty", func(s Spec) string { return s.Work }, ""},
		{"work inside upper", func(t *testing.T, s *Spec) { s.Work = filepath.Join(s.Upper, "w"); mkdirs(t, s.Work) }, ErrNested, "neither inside", nil, ""},
		{"cross device", func(t *testing.T, s *Spec) {
			w, err := os.MkdirTemp(shm, "ctrlab-ovltest-")
			if err != nil {
				t.Skipf("no second filesystem at %s: %v", shm, err)
			}
			t.Cleanup(func() { os.RemoveAll(w) })
			s.Work = w
		}, ErrCrossDevice, "rename(2) cannot cross filesystems", func(s Spec) string { return s.Work }, "shm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := stack(t, 2, nil)
			if tc.needs == "shm" {
				var a, b = statDev(t, s.Upper), statDev(t, shm)
				if a == b {
					t.Skipf("%s is on the same filesystem as %s", shm, s.Upper)
				}
			}
			tc.edit(t, &s)
			err := Validate(s)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Validate = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.rule) {
				t.Errorf("error %q does not state the rule (%q)", err, tc.rule)
			}
			if tc.path != nil && !strings.Contains(err.Error(), tc.path(s)) {
				t.Errorf("error %q does not name the path %q", err, tc.path(s))
			}
			// Mount reports the same sentinel and leaves nothing mounted.
			if err := Mount(context.Background(), s); !errors.Is(err, tc.want) {
				t.Fatalf("Mount = %v, want %v", err, tc.want)
			}
			if _, err := FindMount(s.Target); err == nil {
				t.Fatalf("a mount appeared at %s after a refused Mount", s.Target)
			}
		})
	}
}

func statDev(t *testing.T, p string) uint64 {
	t.Helper()
	st, ok := isDir(p)
	if !ok {
		t.Skipf("%s is not a directory", p)
	}
	return uint64(st.Dev)
}

// A workdir that overlayfs itself used before (it leaves work/work) is fine.
func TestValidateReusedWork(t *testing.T) {
	t.Parallel()
	s := stack(t, 1, nil)
	mkdirs(t, filepath.Join(s.Work, "work"), filepath.Join(s.Work, "index"))
	if err := Validate(s); err != nil {
		t.Fatalf("Validate with kernel-made work/work: %v", err)
	}
}

// Not parallel: it swaps the package's /proc/filesystems path.
func TestValidateNotSupported(t *testing.T) {
	d := tempDir(t)
	fake := filepath.Join(d, "filesystems")
	writeFile(t, fake, "nodev\tsysfs\nnodev\ttmpfs\n\text4\n")
	old, oldMods := procFilesystems, modulesDir
	procFilesystems, modulesDir = fake, d
	t.Cleanup(func() { procFilesystems, modulesDir = old, oldMods })
	err := Validate(Spec{Lowers: []string{d}, Target: d})
	if !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), "modprobe overlay") {
		t.Fatalf("Validate = %v, want ErrNotSupported with a modprobe hint", err)
	}
}
