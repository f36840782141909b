package assemble

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ctrlab/ctrlab/pkg/explain"
	"github.com/ctrlab/ctrlab/pkg/image"
)

// Image is an image ready to run: what the store knows about it and its
// unpacked layer directories, bottom layer first.
type Image struct {
	Info      *image.Info `json:"info"`
	LayerDirs []string    `json:"layerDirs"`
	// Pulled is set when the image was fetched (or built) for this run.
	Pulled *image.PullResult `json:"pulled,omitempty"`
}

// IsSelf reports whether ref names the built-in ctrlab/self image.
func IsSelf(ref string) bool {
	return ref == "" || ref == image.SelfRef || ref == "ctrlab/self"
}

// ResolveImage finds ref in the store, pulling it first when it is absent
// (or stored for another platform than WithPlatform asks), or building it
// when it is ctrlab/self, then unpacks its layers.
//
// Equivalent to: `ctrlab pull REF` (if needed) then one
// `tar -xf LAYER -C ROOT/layers/sha256/DIFFID` per layer not yet unpacked.
func ResolveImage(ctx context.Context, s *image.Store, ref, platform string, pullOpts ...image.Option) (*Image, error) {
	if IsSelf(ref) {
		ref = image.SelfRef
	}
	out := &Image{}
	info, err := s.Inspect(ref)
	if err == nil && platform != "" && info.Platform != platform && !IsSelf(ref) {
		err = image.ErrNotFound // stored, but for another platform: pull the one asked for
	}
	if errors.Is(err, image.ErrNotFound) {
		var pr *image.PullResult
		if IsSelf(ref) {
			pr, err = image.EnsureSelf(ctx, s)
		} else {
			if platform != "" {
				pullOpts = append(pullOpts, image.WithPlatform(platform))
			}
			pr, err = s.Pull(ctx, ref, pullOpts...)
		}
		if err != nil {
			return nil, err
		}
		out.Pulled = pr
		info, err = s.Inspect(pr.Reference)
	}
	if err != nil {
		return nil, err
	}
	out.Info = info
	if dirs, ok := unpacked(s, info); ok {
		out.LayerDirs = dirs // nothing to unpack: no second read of index, manifest and config
		return out, nil
	}
	out.LayerDirs, err = s.LayerDirs(ctx, info.Reference)
	if err != nil {
		return nil, fmt.Errorf("unpacking the layers of %s: %w", info.Reference, err)
	}
	return out, nil
}

// unpacked returns the layer directories of info when every layer is
// already unpacked (what Store.LayerDirs would then return).
func unpacked(s *image.Store, info *image.Info) ([]string, bool) {
	dirs := make([]string, len(info.Layers))
	for i, l := range info.Layers {
		h, err := v1.NewHash(l.DiffID)
		if err != nil {
			return nil, false
		}
		dirs[i] = s.LayerDir(h)
		if st, err := os.Stat(dirs[i]); err != nil || !st.IsDir() {
			return nil, false
		}
	}
	return dirs, len(dirs) > 0
}

// Report is the image step of --explain: which manifest and config were
// chosen, and where each layer lies unpacked.
func (im *Image) Report() *explain.Report {
	i := im.Info
	r := &explain.Report{Title: "image: " + i.Reference}
	how := "already in the store"
	if im.Pulled != nil {
		how = "pulled now"
		if IsSelf(i.Reference) {
			how = "built now from /proc/self/exe"
		}
	}
	r.Add("reference", "", i.Reference+" ("+how+")")
	r.Add("platform", "", i.Platform)
	if i.IndexDigest != "" {
		r.Add("index digest", "", i.IndexDigest)
	}
	r.Add("manifest digest", "", i.ManifestDigest)
	r.Add("image ID (config digest)", "", i.ID)
	for n, l := range i.Layers {
		dir := ""
		if n < len(im.LayerDirs) {
			dir = im.LayerDirs[n]
		}
		r.Add(fmt.Sprintf("layer %d", n), l.Digest, dir)
	}
	c := i.Config
	if len(c.Entrypoint) > 0 || len(c.Cmd) > 0 {
		r.Note(fmt.Sprintf("image config: Entrypoint %q Cmd %q", c.Entrypoint, c.Cmd))
	}
	if c.WorkingDir != "" || c.User != "" {
		r.Note(fmt.Sprintf("image config: WorkingDir %q User %q", c.WorkingDir, c.User))
	}
	if len(c.Env) > 0 {
		r.Note("image config: Env " + strings.Join(c.Env, " "))
	}
	r.Equiv("ctrlab pull " + i.Reference)
	return r
}
