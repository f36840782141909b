package overlay

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ctrlab/ctrlab/pkg/reexec"
	"github.com/ctrlab/ctrlab/pkg/testutil"
)

// ociLayer writes an OCI-form layer: ".wh.motd" deletes a lower motd,
// app/static/.wh..wh..opq hides the lower app/static, and keep/ holds both
// a file and its own whiteout (the file wins: whiteouts hide lower layers only).
func ociLayer(t *testing.T, dir string) {
	t.Helper()
	writeFile(t, filepath.Join(dir, "etc", "app.conf"), "port=8080")
	writeFile(t, filepath.Join(dir, "etc", ".wh.motd"), "")
	writeFile(t, filepath.Join(dir, "app", "static", ".wh..wh..opq"), "")
	writeFile(t, filepath.Join(dir, "app", "static", "index.html"), "new")
	writeFile(t, filepath.Join(dir, ".wh.tmp"), "")
	writeFile(t, filepath.Join(dir, "keep", "x"), "mine")
	writeFile(t, filepath.Join(dir, "keep", ".wh.x"), "")
}

// snapshot describes a tree as path -> kind, read from the filesystem.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		switch {
		case st.Mode&unix.S_IFMT == unix.S_IFCHR:
			out[rel] = "char " + string(rune('0'+unix.Major(uint64(st.Rdev)))) + "/" + string(rune('0'+unix.Minor(uint64(st.Rdev))))
		case d.IsDir():
			k := "dir"
			for _, a := range []string{XattrOpaque, XattrUserOpaque} {
				buf := make([]byte, 4)
				if n, err := unix.Lgetxattr(p, a, buf); err == nil {
					k += " " + a + "=" + string(buf[:n])
				}
			}
			out[rel] = k
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = "file " + string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// roundTrip converts an OCI layer to overlay form, checks the overlay form
// on disk, converts back and checks the OCI form came back.
func roundTrip(t *testing.T, dir string, opaqueAttr string, opts ...ConvertOption) {
	t.Helper()
	ociLayer(t, dir)
	before := snapshot(t, dir)
	if err := ConvertOCIToOverlay(dir, opts...); err != nil {
		if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) {
			t.Skipf("filesystem of %s lacks the needed xattrs: %v", dir, err)
		}
		t.Fatalf("ConvertOCIToOverlay: %v", err)
	}
	checkOverlayForm(t, dir, opaqueAttr)
	if err := ConvertOverlayToOCI(dir, opts...); err != nil {
		t.Fatalf("ConvertOverlayToOCI: %v", err)
	}
	after := snapshot(t, dir)
	// keep/.wh.x named a file of its own layer; it is dropped on the way in.
	delete(before, filepath.Join("keep", ".wh.x"))
	if !reflect.DeepEqual(after, before) {
		t.Fatalf("round trip changed the layer:\n got %v\nwant %v", after, before)
	}
}

func checkOverlayForm(t *testing.T, dir, opaqueAttr string) {
	t.Helper()
	want := map[string]string{
		".":                     "dir",
		"tmp":                   "char 0/0",
		"etc":                   "dir",
		"etc/app.conf":          "file port=8080",
		"etc/motd":              "char 0/0",
		"app":                   "dir",
		"app/static":            "dir " + opaqueAttr + "=y",
		"app/static/index.html": "file new",
		"keep":                  "dir",
		"keep/x":                "file mine",
	}
	if got := snapshot(t, dir); !reflect.DeepEqual(got, want) {
		t.Fatalf("overlay form:\n got %v\nwant %v", got, want)
	}
	if !IsWhiteout(filepath.Join(dir, "etc", "motd")) || !IsOpaque(filepath.Join(dir, "app", "static")) {
		t.Fatal("IsWhiteout/IsOpaque do not recognise the converted layer")
	}
}

// No privilege needed: the 0/0 whiteout device may be made by any user
// (Linux 5.8+), and user.overlay.* xattrs by the file's owner.
func TestWhiteoutRoundTripUserXattr(t *testing.T) {
	t.Parallel()
	roundTrip(t, tempDir(t), XattrUserOpaque, WithUserXattr())
}

const userNSEntry = "ctrlab-overlay-test-convert"

func init() {
	// Runs inside a fresh user namespace: convert the layer given as
	// argument, and prove we hold no host privilege (trusted.* is refused).
	reexec.Register(userNSEntry, func() {
		dir := os.Args[1]
		probe := filepath.Join(dir, "probe")
		if err := os.Mkdir(probe, 0o755); err != nil {
			os.Stderr.WriteString(err.Error())
			os.Exit(2)
		}
		if err := SetOpaque(probe); !errors.Is(err, unix.EPERM) {
			os.Stderr.WriteString("trusted.overlay.opaque was settable: not unprivileged: " + errString(err))
			os.Exit(3)
		}
		os.Remove(probe)
		if err := ConvertOCIToOverlay(dir, WithUserXattr()); err != nil {
			os.Stderr.WriteString(err.Error())
			os.Exit(1)
		}
		os.Exit(0)
	})
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// The same conversion, done by a process that demonstrably has no host
// privilege (inside an unprivileged user namespace), whoever runs the test.
func TestWhiteoutConvertInUserNS(t *testing.T) {
	testutil.RequireUserNS(t)
	t.Parallel()
	dir := tempDir(t)
	ociLayer(t, dir)
	cmd := reexec.Command(userNSEntry, dir)
	cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWUSER
	cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
	cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 1 && strings.Contains(string(out), "not supported") {
		t.Skipf("filesystem lacks user xattrs: %s", out)
	}
	if errors.Is(err, syscall.EINVAL) {
		// qemu-user (the arm64 unit-test run) refuses clone flags it does not emulate.
		t.Skipf("this system cannot clone into a user namespace: %v", err)
	}
	if err != nil {
		t.Fatalf("converting in a user namespace: %v: %s", err, out)
	}
	checkOverlayForm(t, dir, XattrUserOpaque)
}

// As root: the trusted.* form, and the kernel itself honours the converted
// layer when it is mounted over a base layer.
func TestWhiteoutRoundTripTrustedMounted(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	s := stack(t, 2, func(l []string) {
		writeFile(t, filepath.Join(l[1], "etc", "motd"), "base motd")
		writeFile(t, filepath.Join(l[1], "etc", "os-release"), "base")
		writeFile(t, filepath.Join(l[1], "app", "static", "old.css"), "old")
		writeFile(t, filepath.Join(l[1], "tmp", "junk"), "j")
		writeFile(t, filepath.Join(l[1], "keep", "x"), "base x")
	})
	ociLayer(t, s.Lowers[0])
	if err := ConvertOCIToOverlay(s.Lowers[0]); err != nil {
		t.Fatal(err)
	}
	checkOverlayForm(t, s.Lowers[0], XattrOpaque)
	s.Upper, s.Work = "", "" // a read-only stack of the two image layers
	if err := Mount(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := FindMount(s.Target); err == nil {
			if err := Unmount(s.Target); err != nil {
				t.Errorf("Unmount: %v", err)
			}
		}
	})
	m := s.Target
	for _, gone := range []string{"etc/motd", "tmp", "app/static/old.css"} {
		if _, err := os.Lstat(filepath.Join(m, gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s visible in the merged view after its whiteout: %v", gone, err)
		}
	}
	for p, want := range map[string]string{"etc/os-release": "base", "etc/app.conf": "port=8080", "app/static/index.html": "new", "keep/x": "mine"} {
		if b, err := os.ReadFile(filepath.Join(m, p)); err != nil || string(b) != want {
			t.Errorf("merged %s = %q, %v; want %q", p, b, err, want)
		}
	}
	if err := Unmount(m); err != nil {
		t.Fatal(err)
	}
	if err := ConvertOverlayToOCI(s.Lowers[0]); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, s.Lowers[0]); got[filepath.Join("etc", ".wh.motd")] != "file " || got[filepath.Join("app", "static", ".wh..wh..opq")] != "file " || got["app/static"] != "dir" {
		t.Fatalf("back to OCI form: %v", got)
	}
}
