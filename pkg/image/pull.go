package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// Layer is one layer of an image as the manifest and config name it.
type Layer struct {
	// Digest is the sha256 of the compressed blob (what the registry serves).
	Digest string `json:"digest"`
	// DiffID is the sha256 of the uncompressed tar (what the config lists).
	DiffID    string `json:"diffID"`
	Size      int64  `json:"size"`
	MediaType string `json:"mediaType"`
	// Downloaded is false when the blob was already in the store.
	Downloaded bool `json:"downloaded"`
}

// PullResult names every object a pull walked through.
type PullResult struct {
	// Reference is the fully qualified reference, e.g.
	// index.docker.io/library/alpine:latest.
	Reference string `json:"reference"`
	// IndexDigest is the digest of the multi-platform index (empty when the
	// reference named a single manifest).
	IndexDigest    string `json:"indexDigest,omitempty"`
	IndexMediaType string `json:"indexMediaType,omitempty"`
	// Platforms are all the platforms the index offered.
	Platforms []string `json:"platforms,omitempty"`
	// Platform is the one chosen.
	Platform          string `json:"platform"`
	ManifestDigest    string `json:"manifestDigest"`
	ManifestMediaType string `json:"manifestMediaType"`
	// ConfigDigest is the digest of the config blob: the image ID.
	ConfigDigest string  `json:"configDigest"`
	Layers       []Layer `json:"layers"`
	// BytesDownloaded counts blob bytes (config and layers) fetched from the
	// registry; 0 when every blob was already stored. Manifests, always
	// fetched to resolve a tag, are not counted.
	BytesDownloaded int64 `json:"bytesDownloaded"`
}

// ParseReference applies Docker's defaults: "alpine" is
// index.docker.io/library/alpine:latest.
func ParseReference(s string, insecure bool) (name.Reference, error) {
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.ParseReference(s, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrInvalidReference, s, err)
	}
	return ref, nil
}

// Pull opens the store named by WithRoot (default DefaultRoot()) and pulls
// ref into it. See Store.Pull.
func Pull(ctx context.Context, ref string, opts ...Option) (*PullResult, error) {
	s, err := Open(buildOptions(opts).root)
	if err != nil {
		return nil, err
	}
	return s.Pull(ctx, ref, opts...)
}

// Pull resolves ref at its registry, picks the manifest for the platform
// (the host's unless WithPlatform), downloads the config and the layers not
// yet stored (in parallel, each verified against its digest), and records
// ref -> manifest in index.json last.
// Equivalent to: `skopeo copy --override-arch ARCH docker://REF oci:ROOT/images:REF`.
func (s *Store) Pull(ctx context.Context, refStr string, opts ...Option) (*PullResult, error) {
	o := buildOptions(opts)
	ref, err := ParseReference(refStr, o.insecure)
	if err != nil {
		return nil, err
	}
	want := HostPlatform()
	if o.platform != nil {
		if strings.HasPrefix(o.platform.OS, "invalid:") {
			return nil, fmt.Errorf("invalid platform %q: want os/arch[/variant], like linux/arm64 or linux/arm/v7", strings.TrimPrefix(o.platform.OS, "invalid:"))
		}
		want = *o.platform
	}
	ropts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithRetryBackoff(remote.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Steps: 3}),
	}
	desc, err := remote.Get(ref, ropts...)
	if err != nil {
		return nil, classifyRemote(ref, err)
	}
	res := &PullResult{Reference: ref.Name()}
	var img v1.Image
	var indexRaw []byte
	switch {
	case desc.MediaType.IsIndex():
		im, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
		if err != nil {
			return nil, fmt.Errorf("parsing index of %s: %w", ref, err)
		}
		res.IndexDigest, res.IndexMediaType = desc.Digest.String(), string(desc.MediaType)
		res.Platforms = availablePlatforms(im.Manifests)
		i := choose(want, im.Manifests)
		if i < 0 {
			return nil, &NoPlatformError{Ref: ref.Name(), Want: platformString(&want), Available: res.Platforms}
		}
		child := im.Manifests[i]
		res.Platform = platformString(child.Platform)
		img, err = remote.Image(ref.Context().Digest(child.Digest.String()), ropts...)
		if err != nil {
			return nil, classifyRemote(ref, err)
		}
		indexRaw = desc.Manifest
	case desc.MediaType.IsImage():
		img, err = desc.Image()
		if err != nil {
			return nil, classifyRemote(ref, err)
		}
	default:
		return nil, fmt.Errorf("pulling %s: unsupported media type %s", ref, desc.MediaType)
	}
	if err := s.storeImage(ctx, img, o, res, indexRaw, &want); err != nil {
		e := classifyRemote(ref, err)
		if errors.Is(e, ErrNoPlatform) || strings.HasPrefix(e.Error(), "pulling ") {
			return nil, e
		}
		return nil, fmt.Errorf("pulling %s: %w", ref, e)
	}
	return res, nil
}

// storeImage writes img's blobs (skipping those present), then its record
// under res.Reference. want, when set, is checked against the config's
// platform for single-manifest references.
func (s *Store) storeImage(ctx context.Context, img v1.Image, o *options, res *PullResult, indexRaw []byte, want *v1.Platform) error {
	unlock, err := s.lock("gc", unix.LOCK_SH)
	if err != nil {
		return err
	}
	defer unlock()

	rawManifest, err := img.RawManifest()
	if err != nil {
		return err
	}
	mf, err := v1.ParseManifest(bytes.NewReader(rawManifest))
	if err != nil {
		return fmt.Errorf("parsing manifest: %w", err)
	}
	mdigest, err := img.Digest()
	if err != nil {
		return err
	}
	mt, err := img.MediaType()
	if err != nil {
		return err
	}
	res.ManifestDigest, res.ManifestMediaType = mdigest.String(), string(mt)
	res.ConfigDigest = mf.Config.Digest.String()
	res.BytesDownloaded = 0

	// The config: from the store if present, else downloaded and verified.
	var rawConfig []byte
	if s.hasBlob(mf.Config.Digest, mf.Config.Size) {
		rawConfig, err = s.readBlob(mf.Config.Digest)
	} else {
		rawConfig, err = img.RawConfigFile()
		if err == nil {
			res.BytesDownloaded += int64(len(rawConfig))
			_, err = s.writeBlob(mf.Config.Digest, mf.Config.Size, bytes.NewReader(rawConfig), nil)
		}
	}
	if err != nil {
		return fmt.Errorf("fetching config %s: %w", mf.Config.Digest, err)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(rawConfig))
	if err != nil {
		return fmt.Errorf("parsing config %s: %w", mf.Config.Digest, err)
	}
	cfgPlatform := cf.Platform()
	if res.Platform == "" && cfgPlatform != nil && cfgPlatform.Architecture != "" {
		res.Platform = platformString(cfgPlatform)
		if want != nil && matchPlatform(*want, *cfgPlatform) == 0 {
			return &NoPlatformError{Ref: res.Reference, Want: platformString(want), Available: []string{res.Platform}}
		}
	}
	if len(cf.RootFS.DiffIDs) != len(mf.Layers) {
		return fmt.Errorf("config lists %d diff IDs for %d layers", len(cf.RootFS.DiffIDs), len(mf.Layers))
	}

	// The layers, in parallel, each verified while it is written.
	res.Layers = make([]Layer, len(mf.Layers))
	var mu sync.Mutex
	report := func(p Progress) {
		if o.progress != nil {
			mu.Lock()
			o.progress(p)
			mu.Unlock()
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.parallel)
	var downloaded int64
	var dmu sync.Mutex
	for i, ld := range mf.Layers {
		res.Layers[i] = Layer{Digest: ld.Digest.String(), DiffID: cf.RootFS.DiffIDs[i].String(), Size: ld.Size, MediaType: string(ld.MediaType)}
		if s.hasBlob(ld.Digest, ld.Size) {
			report(Progress{Index: i, Digest: ld.Digest.String(), Done: ld.Size, Total: ld.Size, Complete: true, Cached: true})
			continue
		}
		i, ld := i, ld
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			l, err := img.LayerByDigest(ld.Digest)
			if err != nil {
				return err
			}
			rc, err := l.Compressed()
			if err != nil {
				return fmt.Errorf("fetching layer %s: %w", ld.Digest, err)
			}
			defer rc.Close()
			var done int64
			n, err := s.writeBlob(ld.Digest, ld.Size, ctxReader{gctx, rc}, func(k int64) {
				done += k
				report(Progress{Index: i, Digest: ld.Digest.String(), Done: done, Total: ld.Size})
			})
			dmu.Lock()
			downloaded += n
			dmu.Unlock()
			if err != nil {
				return fmt.Errorf("fetching layer %s: %w", ld.Digest, err)
			}
			report(Progress{Index: i, Digest: ld.Digest.String(), Done: n, Total: ld.Size, Complete: true})
			res.Layers[i].Downloaded = true
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	res.BytesDownloaded += downloaded

	// Manifest and index blobs, then the record: last, so that a record
	// always names a complete image.
	if _, err := s.putBlob(rawManifest); err != nil {
		return err
	}
	if indexRaw != nil {
		if _, err := s.putBlob(indexRaw); err != nil {
			return err
		}
	}
	desc := v1.Descriptor{MediaType: mt, Size: int64(len(rawManifest)), Digest: mdigest, Platform: cfgPlatform}
	return s.record(res.Reference, desc, res.IndexDigest)
}

// ctxReader stops a copy when ctx is cancelled.
type ctxReader struct {
	ctx context.Context
	r   interface{ Read([]byte) (int, error) }
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// classifyRemote maps registry and network failures to the package's
// sentinels, on one line.
func classifyRemote(ref name.Reference, err error) error {
	if err == nil {
		return nil
	}
	for _, s := range []error{ErrNoPlatform, ErrDigestMismatch, ErrDiskFull, ErrUnknownImage, ErrAuth, ErrUnreachable, ErrInvalidReference} {
		if errors.Is(err, s) {
			return err
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var te *transport.Error
	if errors.As(err, &te) {
		for _, d := range te.Errors {
			switch d.Code {
			case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
				return fmt.Errorf("pulling %s: %w", ref, ErrAuth)
			case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode, transport.BlobUnknownErrorCode:
				return fmt.Errorf("pulling %s: %w (%s)", ref, ErrUnknownImage, d.Code)
			case transport.DigestInvalidErrorCode:
				return fmt.Errorf("pulling %s: %w (%s)", ref, ErrDigestMismatch, d.Code)
			}
		}
		switch te.StatusCode {
		case 401, 403:
			return fmt.Errorf("pulling %s: %w", ref, ErrAuth)
		case 404:
			return fmt.Errorf("pulling %s: %w", ref, ErrUnknownImage)
		}
	}
	if strings.Contains(err.Error(), "digest mismatch") || strings.Contains(err.Error(), "error verifying") {
		return fmt.Errorf("pulling %s: %w (%s)", ref, ErrDigestMismatch, oneLine(err))
	}
	var ne net.Error
	var ue *url.Error
	var de *net.DNSError
	if errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &de) || errors.As(err, &ne) || errors.As(err, &ue) {
		return fmt.Errorf("pulling %s: %w: %s (%s)", ref, ErrUnreachable, ref.Context().RegistryStr(), oneLine(err))
	}
	return err
}

func oneLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
