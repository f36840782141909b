package overlay

import "strings"

// OCI image layers mark deletions with special file names (the OCI image
// spec, "Whiteouts"); overlayfs marks them with a 0/0 character device and
// opaque directories with an xattr. These helpers convert between the two.
const (
	// OCIWhiteoutPrefix prefixes a deleted name in an OCI layer: ".wh.NAME".
	OCIWhiteoutPrefix = ".wh."
	// OCIOpaque, inside a directory of an OCI layer, hides every lower entry.
	OCIOpaque = ".wh..wh..opq"
	// XattrOpaque marks an opaque directory for overlayfs (value "y").
	XattrOpaque = "trusted.overlay.opaque"
	// XattrUserOpaque is the same mark for overlays mounted with userxattr.
	XattrUserOpaque = "user.overlay.opaque"
	// XattrWhiteout marks a whiteout made as a regular file (kernel 6.7+ form).
	XattrWhiteout = "trusted.overlay.whiteout"
	// XattrUserWhiteout is the userxattr form of XattrWhiteout.
	XattrUserWhiteout = "user.overlay.whiteout"
)

// ParseOCIWhiteout interprets one base name of an OCI layer entry. For
// ".wh.NAME" it returns ("NAME", false, true); for ".wh..wh..opq" it returns
// ("", true, true); for an ordinary name ok is false.
func ParseOCIWhiteout(base string) (target string, opaque, ok bool) {
	if base == OCIOpaque {
		return "", true, true
	}
	if strings.HasPrefix(base, OCIWhiteoutPrefix) {
		t := strings.TrimPrefix(base, OCIWhiteoutPrefix)
		if t == "" || t == "." || t == ".." || strings.Contains(t, "/") {
			return "", false, false
		}
		return t, false, true
	}
	return "", false, false
}

// OCIWhiteoutName is the OCI name that deletes name: ".wh." + name.
func OCIWhiteoutName(name string) string { return OCIWhiteoutPrefix + name }

// ConvertOption tunes the whiteout converters.
type ConvertOption func(*convertConfig)

type convertConfig struct{ userXattr bool }

// WithUserXattr writes opaque marks as user.overlay.opaque instead of
// trusted.overlay.opaque: the form overlayfs reads when mounted with the
// "userxattr" option (rootless containers; no CAP_SYS_ADMIN needed to set it).
func WithUserXattr() ConvertOption { return func(c *convertConfig) { c.userXattr = true } }

func newConvertConfig(opts []ConvertOption) convertConfig {
	var c convertConfig
	for _, o := range opts {
		o(&c)
	}
	return c
}
