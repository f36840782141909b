package image

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
)

// Annotations ctrlab keeps on each record in index.json.
const (
	// AnnotationRefName is the OCI annotation holding the full reference.
	AnnotationRefName = "org.opencontainers.image.ref.name"
	// AnnotationIndexDigest is the digest of the index the image was chosen from.
	AnnotationIndexDigest = "io.ctrlab.index.digest"
	// AnnotationPulled is when the record was written (RFC 3339).
	AnnotationPulled = "io.ctrlab.pulled"
)

// Store is a content-addressed image store: an OCI image layout plus one
// unpacked directory per layer.
type Store struct {
	root string
}

// Open opens (creating if needed) the store at root.
// Equivalent to: `mkdir -p ROOT/images/blobs/sha256 ROOT/layers/sha256`.
func Open(root string) (*Store, error) {
	if root == "" {
		root = DefaultRoot()
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("resolving store root %q: %w", root, err)
	}
	s := &Store{root: abs}
	for _, d := range []string{s.blobDir(), s.layersDir(), s.tmpDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("creating store directory %q: %w", d, classifyFS(err))
		}
	}
	marker := filepath.Join(s.layoutDir(), "oci-layout")
	if _, err := os.Stat(marker); errors.Is(err, os.ErrNotExist) {
		if err := writeFileAtomic(marker, []byte(`{"imageLayoutVersion":"1.0.0"}`), s.tmpDir()); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Root is the store's root directory.
func (s *Store) Root() string { return s.root }

func (s *Store) layoutDir() string { return filepath.Join(s.root, "images") }
func (s *Store) blobDir() string   { return filepath.Join(s.layoutDir(), "blobs", "sha256") }
func (s *Store) layersDir() string { return filepath.Join(s.root, "layers", "sha256") }
func (s *Store) tmpDir() string    { return filepath.Join(s.root, "tmp") }
func (s *Store) indexPath() string { return filepath.Join(s.layoutDir(), "index.json") }

// BlobPath is where the blob with digest h is stored.
func (s *Store) BlobPath(h v1.Hash) string { return filepath.Join(s.blobDir(), h.Hex) }

// LayerDir is where the layer with diff ID h is unpacked.
func (s *Store) LayerDir(diffID v1.Hash) string { return filepath.Join(s.layersDir(), diffID.Hex) }

// hasBlob reports whether the blob is stored with the expected size
// (size < 0: any size).
func (s *Store) hasBlob(h v1.Hash, size int64) bool {
	st, err := os.Stat(s.BlobPath(h))
	return err == nil && st.Mode().IsRegular() && (size < 0 || st.Size() == size)
}

func (s *Store) readBlob(h v1.Hash) ([]byte, error) {
	if h.Algorithm != "sha256" {
		return nil, fmt.Errorf("reading blob %s: unsupported digest algorithm", h)
	}
	b, err := os.ReadFile(s.BlobPath(h))
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", h, err)
	}
	if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != h.Hex {
		return nil, &DigestError{What: "stored blob " + s.BlobPath(h), Want: h.String(), Got: "sha256:" + hex.EncodeToString(got[:])}
	}
	return b, nil
}

// writeBlob stores r under digest want: it writes a temporary file,
// hashing as it goes, checks the digest (and size when size >= 0), fsyncs,
// and renames it into place. It returns the bytes written.
func (s *Store) writeBlob(want v1.Hash, size int64, r io.Reader, onWrite func(int64)) (int64, error) {
	if want.Algorithm != "sha256" {
		return 0, fmt.Errorf("storing blob %s: unsupported digest algorithm", want)
	}
	f, err := os.CreateTemp(s.blobDir(), ".tmp-"+want.Hex[:12]+"-")
	if err != nil {
		return 0, fmt.Errorf("storing blob %s: %w", want, classifyFS(err))
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	h := sha256.New()
	w := io.MultiWriter(f, h)
	if onWrite != nil {
		w = io.MultiWriter(w, writeCounter(onWrite))
	}
	n, err := io.Copy(w, r)
	if err != nil {
		return n, fmt.Errorf("storing blob %s: %w", want, classifyFS(err))
	}
	got := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if got != want.String() {
		return n, &DigestError{What: "blob", Want: want.String(), Got: got}
	}
	if size >= 0 && n != size {
		return n, fmt.Errorf("storing blob %s: %w: %d bytes, manifest says %d", want, ErrDigestMismatch, n, size)
	}
	if err := f.Sync(); err != nil {
		return n, fmt.Errorf("storing blob %s: %w", want, classifyFS(err))
	}
	if err := f.Chmod(0o644); err != nil {
		return n, err
	}
	if err := f.Close(); err != nil {
		return n, fmt.Errorf("storing blob %s: %w", want, classifyFS(err))
	}
	if err := os.Rename(tmp, s.BlobPath(want)); err != nil {
		return n, fmt.Errorf("storing blob %s: %w", want, classifyFS(err))
	}
	ok = true
	return n, nil
}

// putBlob stores small in-memory content (manifests, configs, indexes).
func (s *Store) putBlob(b []byte) (v1.Hash, error) {
	sum := sha256.Sum256(b)
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	if s.hasBlob(h, int64(len(b))) {
		return h, nil
	}
	_, err := s.writeBlob(h, int64(len(b)), bytes.NewReader(b), nil)
	return h, err
}

type writeCounter func(int64)

func (c writeCounter) Write(p []byte) (int, error) { c(int64(len(p))); return len(p), nil }

// writeFileAtomic writes data to a temporary file in tmpDir's file system and
// renames it over path.
func writeFileAtomic(path string, data []byte, tmpDir string) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return fmt.Errorf("writing %q: %w", path, classifyFS(err))
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %q: %w", path, classifyFS(err))
	}
	return nil
}

// classifyFS marks ENOSPC and EDQUOT as ErrDiskFull, keeping the cause.
func classifyFS(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	}
	return err
}

// lock takes an flock on ROOT/NAME.lock; call the returned func to release.
func (s *Store) lock(name string, how int) (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.root, name+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening store lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking store: %w", err)
	}
	return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}

// readIndex reads index.json (empty if it does not exist yet).
func (s *Store) readIndex() (*v1.IndexManifest, error) {
	b, err := os.ReadFile(s.indexPath())
	if errors.Is(err, os.ErrNotExist) {
		return &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading store index: %w", err)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(b, &im); err != nil {
		return nil, fmt.Errorf("parsing store index %q: %w", s.indexPath(), err)
	}
	return &im, nil
}

// updateIndex applies fn to index.json under the index lock and writes the
// result atomically: the only place a record is created or removed.
func (s *Store) updateIndex(fn func(*v1.IndexManifest) error) error {
	unlock, err := s.lock("index", unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	im, err := s.readIndex()
	if err != nil {
		return err
	}
	if err := fn(im); err != nil {
		return err
	}
	sort.SliceStable(im.Manifests, func(i, j int) bool {
		return im.Manifests[i].Annotations[AnnotationRefName] < im.Manifests[j].Annotations[AnnotationRefName]
	})
	b, err := json.MarshalIndent(im, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(s.indexPath(), b, s.tmpDir())
}

// record writes (or replaces) the record for refName.
func (s *Store) record(refName string, desc v1.Descriptor, indexDigest string) error {
	desc.Annotations = map[string]string{
		AnnotationRefName: refName,
		AnnotationPulled:  time.Now().UTC().Format(time.RFC3339),
	}
	if indexDigest != "" {
		desc.Annotations[AnnotationIndexDigest] = indexDigest
	}
	return s.updateIndex(func(im *v1.IndexManifest) error {
		out := im.Manifests[:0]
		for _, d := range im.Manifests {
			if d.Annotations[AnnotationRefName] != refName {
				out = append(out, d)
			}
		}
		im.Manifests = append(out, desc)
		return nil
	})
}

func randHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newSHA() hash.Hash { return sha256.New() }
