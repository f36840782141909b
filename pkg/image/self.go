package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
)

// SelfRef is the built-in image: one layer holding the running ctrlab
// binary at /ctrlab, whose entrypoint prints the container's own view of
// itself.
const SelfRef = "ctrlab/self:latest"

// SelfEntrypoint is ctrlab/self's entrypoint.
var SelfEntrypoint = []string{"/ctrlab", "inspect", "self"}

// EnsureSelf builds ctrlab/self from /proc/self/exe (no network) for this
// host's platform and records it in the store, unless the stored one already
// holds this very binary. The layer is an uncompressed tar, so its digest
// and its diff ID are the same; every byte and time in it is fixed, so the
// same binary always gives the same image ID.
func EnsureSelf(ctx context.Context, s *Store) (*PullResult, error) {
	tmp, err := os.CreateTemp(s.tmpDir(), "self-layer-")
	if err != nil {
		return nil, classifyFS(err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := newSHA()
	size, err := writeSelfLayer(io.MultiWriter(tmp, h))
	if err != nil {
		return nil, fmt.Errorf("building %s layer: %w", SelfRef, classifyFS(err))
	}
	layerDigest := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}

	plat := HostPlatform()
	epoch := v1.Time{Time: time.Unix(0, 0).UTC()}
	cf := v1.ConfigFile{
		Architecture: plat.Architecture, OS: plat.OS, Variant: plat.Variant, Created: epoch,
		Config: v1.Config{
			Entrypoint: SelfEntrypoint,
			Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			WorkingDir: "/",
			Labels:     map[string]string{"org.opencontainers.image.title": "ctrlab/self"},
		},
		RootFS:  v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{layerDigest}},
		History: []v1.History{{Created: epoch, CreatedBy: "ctrlab: COPY /proc/self/exe /ctrlab (+ empty /dev /proc /sys /tmp /etc)"}},
	}
	rawConfig, err := json.Marshal(cf)
	if err != nil {
		return nil, err
	}
	cfgDigest, _, err := v1.SHA256(bytes.NewReader(rawConfig))
	if err != nil {
		return nil, err
	}
	mf := v1.Manifest{
		SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Size: int64(len(rawConfig)), Digest: cfgDigest},
		Layers: []v1.Descriptor{{MediaType: types.OCIUncompressedLayer, Size: size, Digest: layerDigest}},
	}
	rawManifest, err := json.Marshal(mf)
	if err != nil {
		return nil, err
	}
	ref, _ := ParseReference(SelfRef, false)
	res := &PullResult{Reference: ref.Name(), Platform: platformString(&plat),
		ManifestMediaType: string(mf.MediaType), ConfigDigest: cfgDigest.String(),
		Layers: []Layer{{Digest: layerDigest.String(), DiffID: layerDigest.String(), Size: size, MediaType: string(types.OCIUncompressedLayer)}}}

	unlock, err := s.lock("gc", unix.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if !s.hasBlob(layerDigest, size) {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		if _, err := s.writeBlob(layerDigest, size, tmp, nil); err != nil {
			return nil, err
		}
		res.Layers[0].Downloaded = true
	}
	if _, err := s.putBlob(rawConfig); err != nil {
		return nil, err
	}
	mdigest, err := s.putBlob(rawManifest)
	if err != nil {
		return nil, err
	}
	res.ManifestDigest = mdigest.String()
	if d, err := s.find(res.Reference); err == nil && d.Digest == mdigest {
		return res, nil
	}
	desc := v1.Descriptor{MediaType: mf.MediaType, Size: int64(len(rawManifest)), Digest: mdigest, Platform: &plat}
	if err := s.record(res.Reference, desc, ""); err != nil {
		return nil, err
	}
	return res, nil
}

// writeSelfLayer writes the ctrlab/self layer tar: a few empty mount-point
// directories and /ctrlab, all owned by root with time 0.
func writeSelfLayer(w io.Writer) (int64, error) {
	exe, err := os.Open("/proc/self/exe")
	if err != nil {
		return 0, err
	}
	defer exe.Close()
	st, err := exe.Stat()
	if err != nil {
		return 0, err
	}
	cw := &countingWriter{w: w}
	tw := tar.NewWriter(cw)
	t0 := time.Unix(0, 0)
	for _, d := range []struct {
		name string
		mode int64
	}{{"dev/", 0o755}, {"etc/", 0o755}, {"proc/", 0o555}, {"sys/", 0o555}, {"tmp/", 0o1777}} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.name, Mode: d.mode, ModTime: t0, Format: tar.FormatPAX}); err != nil {
			return 0, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "ctrlab", Mode: 0o755, Size: st.Size(), ModTime: t0, Format: tar.FormatPAX}); err != nil {
		return 0, err
	}
	if _, err := io.CopyN(tw, exe, st.Size()); err != nil {
		return 0, err
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	return cw.n, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
