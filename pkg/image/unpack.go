package image

import (
	"os"
	"path"
	"strings"
)

// Default unpack limits: generous for real images, fatal for tar bombs.
const (
	DefaultMaxFileSize  int64 = 8 << 30  // one file
	DefaultMaxTotalSize int64 = 32 << 30 // one layer, all files
	DefaultMaxEntries         = 1 << 20  // one layer, all entries
)

// UnpackStats counts what UnpackLayer created.
type UnpackStats struct {
	Entries   int   `json:"entries"`
	Files     int   `json:"files"`
	Dirs      int   `json:"dirs"`
	Symlinks  int   `json:"symlinks"`
	Hardlinks int   `json:"hardlinks"`
	Devices   int   `json:"devices"`
	Whiteouts int   `json:"whiteouts"`
	Opaques   int   `json:"opaques"`
	Bytes     int64 `json:"bytes"`
	// Skipped lists entries (or attributes) left out, with the reason.
	Skipped []string `json:"skipped,omitempty"`
}

type unpackOptions struct {
	maxFile, maxTotal int64
	maxEntries        int
	devices           bool
	chown             bool
}

// UnpackOption configures UnpackLayer.
type UnpackOption func(*unpackOptions)

// WithMaxFileSize caps the size of any one file in a layer.
func WithMaxFileSize(n int64) UnpackOption { return func(o *unpackOptions) { o.maxFile = n } }

// WithMaxTotalSize caps the bytes of all files in a layer.
func WithMaxTotalSize(n int64) UnpackOption { return func(o *unpackOptions) { o.maxTotal = n } }

// WithMaxEntries caps the number of entries in a layer.
func WithMaxEntries(n int) UnpackOption { return func(o *unpackOptions) { o.maxEntries = n } }

// WithDevices lets the layer create device nodes (only as root). Off by
// default: device entries are skipped. 0/0 character devices (overlay
// whiteouts) are always allowed.
func WithDevices(allow bool) UnpackOption { return func(o *unpackOptions) { o.devices = allow } }

// WithOwnership applies the tar's uid/gid (default: only when running as root).
func WithOwnership(on bool) UnpackOption { return func(o *unpackOptions) { o.chown = on } }

func buildUnpackOptions(opts []UnpackOption) *unpackOptions {
	o := &unpackOptions{maxFile: DefaultMaxFileSize, maxTotal: DefaultMaxTotalSize,
		maxEntries: DefaultMaxEntries, chown: os.Geteuid() == 0}
	for _, f := range opts {
		f(o)
	}
	return o
}

// cleanEntryName turns a tar name into a path relative to the layer root.
// Absolute names are made relative ("/etc/x" -> "etc/x"); names that climb
// out with ".." are refused. "" means the layer root itself.
func cleanEntryName(name string) (string, error) {
	if strings.ContainsRune(name, 0) {
		return "", &UnsafeEntryError{Name: name, Reason: "NUL byte in name"}
	}
	c := path.Clean(strings.TrimLeft(name, "/"))
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", &UnsafeEntryError{Name: name, Reason: "path climbs out of the layer with .."}
	}
	if c == "." {
		return "", nil
	}
	return c, nil
}
