package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ctrlab/ctrlab/pkg/overlay"
	"github.com/ctrlab/ctrlab/pkg/testutil"
)

const sentinelBody = "do not touch"

// jail is an unpack target with a sentinel file outside it:
//
//	base/layer/            the unpack directory
//	base/outside/sentinel  must never change
type jail struct {
	base, layer, outside, sentinel string
}

func newJail(t testing.TB) jail {
	t.Helper()
	base := t.TempDir()
	j := jail{base: base, layer: filepath.Join(base, "layer"), outside: filepath.Join(base, "outside")}
	j.sentinel = filepath.Join(j.outside, "sentinel")
	if err := os.Mkdir(j.layer, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(j.outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(j.sentinel, []byte(sentinelBody), 0o644); err != nil {
		t.Fatal(err)
	}
	return j
}

// check asserts nothing outside the layer changed: base holds only layer
// and outside, outside holds only the sentinel, with its content.
func (j jail) check(t testing.TB) {
	t.Helper()
	names := func(d string) []string {
		es, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.Name())
		}
		sort.Strings(out)
		return out
	}
	if got := names(j.base); len(got) != 2 || got[0] != "layer" || got[1] != "outside" {
		t.Errorf("unpack created entries next to the layer: %v", got)
	}
	if got := names(j.outside); len(got) != 1 || got[0] != "sentinel" {
		t.Errorf("unpack created entries outside the layer: %v", got)
	}
	var st unix.Stat_t
	if err := unix.Lstat(j.sentinel, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink != 1 {
		t.Errorf("sentinel replaced or linked: %v mode %o nlink %d", err, st.Mode, st.Nlink)
	}
	if b, err := os.ReadFile(j.sentinel); err != nil || string(b) != sentinelBody {
		t.Errorf("sentinel changed: %q, %v", b, err)
	}
}

// hostile is one attack layer: refused (an error wrapping want) or
// contained (no error; then inside, if set, must exist in the layer).
type hostile struct {
	name    string
	entries func(j jail) []entry
	want    error
	inside  string
}

func hostileCases() []hostile {
	return []hostile{
		{name: "path-traversal", want: ErrUnsafeEntry, entries: func(j jail) []entry {
			return []entry{{name: "../outside/sentinel", body: "pwned"}}
		}},
		{name: "path-traversal-deep", want: ErrUnsafeEntry, entries: func(j jail) []entry {
			return []entry{{name: "a/b/../../../outside/new", body: "pwned"}}
		}},
		{name: "absolute-path", inside: "outside/sentinel", entries: func(j jail) []entry {
			// An absolute name is made relative to the layer.
			return []entry{{name: "/outside/sentinel", body: "contained"}}
		}},
		{name: "absolute-symlink-escape", entries: func(j jail) []entry {
			return []entry{{name: "evil", typ: tar.TypeSymlink, link: j.outside}, {name: "evil/pwned", body: "pwned"}}
		}, want: ErrUnsafeEntry},
		{name: "relative-symlink-escape", want: ErrUnsafeEntry, entries: func(j jail) []entry {
			return []entry{{name: "rel", typ: tar.TypeSymlink, link: "../../../../../../../../" + j.outside}, {name: "rel/pwned", body: "pwned"}}
		}},
		{name: "symlink-then-write-file", inside: "link", entries: func(j jail) []entry {
			// Writing a file over a symlink replaces the symlink.
			return []entry{{name: "link", typ: tar.TypeSymlink, link: j.sentinel}, {name: "link", body: "pwned"}}
		}},
		{name: "symlink-to-root-then-write", inside: "etc/passwd", entries: func(j jail) []entry {
			// "d -> /" resolves to the layer root, never the host's.
			return []entry{{name: "d", typ: tar.TypeSymlink, link: "/"}, {name: "d/etc/passwd", body: "contained"}}
		}},
		{name: "symlink-dir-then-dir", inside: "outside/x", entries: func(j jail) []entry {
			return []entry{{name: "up", typ: tar.TypeSymlink, link: ".."}, {name: "up/up/outside/x", typ: tar.TypeDir}}
		}},
		{name: "hardlink-escape", want: ErrUnsafeEntry, entries: func(j jail) []entry {
			return []entry{{name: "hl", typ: tar.TypeLink, link: "../outside/sentinel"}}
		}},
		{name: "hardlink-absolute", want: ErrUnsafeEntry, entries: func(j jail) []entry {
			return []entry{{name: "hl", typ: tar.TypeLink, link: j.sentinel}}
		}},
		{name: "hardlink-through-symlink", want: ErrUnsafeEntry, entries: func(j jail) []entry {
			return []entry{{name: "s", typ: tar.TypeSymlink, link: j.outside}, {name: "hl", typ: tar.TypeLink, link: "s/sentinel"}}
		}},
		{name: "hardlink-then-write", inside: "hl", entries: func(j jail) []entry {
			// A later file replaces the link instead of writing through it.
			return []entry{{name: "f", body: "orig"}, {name: "hl", typ: tar.TypeLink, link: "f"}, {name: "hl", body: "new"}}
		}},
		{name: "whiteout-outside", want: ErrUnsafeEntry, entries: func(j jail) []entry {
			return []entry{{name: "../outside/.wh.sentinel"}}
		}},
		{name: "whiteout-through-symlink", want: ErrUnsafeEntry, entries: func(j jail) []entry {
			return []entry{{name: "w", typ: tar.TypeSymlink, link: j.outside}, {name: "w/.wh.sentinel"}}
		}},
		{name: "opaque-through-symlink", want: ErrUnsafeEntry, entries: func(j jail) []entry {
			return []entry{{name: "w", typ: tar.TypeSymlink, link: j.outside}, {name: "w/.wh..wh..opq"}}
		}},
		{name: "malformed-whiteout", want: ErrUnsafeEntry, entries: func(j jail) []entry {
			return []entry{{name: "a/.wh.."}}
		}},
		{name: "device-node", entries: func(j jail) []entry {
			return []entry{{name: "mem", typ: tar.TypeChar, major: 1, minor: 1, mode: 0o666}}
		}},
		{name: "huge-file", want: ErrTooLarge, entries: func(j jail) []entry {
			return []entry{{name: "big", body: string(make([]byte, 2048))}}
		}},
		{name: "symlink-loop", want: ErrUnsafeEntry, entries: func(j jail) []entry {
			return []entry{{name: "a", typ: tar.TypeSymlink, link: "b"}, {name: "b", typ: tar.TypeSymlink, link: "a"}, {name: "a/x", body: "x"}}
		}},
		{name: "forged-overlay-xattr", entries: func(j jail) []entry {
			return []entry{{name: "d", typ: tar.TypeDir, xattrs: map[string]string{"trusted.overlay.redirect": "/outside"}}}
		}},
	}
}

// unpackLimits are the limits the hostile and fuzz tests use.
var unpackLimits = []UnpackOption{WithMaxFileSize(1024), WithMaxTotalSize(1 << 20), WithMaxEntries(1000)}

func TestUnpackHostile(t *testing.T) {
	for _, tc := range hostileCases() {
		t.Run(tc.name, func(t *testing.T) {
			j := newJail(t)
			st, err := UnpackLayer(bg, bytes.NewReader(mkTar(t, tc.entries(j)...)), j.layer, unpackLimits...)
			switch {
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("err = %v, want %v", err, tc.want)
			case tc.want == nil && err != nil:
				t.Errorf("err = %v, want the entry contained", err)
			}
			if tc.inside != "" {
				if _, err := os.Lstat(filepath.Join(j.layer, tc.inside)); err != nil {
					t.Errorf("contained entry %q not in the layer: %v", tc.inside, err)
				}
			}
			if tc.name == "device-node" {
				if _, err := os.Lstat(filepath.Join(j.layer, "mem")); err == nil || st == nil || len(st.Skipped) != 1 {
					t.Errorf("device node created or not reported: %+v", st)
				}
			}
			if tc.name == "forged-overlay-xattr" {
				if _, err := unix.Lgetxattr(filepath.Join(j.layer, "d"), "trusted.overlay.redirect", nil); err == nil {
					t.Error("layer set an overlay xattr")
				}
			}
			j.check(t)
		})
	}
}

// TestHostileCorpus replays the committed hostile tars in testdata/hostile
// (regenerate with CTRLAB_UPDATE_TESTDATA=1). They use a fixed outside path
// (/ctrlab-test-outside), so they test refusal, not a real host file.
func TestHostileCorpus(t *testing.T) {
	fixed := jail{outside: "/ctrlab-test-outside", sentinel: "/ctrlab-test-outside/sentinel"}
	dir := filepath.Join("testdata", "hostile")
	for _, tc := range hostileCases() {
		p := filepath.Join(dir, tc.name+".tar")
		gen := mkTar(t, tc.entries(fixed)...)
		if os.Getenv("CTRLAB_UPDATE_TESTDATA") != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, gen, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%v (run with CTRLAB_UPDATE_TESTDATA=1)", err)
		}
		if !bytes.Equal(b, gen) {
			t.Errorf("%s is stale: run with CTRLAB_UPDATE_TESTDATA=1", p)
		}
		j := newJail(t)
		_, err = UnpackLayer(bg, bytes.NewReader(b), j.layer, unpackLimits...)
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		j.check(t)
	}
}

func FuzzUnpack(f *testing.F) {
	fixed := jail{outside: "/ctrlab-test-outside", sentinel: "/ctrlab-test-outside/sentinel"}
	for _, tc := range hostileCases() {
		f.Add(mkTar(f, tc.entries(fixed)...))
	}
	f.Add(mkTar(f, fidelityEntries()...))
	f.Fuzz(func(t *testing.T, data []byte) {
		j := newJail(t)
		_, _ = UnpackLayer(bg, bytes.NewReader(data), j.layer, append(unpackLimits, WithOwnership(false))...)
		j.check(t)
		_ = removeAllForce(j.layer)
	})
}

func fidelityEntries() []entry {
	return []entry{
		{name: "dir/", typ: tar.TypeDir, mode: 0o750, uid: 1234, gid: 5678},
		{name: "dir/file", body: "hello", mode: 0o640, uid: 1234, gid: 5678, xattrs: map[string]string{"user.ctrlab": "v"}},
		{name: "dir/suid", body: "#!", mode: 0o4755},
		{name: "dir/link", typ: tar.TypeSymlink, link: "file"},
		{name: "dir/hard", typ: tar.TypeLink, link: "dir/file"},
		{name: "dir/fifo", typ: tar.TypeFifo, mode: 0o600},
		{name: "gone/.wh.old"},
		{name: "opq/.wh..wh..opq"},
		{name: "opq/kept", body: "k"},
		{name: "ro/", typ: tar.TypeDir, mode: 0o555},
		{name: "ro/inside", body: "x", mode: 0o444},
	}
}

// TestUnpackKeepsMetadata checks modes, ownership (as root), xattrs,
// timestamps (directories' too, set after their children), links, and the
// overlay form of whiteouts and opaque directories, as the kernel reports them.
func TestUnpackKeepsMetadata(t *testing.T) {
	root := os.Geteuid() == 0 && os.Getenv("CTRLAB_TEST_NOROOT") == ""
	j := newJail(t)
	st, err := UnpackLayer(bg, bytes.NewReader(mkTar(t, fidelityEntries()...)), j.layer, WithOwnership(root))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = removeAllForce(j.layer) })
	p := func(s string) string { return filepath.Join(j.layer, s) }
	stat := func(s string) unix.Stat_t {
		var x unix.Stat_t
		if err := unix.Lstat(p(s), &x); err != nil {
			t.Fatalf("lstat %s: %v", s, err)
		}
		return x
	}
	want := time.Unix(1700000000, 0)
	for s, mode := range map[string]uint32{"dir": 0o750, "dir/file": 0o640, "dir/suid": 0o4755, "ro": 0o555, "ro/inside": 0o444, "dir/fifo": 0o600} {
		x := stat(s)
		if x.Mode&0o7777 != mode {
			t.Errorf("%s mode = %o, want %o", s, x.Mode&0o7777, mode)
		}
		if got := time.Unix(int64(x.Mtim.Sec), int64(x.Mtim.Nsec)); !got.Equal(want) {
			t.Errorf("%s mtime = %v, want %v", s, got, want)
		}
	}
	if x := stat("dir/link"); x.Mode&unix.S_IFMT != unix.S_IFLNK || time.Unix(int64(x.Mtim.Sec), 0) != want {
		t.Errorf("symlink: mode %o mtime %d", x.Mode, x.Mtim.Sec)
	}
	if a, b := stat("dir/file"), stat("dir/hard"); a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("hardlink: inodes %d %d nlink %d", a.Ino, b.Ino, a.Nlink)
	}
	if x := stat("dir/fifo"); x.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("fifo mode %o", x.Mode)
	}
	buf := make([]byte, 16)
	if n, err := unix.Lgetxattr(p("dir/file"), "user.ctrlab", buf); err != nil || string(buf[:n]) != "v" {
		t.Errorf("xattr user.ctrlab = %q, %v", buf[:n], err)
	}
	if !overlay.IsWhiteout(p("gone/old")) {
		t.Error("gone/old is not an overlay whiteout")
	}
	if !overlay.IsOpaque(p("opq")) {
		t.Error("opq is not opaque")
	}
	if _, err := os.Stat(p("opq/kept")); err != nil {
		t.Error("opaque dir lost its own entry")
	}
	if st.Whiteouts != 1 || st.Opaques != 1 || st.Hardlinks != 1 || st.Symlinks != 1 {
		t.Errorf("stats = %+v", st)
	}
	if root {
		if x := stat("dir/file"); x.Uid != 1234 || x.Gid != 5678 {
			t.Errorf("owner = %d:%d, want 1234:5678", x.Uid, x.Gid)
		}
		if x := stat("gone/old"); x.Mode&unix.S_IFMT != unix.S_IFCHR || x.Rdev != 0 {
			t.Errorf("whiteout as root should be a 0/0 char device, mode %o", x.Mode)
		}
	}
}

func TestUnpackHugeHeader(t *testing.T) {
	testutil.Name("") // keep the import honest for root-only helpers
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "bomb", Typeflag: tar.TypeReg, Size: 1 << 40, Mode: 0o644})
	tw.Flush()
	j := newJail(t)
	_, err := UnpackLayer(bg, bytes.NewReader(buf.Bytes()), j.layer)
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
	j.check(t)
}
