package overlay

import (
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Kinds of change, as `docker diff` prints them.
const (
	ChangeAdd    = "A"
	ChangeModify = "C"
	ChangeDelete = "D"
)

// xattrOrigin is set by overlayfs on a copied-up file: it points at the
// lower inode it was copied from.
const xattrOrigin = "trusted.overlay.origin"

// Diff lists the changes upper holds, as `docker diff` prints them:
// A added (only in upper), C changed (copied up, or a directory whose
// contents changed), D deleted (a whiteout, or a lower entry hidden by an
// opaque directory). lowers (top first) tell added from changed; without
// them Diff falls back to the trusted.overlay.origin xattr overlayfs puts
// on copied-up files. Changes come in path order.
func Diff(upper string, lowers ...string) ([]Change, error) {
	var out []Change
	seen := map[string]bool{}
	add := func(c Change) {
		if !seen[c.Kind+c.Path] {
			seen[c.Kind+c.Path] = true
			out = append(out, c)
		}
	}
	inLower := func(rel string, full string) bool {
		if len(lowers) == 0 {
			return hasXattr(full, xattrOrigin) || hasXattr(full, "user.overlay.origin")
		}
		return lowerHas(lowers, rel)
	}
	err := filepath.WalkDir(upper, func(full string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(upper, full)
		if rel == "." {
			return nil
		}
		rel = "/" + filepath.ToSlash(rel)
		if IsWhiteout(full) {
			add(Change{Kind: ChangeDelete, Path: rel, Whiteout: true})
			return nil
		}
		kind := ChangeAdd
		if inLower(rel, full) {
			kind = ChangeModify
		}
		if d.IsDir() && IsOpaque(full) {
			add(Change{Kind: kind, Path: rel, Opaque: true, Dir: true})
			if kind == ChangeModify && len(lowers) > 0 {
				for _, n := range lowerNames(lowers, rel) {
					var st unix.Stat_t
					if unix.Lstat(filepath.Join(full, n), &st) != nil {
						add(Change{Kind: ChangeDelete, Path: path.Join(rel, n), Opaque: true})
					}
				}
			}
			return nil
		}
		add(Change{Kind: kind, Path: rel, Dir: d.IsDir()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// DiffAt is Diff for the overlay mounted at merged.
func DiffAt(merged string) ([]Change, error) {
	s, err := MountedSpec(merged)
	if err != nil {
		return nil, err
	}
	return Diff(s.Upper, s.Lowers...)
}

// lowerHas reports whether rel is visible in the merged view of lowers
// alone (the image, without the container's upper layer).
func lowerHas(lowers []string, rel string) bool {
	for _, l := range lowers {
		full := filepath.Join(l, rel)
		var st unix.Stat_t
		if unix.Lstat(full, &st) == nil {
			return !IsWhiteout(full)
		}
		if blocked(l, rel) {
			return false
		}
	}
	return false
}

// blocked reports whether an ancestor of rel in layer l hides everything
// below it: a whiteout, a non-directory, or an opaque directory.
func blocked(l, rel string) bool {
	parts := strings.Split(strings.Trim(rel, "/"), "/")
	cur := l
	for _, p := range parts[:len(parts)-1] {
		cur = filepath.Join(cur, p)
		var st unix.Stat_t
		if unix.Lstat(cur, &st) != nil {
			return false
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR || IsWhiteout(cur) || IsOpaque(cur) {
			return true
		}
	}
	return false
}

// lowerNames lists the names visible in directory rel of the lowers' merged view.
func lowerNames(lowers []string, rel string) []string {
	set := map[string]bool{}
	for _, l := range lowers {
		ents, _ := os.ReadDir(filepath.Join(l, rel))
		for _, e := range ents {
			set[e.Name()] = true
		}
	}
	var out []string
	for n := range set {
		if lowerHas(lowers, path.Join(rel, n)) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
