package overlay

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// XattrWhiteouts marks a directory that holds xattr-form whiteouts (6.7+).
const (
	xattrWhiteouts     = "trusted.overlay.whiteouts"
	xattrUserWhiteouts = "user.overlay.whiteouts"
)

// MakeWhiteout creates an overlayfs whiteout at path: a character device
// with device number 0/0. Equivalent to: `mknod PATH c 0 0`.
// Since Linux 5.8 the kernel lets any user make this one device, so it
// needs no CAP_MKNOD.
func MakeWhiteout(path string) error {
	if err := unix.Mknod(path, unix.S_IFCHR|0o000, 0); err != nil {
		return fmt.Errorf("making whiteout %q: %w", path, err)
	}
	return nil
}

// SetOpaque marks dir opaque for overlayfs, hiding every entry of the lower
// layers. Equivalent to: `setfattr -n trusted.overlay.opaque -v y DIR`.
// Setting a trusted.* xattr needs CAP_SYS_ADMIN.
func SetOpaque(dir string) error { return setOpaque(dir, XattrOpaque) }

func setOpaque(dir, attr string) error {
	if err := unix.Lsetxattr(dir, attr, []byte("y"), 0); err != nil {
		return fmt.Errorf("marking %q opaque (%s=y): %w", dir, attr, err)
	}
	return nil
}

// IsWhiteout reports whether path is an overlayfs whiteout in any of its
// forms: a 0/0 character device, or a file carrying a whiteout xattr.
func IsWhiteout(path string) bool {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return false
	}
	if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
		return true
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return false
	}
	return hasXattr(path, XattrWhiteout) || hasXattr(path, XattrUserWhiteout)
}

// IsOpaque reports whether dir carries an overlay opaque xattr set to "y".
func IsOpaque(dir string) bool {
	for _, name := range []string{XattrOpaque, XattrUserOpaque} {
		buf := make([]byte, 8)
		n, err := unix.Lgetxattr(dir, name, buf)
		if err == nil && n >= 1 && buf[0] == 'y' {
			return true
		}
	}
	return false
}

func hasXattr(path, name string) bool {
	_, err := unix.Lgetxattr(path, name, nil)
	return err == nil || errors.Is(err, unix.ERANGE)
}

// ConvertOCIToOverlay rewrites, in place, every OCI whiteout under dir into
// its overlayfs form: ".wh.NAME" becomes a 0/0 device NAME and
// ".wh..wh..opq" becomes the opaque xattr on its directory
// (trusted.overlay.opaque, or user.overlay.opaque WithUserXattr).
//
// As the OCI image spec says, a whiteout applies only to lower layers: if
// NAME itself is in the same layer, it stays (it already hides the lower
// NAME) and only the ".wh.NAME" marker is dropped.
func ConvertOCIToOverlay(dir string, opts ...ConvertOption) error {
	c := newConvertConfig(opts)
	attr := XattrOpaque
	if c.userXattr {
		attr = XattrUserOpaque
	}
	return convertDirToOverlay(dir, attr)
}

func convertDirToOverlay(dir, attr string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading layer directory %q: %w", dir, err)
	}
	names := map[string]bool{}
	for _, e := range ents {
		names[e.Name()] = true
	}
	for _, e := range ents {
		target, opaque, ok := ParseOCIWhiteout(e.Name())
		if !ok || e.IsDir() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("removing OCI whiteout %q: %w", p, err)
		}
		if opaque {
			if err := setOpaque(dir, attr); err != nil {
				return err
			}
			continue
		}
		if names[target] {
			continue // NAME in this very layer wins over its own whiteout
		}
		if err := MakeWhiteout(filepath.Join(dir, target)); err != nil {
			return err
		}
	}
	for _, e := range ents {
		if _, _, ok := ParseOCIWhiteout(e.Name()); e.IsDir() && !ok {
			if err := convertDirToOverlay(filepath.Join(dir, e.Name()), attr); err != nil {
				return err
			}
		}
	}
	return nil
}

// ConvertOverlayToOCI rewrites, in place, every overlayfs whiteout under dir
// into its OCI form: a 0/0 device NAME (or an xattr whiteout) becomes an
// empty file ".wh.NAME" and an opaque directory gets an empty ".wh..wh..opq"
// entry (the opaque xattr is removed). This is how a container's upper
// directory becomes an image layer (`docker commit`).
func ConvertOverlayToOCI(dir string, opts ...ConvertOption) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading upper directory %q: %w", dir, err)
	}
	if IsOpaque(dir) {
		for _, a := range []string{XattrOpaque, XattrUserOpaque} {
			if !hasXattr(dir, a) {
				continue // touching trusted.* at all needs CAP_SYS_ADMIN
			}
			if err := unix.Lremovexattr(dir, a); err != nil && !errors.Is(err, unix.ENODATA) {
				return fmt.Errorf("removing %s from %q: %w", a, dir, err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, OCIOpaque), nil, 0o644); err != nil {
			return fmt.Errorf("writing opaque marker: %w", err)
		}
	}
	for _, a := range []string{xattrWhiteouts, xattrUserWhiteouts} {
		_ = unix.Lremovexattr(dir, a) // the 6.7+ "has xattr whiteouts" hint, if any
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if e.IsDir() {
			if err := ConvertOverlayToOCI(p, opts...); err != nil {
				return err
			}
			continue
		}
		if !IsWhiteout(p) {
			continue
		}
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("removing whiteout %q: %w", p, err)
		}
		if err := os.WriteFile(filepath.Join(dir, OCIWhiteoutName(e.Name())), nil, 0o644); err != nil {
			return fmt.Errorf("writing OCI whiteout: %w", err)
		}
	}
	return nil
}
