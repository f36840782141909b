package image

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestPullChoosesPlatform pushes a three-platform index and checks that
// each platform pulls its own manifest and config, and the index digest.
func TestPullChoosesPlatform(t *testing.T) {
	reg := newRegistry(t, nil)
	amd, arm64, armv7 := randomImage(t, "linux/amd64", 2), randomImage(t, "linux/arm64/v8", 2), randomImage(t, "linux/arm/v7", 2)
	idx := pushIndex(t, reg+"/busybox:latest", platImg{"linux/amd64", amd}, platImg{"linux/arm64/v8", arm64}, platImg{"linux/arm/v7", armv7})
	for _, tc := range []struct {
		plat, wantPlat string
		img            v1.Image
	}{
		{"linux/amd64", "linux/amd64", amd},
		{"linux/arm64", "linux/arm64/v8", arm64},
		{"linux/arm/v7", "linux/arm/v7", armv7},
	} {
		t.Run(strings.ReplaceAll(tc.plat, "/", "_"), func(t *testing.T) {
			s := openStore(t)
			res, err := s.Pull(bg, reg+"/busybox", WithPlatform(tc.plat))
			if err != nil {
				t.Fatal(err)
			}
			if res.Platform != tc.wantPlat {
				t.Errorf("platform = %q, want %q", res.Platform, tc.wantPlat)
			}
			if want := digestOf(t, idx); res.IndexDigest != want {
				t.Errorf("index digest = %s, want %s", res.IndexDigest, want)
			}
			if want := digestOf(t, tc.img); res.ManifestDigest != want {
				t.Errorf("manifest digest = %s, want %s", res.ManifestDigest, want)
			}
			if want := configDigest(t, tc.img); res.ConfigDigest != want {
				t.Errorf("config digest = %s, want %s", res.ConfigDigest, want)
			}
			if res.Reference != reg+"/busybox:latest" {
				t.Errorf("reference = %q", res.Reference)
			}
			if len(res.Platforms) != 3 {
				t.Errorf("platforms = %v, want 3", res.Platforms)
			}
			// Every layer is on disk and hashes to its digest.
			ls, _ := tc.img.Layers()
			for i, l := range ls {
				d, _ := l.Digest()
				if res.Layers[i].Digest != d.String() || !res.Layers[i].Downloaded {
					t.Errorf("layer %d = %+v, want %s downloaded", i, res.Layers[i], d)
				}
				if _, err := s.readBlob(d); err != nil {
					t.Errorf("layer blob: %v", err)
				}
			}
		})
	}
}

func TestHostPlatformDefault(t *testing.T) {
	reg := newRegistry(t, nil)
	host := HostPlatform()
	other := "linux/s390x"
	pushIndex(t, reg+"/multi:1", platImg{platformString(&host), randomImage(t, platformString(&host), 1)},
		platImg{other, randomImage(t, other, 1)})
	res, err := openStore(t).Pull(bg, reg+"/multi:1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Platform != platformString(&host) {
		t.Errorf("platform = %q, want the host's %q", res.Platform, platformString(&host))
	}
}

// TestPullTwiceDownloadsNothing asserts dedupe: the second pull of the same
// image transfers no blob bytes, and a second image sharing layers only
// downloads the new ones.
func TestPullTwiceDownloadsNothing(t *testing.T) {
	var blobGets atomic.Int64
	reg := newRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
				blobGets.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	})
	base := []byte(nil)
	img := imageOf(t, "linux/amd64", mkTar(t, entry{name: "a", body: "one"}), mkTar(t, entry{name: "b", body: "two"}))
	push(t, reg+"/dedupe:1", img)
	s := openStore(t)
	first, err := s.Pull(bg, reg+"/dedupe:1", WithPlatform("linux/amd64"))
	if err != nil {
		t.Fatal(err)
	}
	if first.BytesDownloaded == 0 {
		t.Fatal("first pull downloaded 0 bytes")
	}
	gets := blobGets.Load()
	second, err := s.Pull(bg, reg+"/dedupe:1", WithPlatform("linux/amd64"))
	if err != nil {
		t.Fatal(err)
	}
	if second.BytesDownloaded != 0 || blobGets.Load() != gets {
		t.Errorf("second pull: %d bytes, %d blob GETs; want 0, 0", second.BytesDownloaded, blobGets.Load()-gets)
	}
	for _, l := range second.Layers {
		if l.Downloaded {
			t.Errorf("layer %s downloaded again", l.Digest)
		}
	}
	// A second image sharing the bottom layer.
	ls, _ := img.Layers()
	bottom, _ := ls[0].Compressed()
	_ = bottom.Close()
	img2 := imageOf(t, "linux/amd64", mkTar(t, entry{name: "a", body: "one"}), mkTar(t, entry{name: "c", body: "three"}))
	push(t, reg+"/dedupe:2", img2)
	third, err := s.Pull(bg, reg+"/dedupe:2", WithPlatform("linux/amd64"))
	if err != nil {
		t.Fatal(err)
	}
	if third.Layers[0].Downloaded || !third.Layers[1].Downloaded {
		t.Errorf("shared layer handling: %+v", third.Layers)
	}
	_ = base
	list, err := s.List()
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %v, %v; want 2 images", list, err)
	}
}

// TestRemoveCollectsGarbage checks that image rm deletes exactly the blobs
// and unpacked layers no other image uses.
func TestRemoveCollectsGarbage(t *testing.T) {
	reg := newRegistry(t, nil)
	shared := mkTar(t, entry{name: "shared", body: "s"})
	img1 := imageOf(t, "linux/amd64", shared, mkTar(t, entry{name: "only1", body: "1"}))
	img2 := imageOf(t, "linux/amd64", shared, mkTar(t, entry{name: "only2", body: "2"}))
	push(t, reg+"/gc:1", img1)
	push(t, reg+"/gc:2", img2)
	s := openStore(t)
	r1, err := s.Pull(bg, reg+"/gc:1", WithPlatform("linux/amd64"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pull(bg, reg+"/gc:2", WithPlatform("linux/amd64")); err != nil {
		t.Fatal(err)
	}
	dirs1, err := s.LayerDirs(bg, reg+"/gc:1")
	if err != nil {
		t.Fatal(err)
	}
	dirs2, err := s.LayerDirs(bg, reg+"/gc:2")
	if err != nil {
		t.Fatal(err)
	}
	if dirs1[0] != dirs2[0] {
		t.Errorf("shared layer unpacked twice: %s, %s", dirs1[0], dirs2[0])
	}
	rm, err := s.Remove(reg + "/gc:1")
	if err != nil {
		t.Fatal(err)
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	h := func(s string) v1.Hash { x, _ := v1.NewHash(s); return x }
	if exists(s.BlobPath(h(r1.Layers[1].Digest))) || exists(s.BlobPath(h(r1.ManifestDigest))) || exists(s.BlobPath(h(r1.ConfigDigest))) {
		t.Error("blobs only img1 used are still on disk")
	}
	if !exists(s.BlobPath(h(r1.Layers[0].Digest))) {
		t.Error("shared layer blob was collected")
	}
	if exists(dirs1[1]) || !exists(dirs1[0]) || !exists(dirs2[1]) {
		t.Errorf("unpacked layers after rm: only1 %v shared %v only2 %v", exists(dirs1[1]), exists(dirs1[0]), exists(dirs2[1]))
	}
	if len(rm.GC.Blobs) != 3 || len(rm.GC.LayerDirs) != 1 {
		t.Errorf("GC = %+v, want 3 blobs (layer, config, manifest) and 1 layer dir", rm.GC)
	}
	if _, err := s.Inspect(reg + "/gc:1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Inspect after rm: %v, want ErrNotFound", err)
	}
	if _, err := s.Remove(reg + "/gc:2"); err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(s.blobDir())
	ld, _ := os.ReadDir(s.layersDir())
	if len(left) != 0 || len(ld) != 0 {
		t.Errorf("after removing every image: %d blobs, %d layer dirs left", len(left), len(ld))
	}
}

func TestPullErrors(t *testing.T) {
	reg := newRegistry(t, nil)
	push(t, reg+"/one:arm", randomImage(t, "linux/arm64", 1))
	pushIndex(t, reg+"/idx:1", platImg{"linux/arm64", randomImage(t, "linux/arm64", 1)}, platImg{"linux/riscv64", randomImage(t, "linux/riscv64", 1)})
	auth := newRegistry(t, func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
		})
	})
	for _, tc := range []struct {
		name, ref string
		opts      []Option
		want      error
		contains  string
	}{
		{"unknown tag", reg + "/one:nope", nil, ErrUnknownImage, "no such image"},
		{"unknown repo", reg + "/nothing:1", nil, ErrUnknownImage, ""},
		{"no platform in index", reg + "/idx:1", []Option{WithPlatform("linux/s390x")}, ErrNoPlatform, "linux/arm64, linux/riscv64"},
		{"single image wrong arch", reg + "/one:arm", []Option{WithPlatform("linux/amd64")}, ErrNoPlatform, "linux/arm64"},
		{"unreachable", "127.0.0.1:1/x:1", nil, ErrUnreachable, "127.0.0.1:1"},
		{"auth", auth + "/private:1", nil, ErrAuth, "login"},
		{"bad ref", "UPPER/case", nil, ErrInvalidReference, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			_, err := s.Pull(bg, tc.ref, tc.opts...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if testing.Verbose() {
				t.Log(err)
			}
			if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("error %q: want one line containing %q", err, tc.contains)
			}
			if l, _ := s.List(); len(l) != 0 {
				t.Errorf("failed pull left records: %v", l)
			}
		})
	}
}

// TestDigestMismatch serves a corrupted layer: the pull must fail with
// ErrDigestMismatch and leave neither a record nor the bad blob.
func TestDigestMismatch(t *testing.T) {
	img := imageOf(t, "linux/amd64", mkTar(t, entry{name: "f", body: strings.Repeat("x", 4096)}))
	ls, _ := img.Layers()
	ld, _ := ls[0].Digest()
	reg := newRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, ld.Hex) {
				rec := &corruptWriter{ResponseWriter: w}
				h.ServeHTTP(rec, r)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	push(t, reg+"/bad:1", img)
	s := openStore(t)
	_, err := s.Pull(bg, reg+"/bad:1", WithPlatform("linux/amd64"))
	if !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("err = %v, want ErrDigestMismatch", err)
	}
	if testing.Verbose() {
		t.Log(err)
	}
	if l, _ := s.List(); len(l) != 0 {
		t.Errorf("records after a corrupt pull: %v", l)
	}
	if _, err := os.Stat(s.BlobPath(ld)); err == nil {
		t.Error("corrupt layer blob was stored")
	}
	tmps, _ := filepath.Glob(filepath.Join(s.blobDir(), ".tmp-*"))
	if len(tmps) != 0 {
		t.Errorf("temporary files left: %v", tmps)
	}
}

// corruptWriter flips the last byte of every blob body.
type corruptWriter struct {
	http.ResponseWriter
}

func (c *corruptWriter) Write(p []byte) (int, error) {
	q := append([]byte(nil), p...)
	if len(q) > 0 {
		q[len(q)-1] ^= 0xff
	}
	return c.ResponseWriter.Write(q)
}
