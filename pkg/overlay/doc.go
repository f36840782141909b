// Package overlay stacks directories with overlayfs, the union filesystem
// container engines use to turn image layers into a root filesystem.
//
// An overlay mount joins N read-only lower directories (image layers, top
// first) and one writable upper directory into a merged view at a target.
// Reads are served by the topmost layer that has the path; the first write
// to a lower file copies it up whole into the upper directory; a delete
// leaves a whiteout (a 0/0 character device) in upper; a directory removed
// and made again is marked opaque (xattr trusted.overlay.opaque=y) so no
// lower entry shows through.
//
// This package mounts and unmounts overlays ([Mount], [Unmount]), shows
// which layer serves each path of a merged view ([Layers]), lists the
// changes an upper directory holds as `docker diff` prints them ([Diff]),
// and converts OCI whiteouts (".wh.NAME", ".wh..wh..opq") to overlay form
// and back ([ConvertOCIToOverlay], [ConvertOverlayToOCI]).
//
// Equivalent to: `mount -t overlay overlay -o lowerdir=A:B,upperdir=U,workdir=W MERGED`.
package overlay
