package overlay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// demoLayers is the content of the three image layers, bottom first. It
// is built on first use: as a package-level value its 64 KiB word list
// cost every ctrlab process (the re-exec'd container init too) 0.85 ms
// of package init.
var demoLayers = sync.OnceValue(func() []demoLayer {
	return []demoLayer{
		{"base", map[string]string{
			"etc/os-release":       "NAME=\"ctrlab base\"\nID=ctrlab\n",
			"etc/motd":             "Welcome (from the base layer)\n",
			"bin/hello":            "#!/bin/sh\necho hello from the base layer\n",
			"usr/share/dict/words": demoWords(),
			"usr/share/doc/README": "base layer documentation\n",
		}},
		{"app", map[string]string{
			"app/server.sh":         "#!/bin/sh\nexec httpd -f -p \"$PORT\" -h /app/static\n",
			"app/static/index.html": "<h1>app v1</h1>\n",
			"app/static/style.css":  "h1 { color: teal }\n",
		}},
		{"config", map[string]string{
			"etc/app.conf": "PORT=8080\n",
			"etc/motd":     "Welcome (from the config layer: it hides the base motd)\n",
		}},
	}
})

type demoLayer struct {
	name  string
	files map[string]string
}

// demoWords is a 64 KiB file, big enough that a copy-up is visible.
func demoWords() string {
	var b strings.Builder
	for i := 0; b.Len() < 64<<10; i++ {
		fmt.Fprintf(&b, "word%05d\n", i)
	}
	return b.String()
}

// RunDemo builds a three-layer overlay (base, app, config + upper/work/merged)
// in a fresh ctrlab-overlay-demo-* directory, mounts it, and performs a
// read, a copy-up, a new file, a delete and a directory replacement in the
// merged view. After each it calls emit with what the layers show. It
// unmounts and removes the workspace at the end unless o.Keep, and always
// on error or when ctx is cancelled (ctrl-C).
func RunDemo(ctx context.Context, o DemoOptions, emit func(DemoStep) error) (res *DemoResult, err error) {
	if o.Dir == "" {
		o.Dir = os.TempDir()
	}
	ws, err := os.MkdirTemp(o.Dir, "ctrlab-overlay-demo-")
	if err != nil {
		return nil, fmt.Errorf("making the demo workspace: %w", err)
	}
	res = &DemoResult{Workspace: ws}
	mounted := false
	defer func() {
		if err == nil && o.Keep {
			res.Kept = true
			return
		}
		if mounted {
			if uerr := Unmount(res.Spec.Target); uerr != nil {
				err = errors.Join(err, uerr)
				return // never remove lowers through a live mount
			}
		}
		if rerr := os.RemoveAll(ws); rerr != nil {
			err = errors.Join(err, fmt.Errorf("removing the demo workspace: %w", rerr))
		}
	}()

	s := Spec{Upper: filepath.Join(ws, "upper"), Work: filepath.Join(ws, "work"), Target: filepath.Join(ws, "merged")}
	layers := demoLayers()
	for i := len(layers) - 1; i >= 0; i-- { // lowerdir lists the top layer first
		l := layers[i]
		dir := filepath.Join(ws, "layers", l.name)
		s.Lowers = append(s.Lowers, dir)
		res.LayerNames = append(res.LayerNames, fmt.Sprintf("%s=%s", LayerName(len(s.Lowers)-1), l.name))
		for p, content := range l.files {
			full := filepath.Join(dir, p)
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				return res, err
			}
			if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
				return res, err
			}
		}
	}
	for _, d := range []string{s.Upper, s.Work, s.Target} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return res, err
		}
	}
	res.Spec, res.Equivalent = s, s.Equivalent()
	if err := Mount(ctx, s); err != nil {
		return res, err
	}
	mounted = true

	m := func(p string) string { return filepath.Join(s.Target, p) }
	layer := func(i int, p string) string { return filepath.Join(s.Lowers[i], p) }
	up := func(p string) string { return filepath.Join(s.Upper, p) }

	step := func(st DemoStep) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		es, err := Layers(s)
		if err != nil {
			return fmt.Errorf("reading the layers: %w", err)
		}
		st.Layers = es
		if st.Mountinfo, err = MountinfoLine(s.Target); err != nil {
			return err
		}
		res.Steps = append(res.Steps, st)
		if emit != nil {
			return emit(st)
		}
		return nil
	}

	// 0. the stack as mounted
	if err := step(DemoStep{
		Title:  "mount: three read-only layers and an empty upper",
		Action: s.Equivalent(),
		Explain: []string{
			"lowerdir lists the layers top first: config (lower1) over app (lower2) over base (lower3)",
			"the upper directory is empty: nothing has been written yet; the kernel needs workdir to prepare copy-ups",
			"/etc/motd exists in config and base: the topmost layer (config) serves it, base's copy is hidden",
		},
		Facts: []Fact{{"upper entries", fmt.Sprint(countEntries(s.Upper))}},
	}); err != nil {
		return res, err
	}

	// 1. a read
	b, err := os.ReadFile(m("etc/os-release"))
	if err != nil {
		return res, err
	}
	if err := step(DemoStep{
		Title:  "read: served straight from a lower layer",
		Action: "cat merged/etc/os-release",
		Explain: []string{
			"only base (lower3) has /etc/os-release, so the read goes to base's file",
			"reading copies nothing: the upper directory is still empty",
		},
		Facts: []Fact{
			{"merged content", strings.TrimSpace(string(b))},
			{"upper/etc/os-release", existence(up("etc/os-release"))},
			{"upper entries", fmt.Sprint(countEntries(s.Upper))},
		},
	}); err != nil {
		return res, err
	}

	// 2. a write to an existing lower file: copy-up
	words := "usr/share/dict/words"
	lowerBefore := fileFacts(layer(2, words))
	f, err := os.OpenFile(m(words), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return res, err
	}
	_, werr := f.WriteString("ctrlab\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return res, werr
	}
	if err := step(DemoStep{
		Title:  "write to an existing file: copy-up",
		Action: "echo ctrlab >> merged/" + words,
		Explain: []string{
			"lower layers are never written: before the first write the kernel copies the WHOLE file up into upper (7 bytes appended, 64 KiB copied)",
			"the parent directories usr/share/dict were copied up too, as empty directories",
			"from now on upper serves the path; base's copy keeps its bytes and inode, but is hidden",
			"the merged view still reports the lower inode number: overlayfs keeps st_ino stable across a copy-up",
		},
		Facts: []Fact{
			{"lower3 (base) before", lowerBefore},
			{"lower3 (base) after", fileFacts(layer(2, words))},
			{"upper after", fileFacts(up(words))},
			{"merged", fileFacts(m(words))},
		},
	}); err != nil {
		return res, err
	}

	// 3. a new file
	if err := os.WriteFile(m("app/notes.txt"), []byte("written in the container\n"), 0o644); err != nil {
		return res, err
	}
	if err := step(DemoStep{
		Title:  "new file: only the upper layer has it",
		Action: "echo 'written in the container' > merged/app/notes.txt",
		Explain: []string{
			"a new file is created in upper; no lower layer is touched",
			"its parent /app was copied up as a directory so the file has somewhere to live",
		},
		Facts: []Fact{
			{"upper/app/notes.txt", fileFacts(up("app/notes.txt"))},
			{"lower2 (app)/app/notes.txt", existence(layer(1, "app/notes.txt"))},
		},
	}); err != nil {
		return res, err
	}

	// 4. a delete: whiteout
	if err := os.Remove(m("etc/motd")); err != nil {
		return res, err
	}
	if err := step(DemoStep{
		Title:  "delete: a whiteout appears in upper",
		Action: "rm merged/etc/motd",
		Explain: []string{
			"the lower files cannot be removed (read-only layers), so the kernel puts a whiteout in upper:",
			"a character device with device number 0/0 named like the deleted file; it hides that name in every lower layer",
			"an OCI image layer writes the same thing as an empty file named .wh.motd",
		},
		Facts: []Fact{
			{"upper/etc/motd", statFacts(up("etc/motd"))},
			{"lower1 (config)/etc/motd", existence(layer(0, "etc/motd"))},
			{"lower3 (base)/etc/motd", existence(layer(2, "etc/motd"))},
			{"merged/etc/motd", existence(m("etc/motd"))},
		},
	}); err != nil {
		return res, err
	}

	// 5. a directory replaced: opaque
	if err := os.RemoveAll(m("app/static")); err != nil {
		return res, err
	}
	if err := os.Mkdir(m("app/static"), 0o755); err != nil {
		return res, err
	}
	if err := os.WriteFile(m("app/static/index.html"), []byte("<h1>app v2</h1>\n"), 0o644); err != nil {
		return res, err
	}
	if err := step(DemoStep{
		Title:  "directory replaced: an opaque directory",
		Action: "rm -r merged/app/static && mkdir merged/app/static && echo '<h1>app v2</h1>' > merged/app/static/index.html",
		Explain: []string{
			"rm -r left a whiteout for app/static; mkdir then made a real directory in its place, marked opaque",
			"an opaque directory (xattr trusted.overlay.opaque=y) stops the merge: nothing of the lower app/static shows through",
			"in an OCI layer this is an empty file app/static/.wh..wh..opq",
		},
		Facts: []Fact{
			{"upper/app/static xattr", opaqueFact(up("app/static"))},
			{"merged ls app/static", listing(m("app/static"))},
			{"lower2 (app) ls app/static", listing(layer(1, "app/static"))},
		},
	}); err != nil {
		return res, err
	}

	res.Diff, err = Diff(s.Upper, s.Lowers...)
	return res, err
}

func countEntries(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && p != dir {
			n++
		}
		return nil
	})
	return n
}

func existence(p string) string {
	if _, err := os.Lstat(p); err != nil {
		return "absent"
	}
	return "present"
}

// fileFacts prints size, inode and sha256 of a regular file.
func fileFacts(p string) string {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return "absent"
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return err.Error()
	}
	sum := sha256.Sum256(b)
	return fmt.Sprintf("%d bytes, inode %d, sha256 %s…", st.Size, st.Ino, hex.EncodeToString(sum[:])[:16])
}

func statFacts(p string) string {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return "absent"
	}
	kind := typeOf(st.Mode)
	if kind == "char" {
		return fmt.Sprintf("character device %d/%d, mode %04o (whiteout=%v)", unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev)), st.Mode&0o7777, IsWhiteout(p))
	}
	return fmt.Sprintf("%s, %d bytes", kind, st.Size)
}

func opaqueFact(p string) string {
	buf := make([]byte, 8)
	n, err := unix.Lgetxattr(p, XattrOpaque, buf)
	if err != nil {
		return XattrOpaque + ": " + err.Error()
	}
	return fmt.Sprintf("%s=%q", XattrOpaque, buf[:n])
}

func listing(dir string) string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err.Error()
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}
