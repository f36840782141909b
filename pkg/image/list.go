package image

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// Summary is one stored image, as `ctrlab images` lists it.
type Summary struct {
	// Reference is the full reference the image was pulled or loaded as.
	Reference string `json:"reference"`
	// Repository and Tag are the short, familiar forms ("alpine", "latest").
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	// ID is the config digest: the image ID.
	ID string `json:"id"`
	// ManifestDigest is the registry digest of this platform's manifest.
	ManifestDigest string `json:"manifestDigest"`
	// IndexDigest is the digest of the index it was chosen from, if any.
	IndexDigest string `json:"indexDigest,omitempty"`
	Platform    string `json:"platform"`
	// Size is the bytes stored: config plus compressed layers.
	Size    int64     `json:"size"`
	Layers  int       `json:"layers"`
	Created time.Time `json:"created,omitzero"`
	Pulled  string    `json:"pulled,omitempty"`
}

// ImageConfig is the part of an image config a runtime needs.
type ImageConfig struct {
	Entrypoint   []string          `json:"entrypoint,omitempty"`
	Cmd          []string          `json:"cmd,omitempty"`
	Env          []string          `json:"env,omitempty"`
	WorkingDir   string            `json:"workingDir,omitempty"`
	User         string            `json:"user,omitempty"`
	ExposedPorts []string          `json:"exposedPorts,omitempty"`
	Volumes      []string          `json:"volumes,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	StopSignal   string            `json:"stopSignal,omitempty"`
}

// HistoryEntry is one build step; EmptyLayer steps (ENV, CMD...) made no
// layer, the others made Layers[LayerIndex].
type HistoryEntry struct {
	Created    time.Time `json:"created,omitzero"`
	CreatedBy  string    `json:"createdBy,omitempty"`
	Comment    string    `json:"comment,omitempty"`
	EmptyLayer bool      `json:"emptyLayer"`
	LayerIndex int       `json:"layerIndex"` // -1 for empty layers
	Layer      string    `json:"layer,omitempty"`
}

// Info is everything `ctrlab image inspect` shows.
type Info struct {
	Summary
	ManifestMediaType string         `json:"manifestMediaType"`
	Author            string         `json:"author,omitempty"`
	Config            ImageConfig    `json:"config"`
	Layers            []Layer        `json:"layers"`
	History           []HistoryEntry `json:"history,omitempty"`
}

// shortName turns index.docker.io/library/alpine into alpine, as docker does.
func shortName(repo string) string {
	repo = strings.TrimPrefix(repo, name.DefaultRegistry+"/")
	return strings.TrimPrefix(repo, "library/")
}

func splitRef(full string) (repo, tag string) {
	ref, err := name.ParseReference(full)
	if err != nil {
		return full, ""
	}
	repo = shortName(ref.Context().Name())
	switch r := ref.(type) {
	case name.Tag:
		tag = r.TagStr()
	case name.Digest:
		tag = "@" + r.DigestStr()
	}
	return repo, tag
}

// find looks ref up: as a full reference ("alpine" = the Docker Hub one),
// then as an image ID or manifest digest (or a unique prefix of 4+ hex),
// then as repo:tag ignoring the registry, if that is unique.
func (s *Store) find(ref string) (v1.Descriptor, error) {
	im, err := s.readIndex()
	if err != nil {
		return v1.Descriptor{}, err
	}
	if r, err := name.ParseReference(ref); err == nil {
		for _, d := range im.Manifests {
			if d.Annotations[AnnotationRefName] == r.Name() {
				return d, nil
			}
		}
	}
	if h := strings.TrimPrefix(ref, "sha256:"); len(h) >= 4 && strings.Trim(h, "0123456789abcdef") == "" {
		var hits []v1.Descriptor
		for _, d := range im.Manifests {
			mf, err := s.manifest(d.Digest)
			if err != nil {
				continue
			}
			if strings.HasPrefix(mf.Config.Digest.Hex, h) || strings.HasPrefix(d.Digest.Hex, h) {
				hits = append(hits, d)
			}
		}
		if len(hits) > 0 && allSame(hits) {
			return hits[0], nil
		}
	}
	if r, err := name.ParseReference(ref); err == nil {
		want := shortName(r.Context().RepositoryStr()) + ":" + r.Identifier()
		var hits []v1.Descriptor
		for _, d := range im.Manifests {
			if o, err := name.ParseReference(d.Annotations[AnnotationRefName]); err == nil &&
				shortName(o.Context().RepositoryStr())+":"+o.Identifier() == want {
				hits = append(hits, d)
			}
		}
		if len(hits) == 1 {
			return hits[0], nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("%w: %s (see `ctrlab images`, or pull it)", ErrNotFound, ref)
}

func allSame(ds []v1.Descriptor) bool {
	for _, d := range ds {
		if d.Digest != ds[0].Digest {
			return false
		}
	}
	return true
}

func (s *Store) manifest(h v1.Hash) (*v1.Manifest, error) {
	b, err := s.readBlob(h)
	if err != nil {
		return nil, err
	}
	return v1.ParseManifest(bytes.NewReader(b))
}

func (s *Store) configFile(h v1.Hash) (*v1.ConfigFile, error) {
	b, err := s.readBlob(h)
	if err != nil {
		return nil, err
	}
	return v1.ParseConfigFile(bytes.NewReader(b))
}

func (s *Store) summary(d v1.Descriptor) (*Summary, *v1.Manifest, *v1.ConfigFile, error) {
	mf, err := s.manifest(d.Digest)
	if err != nil {
		return nil, nil, nil, err
	}
	cf, err := s.configFile(mf.Config.Digest)
	if err != nil {
		return nil, nil, nil, err
	}
	full := d.Annotations[AnnotationRefName]
	repo, tag := splitRef(full)
	sm := &Summary{Reference: full, Repository: repo, Tag: tag, ID: mf.Config.Digest.String(),
		ManifestDigest: d.Digest.String(), IndexDigest: d.Annotations[AnnotationIndexDigest],
		Platform: platformString(cf.Platform()), Size: mf.Config.Size, Layers: len(mf.Layers),
		Created: cf.Created.Time, Pulled: d.Annotations[AnnotationPulled]}
	for _, l := range mf.Layers {
		sm.Size += l.Size
	}
	return sm, mf, cf, nil
}

// List returns every stored image, sorted by reference.
// Equivalent to: `jq .manifests ROOT/images/index.json`.
func (s *Store) List() ([]Summary, error) {
	im, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	out := []Summary{}
	for _, d := range im.Manifests {
		sm, _, _, err := s.summary(d)
		if err != nil {
			return nil, fmt.Errorf("reading image %s: %w", d.Annotations[AnnotationRefName], err)
		}
		out = append(out, *sm)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Reference < out[j].Reference })
	return out, nil
}

// Inspect returns the config, layers and history of a stored image.
func (s *Store) Inspect(ref string) (*Info, error) {
	d, err := s.find(ref)
	if err != nil {
		return nil, err
	}
	sm, mf, cf, err := s.summary(d)
	if err != nil {
		return nil, err
	}
	info := &Info{Summary: *sm, ManifestMediaType: string(d.MediaType), Author: cf.Author, Config: toImageConfig(cf)}
	if info.ManifestMediaType == "" {
		info.ManifestMediaType = string(mf.MediaType)
	}
	for i, l := range mf.Layers {
		li := Layer{Digest: l.Digest.String(), Size: l.Size, MediaType: string(l.MediaType)}
		if i < len(cf.RootFS.DiffIDs) {
			li.DiffID = cf.RootFS.DiffIDs[i].String()
		}
		info.Layers = append(info.Layers, li)
	}
	next := 0
	for _, h := range cf.History {
		e := HistoryEntry{Created: h.Created.Time, CreatedBy: h.CreatedBy, Comment: h.Comment, EmptyLayer: h.EmptyLayer, LayerIndex: -1}
		if !h.EmptyLayer && next < len(info.Layers) {
			e.LayerIndex, e.Layer = next, info.Layers[next].Digest
			next++
		}
		info.History = append(info.History, e)
	}
	return info, nil
}

// Config returns the runtime part of a stored image's config.
func (s *Store) Config(ref string) (*ImageConfig, error) {
	d, err := s.find(ref)
	if err != nil {
		return nil, err
	}
	mf, err := s.manifest(d.Digest)
	if err != nil {
		return nil, err
	}
	cf, err := s.configFile(mf.Config.Digest)
	if err != nil {
		return nil, err
	}
	c := toImageConfig(cf)
	return &c, nil
}

// Config opens the store named by WithRoot and returns ref's config.
func Config(ref string, opts ...Option) (*ImageConfig, error) {
	s, err := Open(buildOptions(opts).root)
	if err != nil {
		return nil, err
	}
	return s.Config(ref)
}

func toImageConfig(cf *v1.ConfigFile) ImageConfig {
	c := cf.Config
	ic := ImageConfig{Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env, WorkingDir: c.WorkingDir,
		User: c.User, Labels: c.Labels, StopSignal: c.StopSignal}
	for p := range c.ExposedPorts {
		ic.ExposedPorts = append(ic.ExposedPorts, p)
	}
	for v := range c.Volumes {
		ic.Volumes = append(ic.Volumes, v)
	}
	sort.Strings(ic.ExposedPorts)
	sort.Strings(ic.Volumes)
	return ic
}

// RemoveResult reports what `image rm` deleted.
type RemoveResult struct {
	Reference string   `json:"reference"`
	ID        string   `json:"id"`
	GC        GCResult `json:"gc"`
}

// GCResult lists what garbage collection deleted.
type GCResult struct {
	Blobs      []string `json:"blobs"`
	LayerDirs  []string `json:"layerDirs"`
	BytesFreed int64    `json:"bytesFreed"`
}

// Remove deletes the record for ref, then garbage-collects the blobs and
// unpacked layers no remaining image uses.
// Equivalent to: `skopeo delete oci:ROOT/images:REF` plus a GC.
func (s *Store) Remove(ref string) (*RemoveResult, error) {
	d, err := s.find(ref)
	if err != nil {
		return nil, err
	}
	full := d.Annotations[AnnotationRefName]
	res := &RemoveResult{Reference: full}
	if mf, err := s.manifest(d.Digest); err == nil {
		res.ID = mf.Config.Digest.String()
	}
	err = s.updateIndex(func(im *v1.IndexManifest) error {
		out := im.Manifests[:0]
		for _, m := range im.Manifests {
			if m.Annotations[AnnotationRefName] != full {
				out = append(out, m)
			}
		}
		im.Manifests = out
		return nil
	})
	if err != nil {
		return nil, err
	}
	gc, err := s.GC()
	if err != nil {
		return res, err
	}
	res.GC = *gc
	return res, nil
}

// GC deletes every blob, unpacked layer and temporary file that no record
// in index.json reaches. It waits for running pulls to finish.
func (s *Store) GC() (*GCResult, error) {
	unlock, err := s.lock("gc", unix.LOCK_EX)
	if err != nil {
		return nil, err
	}
	defer unlock()
	im, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	liveBlobs, liveLayers := map[string]bool{}, map[string]bool{}
	for _, d := range im.Manifests {
		liveBlobs[d.Digest.Hex] = true
		if idx := d.Annotations[AnnotationIndexDigest]; idx != "" {
			liveBlobs[strings.TrimPrefix(idx, "sha256:")] = true
		}
		mf, err := s.manifest(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("collecting garbage: reading %s: %w", d.Annotations[AnnotationRefName], err)
		}
		liveBlobs[mf.Config.Digest.Hex] = true
		for _, l := range mf.Layers {
			liveBlobs[l.Digest.Hex] = true
		}
		cf, err := s.configFile(mf.Config.Digest)
		if err != nil {
			return nil, fmt.Errorf("collecting garbage: reading %s: %w", d.Annotations[AnnotationRefName], err)
		}
		for _, id := range cf.RootFS.DiffIDs {
			liveLayers[id.Hex] = true
		}
	}
	res := &GCResult{Blobs: []string{}, LayerDirs: []string{}}
	ents, err := os.ReadDir(s.blobDir())
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if liveBlobs[e.Name()] {
			continue
		}
		p := filepath.Join(s.blobDir(), e.Name())
		if fi, err := e.Info(); err == nil {
			res.BytesFreed += fi.Size()
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return res, fmt.Errorf("collecting garbage: %w", err)
		}
		if !strings.HasPrefix(e.Name(), ".") {
			res.Blobs = append(res.Blobs, "sha256:"+e.Name())
		}
	}
	ents, err = os.ReadDir(s.layersDir())
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if liveLayers[e.Name()] {
			continue
		}
		if err := removeAllForce(filepath.Join(s.layersDir(), e.Name())); err != nil {
			return res, fmt.Errorf("collecting garbage: %w", err)
		}
		res.LayerDirs = append(res.LayerDirs, filepath.Join(s.layersDir(), e.Name()))
	}
	ents, _ = os.ReadDir(s.tmpDir())
	for _, e := range ents {
		_ = removeAllForce(filepath.Join(s.tmpDir(), e.Name()))
	}
	return res, nil
}

// removeAllForce is os.RemoveAll that first makes read-only directories
// writable (an unprivileged unpack keeps 0555 directories).
func removeAllForce(p string) error {
	if err := os.RemoveAll(p); err == nil {
		return nil
	}
	_ = filepath.WalkDir(p, func(q string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(q, 0o700)
		}
		return nil
	})
	return os.RemoveAll(p)
}
