package overlay

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// MakeWhiteout creates an overlayfs whiteout at path: a character device
// with device number 0/0. Equivalent to: `mknod PATH c 0 0`.
func MakeWhiteout(path string) error {
	if err := unix.Mknod(path, unix.S_IFCHR|0o000, 0); err != nil {
		return fmt.Errorf("making whiteout %q: %w", path, err)
	}
	return nil
}

// SetOpaque marks dir opaque for overlayfs, hiding every entry of the lower
// layers. Equivalent to: `setfattr -n trusted.overlay.opaque -v y DIR`.
func SetOpaque(dir string) error {
	if err := unix.Lsetxattr(dir, XattrOpaque, []byte("y"), 0); err != nil {
		return fmt.Errorf("marking %q opaque: %w", dir, err)
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
// ".wh..wh..opq" becomes the opaque xattr on its directory.
func ConvertOCIToOverlay(dir string) error {
	return filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target, opaque, ok := ParseOCIWhiteout(d.Name())
		if !ok || d.IsDir() {
			return nil
		}
		parent := filepath.Dir(p)
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("removing OCI whiteout %q: %w", p, err)
		}
		if opaque {
			return SetOpaque(parent)
		}
		dst := filepath.Join(parent, target)
		if err := os.RemoveAll(dst); err != nil {
			return fmt.Errorf("clearing %q for whiteout: %w", dst, err)
		}
		return MakeWhiteout(dst)
	})
}

// ConvertOverlayToOCI rewrites, in place, every overlayfs whiteout under dir
// into its OCI form: a 0/0 device NAME becomes an empty file ".wh.NAME" and
// an opaque directory gets an empty ".wh..wh..opq" entry (the xattr is removed).
func ConvertOverlayToOCI(dir string) error {
	return filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if IsOpaque(p) {
				_ = unix.Lremovexattr(p, XattrOpaque)
				_ = unix.Lremovexattr(p, XattrUserOpaque)
				return os.WriteFile(filepath.Join(p, OCIOpaque), nil, 0o644)
			}
			return nil
		}
		if !IsWhiteout(p) {
			return nil
		}
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("removing whiteout %q: %w", p, err)
		}
		return os.WriteFile(filepath.Join(filepath.Dir(p), OCIWhiteoutName(d.Name())), nil, 0o644)
	})
}
