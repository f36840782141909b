package overlay

import (
	"os"
	"path"
	"path/filepath"
	"sort"

	"golang.org/x/sys/unix"
)

type layerRef struct {
	idx int
	dir string
}

func (l layerRef) name() string { return LayerName(l.idx) }

// Layers walks the layer directories of s (not the merged mount: it works
// on an unmounted stack too) and returns every path of the merged view
// with the layer that serves it, plus the whiteouts that delete paths.
// Entries come in path order. Equivalent to: `ls -lR` of each layer and
// resolving them top down as overlayfs does.
func Layers(s Spec) ([]Entry, error) {
	var stack []layerRef
	if s.Upper != "" {
		stack = append(stack, layerRef{-1, s.Upper})
	}
	for i, l := range s.Lowers {
		stack = append(stack, layerRef{i, l})
	}
	// The roots merge like any directory; an opaque root stops the stack.
	var active []layerRef
	for _, l := range stack {
		fi, err := os.Stat(l.dir)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			continue
		}
		active = append(active, l)
		if IsOpaque(l.dir) {
			break
		}
	}
	var out []Entry
	if err := walkLayers("/", active, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// LayersAt is Layers for the overlay mounted at merged, its layers read
// back from /proc/self/mountinfo.
func LayersAt(merged string) ([]Entry, error) {
	s, err := MountedSpec(merged)
	if err != nil {
		return nil, err
	}
	return Layers(s)
}

type hit struct {
	l  layerRef
	st unix.Stat_t
	wh bool
}

func walkLayers(rel string, active []layerRef, out *[]Entry) error {
	names := map[string]bool{}
	for _, l := range active {
		ents, err := os.ReadDir(filepath.Join(l.dir, rel))
		if err != nil {
			continue // the directory may be missing in this layer
		}
		for _, e := range ents {
			names[e.Name()] = true
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, name := range sorted {
		p := path.Join(rel, name)
		var hits []hit
		for _, l := range active {
			var st unix.Stat_t
			full := filepath.Join(l.dir, p)
			if unix.Lstat(full, &st) != nil {
				continue
			}
			hits = append(hits, hit{l: l, st: st, wh: IsWhiteout(full)})
		}
		if len(hits) == 0 {
			continue
		}
		top := hits[0]
		e := Entry{Path: p, Type: typeOf(top.st.Mode), Layer: top.l.name(), LayerIndex: top.l.idx,
			LayerDir: top.l.dir, Size: top.st.Size, Inode: uint64(top.st.Ino)}
		for _, h := range hits[1:] {
			e.Below = append(e.Below, h.l.name())
		}
		if top.wh {
			e.Type, e.Whiteout, e.Size = "whiteout", true, 0
			*out = append(*out, e)
			continue
		}
		*out = append(*out, e)
		if e.Type != "dir" {
			continue
		}
		idx := len(*out) - 1
		// The directory merges with the same directory in lower layers
		// until one of them is opaque, a whiteout or not a directory.
		sub := []layerRef{top.l}
		if IsOpaque(filepath.Join(top.l.dir, p)) {
			(*out)[idx].Opaque = true
		} else {
			for _, h := range hits[1:] {
				if h.wh || h.st.Mode&unix.S_IFMT != unix.S_IFDIR {
					break
				}
				sub = append(sub, h.l)
				if IsOpaque(filepath.Join(h.l.dir, p)) {
					break
				}
			}
		}
		if err := walkLayers(p, sub, out); err != nil {
			return err
		}
	}
	return nil
}

func typeOf(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return "dir"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFCHR:
		return "char"
	case unix.S_IFBLK:
		return "block"
	case unix.S_IFIFO:
		return "fifo"
	case unix.S_IFSOCK:
		return "socket"
	}
	return "file"
}
