// Package image pulls container images with go-containerregistry into a
// content-addressed store (an OCI image layout on disk) and unpacks their
// layers, safely, into one directory per layer for use as overlay lowers.
//
// The objects a pull walks through are the ones a learner should see:
//
//   - a reference ("alpine" is short for index.docker.io/library/alpine:latest);
//     a tag moves, a digest (name@sha256:...) never does;
//   - an index (manifest list) naming one manifest per platform
//     (linux/amd64, linux/arm64, linux/arm/v7, ...);
//   - the manifest of the chosen platform: a config blob and a list of
//     compressed layer blobs, each named by the sha256 of its bytes;
//   - the config, whose digest is the image ID, holding the entrypoint, cmd,
//     env and the diff IDs (sha256 of each uncompressed layer tar).
//
// Store layout under the root (default /var/lib/ctrlab, or $CTRLAB_ROOT):
//
//	ROOT/images/oci-layout            OCI image layout marker
//	ROOT/images/index.json            one descriptor per pulled reference (the record)
//	ROOT/images/blobs/sha256/HEX      every blob, stored once, verified by digest
//	ROOT/layers/sha256/DIFFIDHEX/     each layer unpacked once (overlay lower)
//
// Every write goes to a temporary file and is renamed into place; index.json
// is written last, so a pull killed midway leaves no record of a half image.
// Equivalent to: `skopeo copy docker://alpine oci:ROOT/images:alpine` then
// `umoci raw unpack`.
package image
