package image

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Load stores the images of a docker-save tarball (`docker save -o FILE`)
// or an OCI image layout directory, with no network. Images are named by
// their tags (tarball RepoTags; layout ref.name annotations), or
// localhost/NAME:latest after the file. From a layout index, the host's
// platform (or WithPlatform) is chosen.
// Equivalent to: `docker load -i FILE` / `skopeo copy oci:DIR docker-daemon:...`.
func (s *Store) Load(ctx context.Context, path string, opts ...Option) ([]*PullResult, error) {
	o := buildOptions(opts)
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("loading %q: %w", path, err)
	}
	base := strings.TrimSuffix(filepath.Base(filepath.Clean(path)), filepath.Ext(path))
	type named struct {
		ref   string
		img   v1.Image
		index string
		plat  string
	}
	var imgs []named
	if st.IsDir() {
		ii, err := layout.ImageIndexFromPath(path)
		if err != nil {
			return nil, fmt.Errorf("loading OCI layout %q: %w", path, err)
		}
		im, err := ii.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("loading OCI layout %q: %w", path, err)
		}
		want := HostPlatform()
		if o.platform != nil {
			want = *o.platform
		}
		for _, d := range im.Manifests {
			ref := layoutRefName(d, base)
			switch {
			case d.MediaType.IsImage():
				img, err := ii.Image(d.Digest)
				if err != nil {
					return nil, err
				}
				imgs = append(imgs, named{ref: ref, img: img})
			case d.MediaType.IsIndex():
				child, err := ii.ImageIndex(d.Digest)
				if err != nil {
					return nil, err
				}
				cm, err := child.IndexManifest()
				if err != nil {
					return nil, err
				}
				i := choose(want, cm.Manifests)
				if i < 0 {
					return nil, &NoPlatformError{Ref: ref, Want: platformString(&want), Available: availablePlatforms(cm.Manifests)}
				}
				img, err := child.Image(cm.Manifests[i].Digest)
				if err != nil {
					return nil, err
				}
				imgs = append(imgs, named{ref: ref, img: img, index: d.Digest.String(), plat: platformString(cm.Manifests[i].Platform)})
			}
		}
	} else {
		m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(path) })
		if err != nil {
			return nil, fmt.Errorf("loading docker-save tarball %q: %w", path, err)
		}
		for _, e := range m {
			tags := e.RepoTags
			if len(tags) == 0 {
				tags = []string{"localhost/" + base + ":latest"}
			}
			for _, t := range tags {
				tag, err := name.NewTag(t)
				if err != nil {
					return nil, fmt.Errorf("%w %q in %s", ErrInvalidReference, t, path)
				}
				var tp *name.Tag
				if len(e.RepoTags) > 0 {
					tp = &tag
				}
				img, err := tarball.ImageFromPath(path, tp)
				if err != nil {
					return nil, fmt.Errorf("loading %s from %q: %w", t, path, err)
				}
				imgs = append(imgs, named{ref: tag.Name(), img: img})
			}
		}
	}
	var out []*PullResult
	for _, n := range imgs {
		res := &PullResult{Reference: n.ref, IndexDigest: n.index, Platform: n.plat}
		if err := s.storeImage(ctx, n.img, o, res, nil, nil); err != nil {
			return out, fmt.Errorf("loading %s: %w", n.ref, err)
		}
		out = append(out, res)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("loading %q: no images in it", path)
	}
	return out, nil
}

// layoutRefName names an image of an OCI layout from its annotations.
func layoutRefName(d v1.Descriptor, base string) string {
	for _, k := range []string{"io.containerd.image.name", AnnotationRefName} {
		v := d.Annotations[k]
		if v == "" {
			continue
		}
		if strings.ContainsAny(v, "/") {
			if r, err := name.ParseReference(v); err == nil {
				return r.Name()
			}
		}
		if t, err := name.NewTag("localhost/" + base + ":" + v); err == nil {
			return t.Name()
		}
	}
	if r, err := name.ParseReference("localhost/" + base + "@" + d.Digest.String()); err == nil {
		return r.Name()
	}
	return "localhost/" + base
}

// SaveResult reports a saved tarball.
type SaveResult struct {
	Reference string `json:"reference"`
	ID        string `json:"id"`
	File      string `json:"file"`
	Size      int64  `json:"size"`
}

// Save writes a stored image as a docker-save tarball (loadable by
// `docker load`, `ctrlab load`, `podman load`), atomically. When file ends
// in "/" or names an empty directory, it writes an OCI image layout there
// instead (loadable by `ctrlab load DIR`, `skopeo copy oci:DIR ...`).
// Equivalent to: `docker save -o FILE REF` / `skopeo copy ... oci:DIR:TAG`.
func (s *Store) Save(ctx context.Context, ref, file string) (*SaveResult, error) {
	d, err := s.find(ref)
	if err != nil {
		return nil, err
	}
	img, err := layout.Path(s.layoutDir()).Image(d.Digest)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", ref, err)
	}
	r, err := name.ParseReference(d.Annotations[AnnotationRefName])
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(file); strings.HasSuffix(file, "/") || err == nil && st.IsDir() {
		return saveLayout(ctx, r, img, filepath.Clean(file))
	}
	f, err := os.CreateTemp(filepath.Dir(file), ".tmp-"+filepath.Base(file)+"-")
	if err != nil {
		return nil, fmt.Errorf("saving %s: %w", ref, classifyFS(err))
	}
	tmp := f.Name()
	err = tarball.Write(r, img, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, file)
	}
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("saving %s to %q: %w", ref, file, classifyFS(err))
	}
	cfg, _ := img.ConfigName()
	st, _ := os.Stat(file)
	res := &SaveResult{Reference: r.Name(), ID: cfg.String(), File: file}
	if st != nil {
		res.Size = st.Size()
	}
	return res, ctx.Err()
}

// saveLayout writes img as an OCI image layout at dir (which must not exist
// or be empty): built in a temporary sibling, then renamed into place.
func saveLayout(ctx context.Context, r name.Reference, img v1.Image, dir string) (*SaveResult, error) {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("saving to %q: the directory is not empty", dir)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".tmp-"+filepath.Base(dir)+"-")
	if err != nil {
		return nil, fmt.Errorf("saving %s: %w", r, classifyFS(err))
	}
	p, err := layout.Write(tmp, empty.Index)
	if err == nil {
		err = p.AppendImage(img, layout.WithAnnotations(map[string]string{AnnotationRefName: r.Name()}))
	}
	if err == nil {
		_ = os.Remove(dir) // an empty directory
		err = os.Rename(tmp, dir)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("saving %s to %q: %w", r, dir, classifyFS(err))
	}
	cfg, _ := img.ConfigName()
	return &SaveResult{Reference: r.Name(), ID: cfg.String(), File: dir, Size: dirSize(dir)}, ctx.Err()
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
