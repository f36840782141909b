package image

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"golang.org/x/sys/unix"
)

// LayerDirs opens the store named by WithRoot and returns ref's unpacked
// layer directories. See Store.LayerDirs.
func LayerDirs(ctx context.Context, ref string, opts ...Option) ([]string, error) {
	o := buildOptions(opts)
	s, err := Open(o.root)
	if err != nil {
		return nil, err
	}
	return s.LayerDirs(ctx, ref, o.unpack...)
}

// LayerDirs returns one directory per layer of ref, bottom layer first (the
// reverse of overlayfs lowerdir order), unpacking each layer that is not yet
// unpacked. A layer is unpacked once, keyed by its diff ID, into a
// temporary directory that is renamed into place only after its content
// hashed to the diff ID.
// Equivalent to: `mkdir DIR; tar -xf <(zcat BLOB) -C DIR` per layer.
func (s *Store) LayerDirs(ctx context.Context, ref string, opts ...UnpackOption) ([]string, error) {
	d, err := s.find(ref)
	if err != nil {
		return nil, err
	}
	unlock, err := s.lock("gc", unix.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer unlock()
	mf, err := s.manifest(d.Digest)
	if err != nil {
		return nil, err
	}
	cf, err := s.configFile(mf.Config.Digest)
	if err != nil {
		return nil, err
	}
	if len(cf.RootFS.DiffIDs) != len(mf.Layers) {
		return nil, fmt.Errorf("image %s: config lists %d diff IDs for %d layers", ref, len(cf.RootFS.DiffIDs), len(mf.Layers))
	}
	var img v1.Image
	dirs := make([]string, len(mf.Layers))
	for i, ld := range mf.Layers {
		diffID := cf.RootFS.DiffIDs[i]
		dirs[i] = s.LayerDir(diffID)
		if st, err := os.Stat(dirs[i]); err == nil && st.IsDir() {
			continue
		}
		if img == nil {
			img, err = layout.Path(s.layoutDir()).Image(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("opening image %s in the layout: %w", ref, err)
			}
		}
		l, err := img.LayerByDigest(ld.Digest)
		if err != nil {
			return nil, err
		}
		if err := s.unpackOne(ctx, l, diffID, dirs[i], opts); err != nil {
			return nil, fmt.Errorf("unpacking layer %s: %w", ld.Digest, err)
		}
	}
	return dirs, nil
}

func (s *Store) unpackOne(ctx context.Context, l v1.Layer, diffID v1.Hash, dst string, opts []UnpackOption) error {
	tmp, err := os.MkdirTemp(s.tmpDir(), "layer-"+diffID.Hex[:12]+"-")
	if err != nil {
		return classifyFS(err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = removeAllForce(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	h := newSHA()
	tee := io.TeeReader(rc, h)
	if _, err := UnpackLayer(ctx, tee, tmp, opts...); err != nil {
		return err
	}
	// The tar ends before the stream does (padding): hash the rest, bounded.
	if _, err := io.Copy(io.Discard, io.LimitReader(tee, 1<<20)); err != nil {
		return err
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != diffID.String() {
		return &DigestError{What: "uncompressed layer (diff ID)", Want: diffID.String(), Got: got}
	}
	if err := os.Rename(tmp, dst); err != nil {
		if errors.Is(err, os.ErrExist) || errors.Is(err, unix.ENOTEMPTY) {
			return nil // unpacked meanwhile by someone else; ours is removed
		}
		return classifyFS(err)
	}
	ok = true
	return nil
}
