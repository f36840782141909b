package image

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ctrlab/ctrlab/pkg/overlay"
	"github.com/ctrlab/ctrlab/pkg/reexec"
)

func init() {
	// ctrlab-image-testpull REG REF ROOT: the child a test SIGKILLs mid-pull.
	reexec.Register("ctrlab-image-testpull", func() {
		_, err := Pull(context.Background(), os.Args[1], WithRoot(os.Args[2]), WithPlatform("linux/amd64"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	})
}

// TestLayerDirs pulls a two-layer image whose top layer deletes a file and
// makes a directory opaque, and checks the unpacked lowers.
func TestLayerDirs(t *testing.T) {
	reg := newRegistry(t, nil)
	img := imageOf(t, "linux/amd64",
		mkTar(t, entry{name: "bin/", typ: 'x' - 'x' + '5'}, entry{name: "bin/sh", body: "#!sh", mode: 0o755}, entry{name: "etc/old", body: "old"}),
		mkTar(t, entry{name: "etc/.wh.old"}, entry{name: "var/.wh..wh..opq"}, entry{name: "etc/new", body: "new"}))
	push(t, reg+"/layers:1", img)
	s := openStore(t)
	if _, err := s.Pull(bg, reg+"/layers:1", WithPlatform("linux/amd64")); err != nil {
		t.Fatal(err)
	}
	dirs, err := s.LayerDirs(bg, reg+"/layers:1")
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	if len(dirs) != 2 || filepath.Base(dirs[0]) != cf.RootFS.DiffIDs[0].Hex || filepath.Base(dirs[1]) != cf.RootFS.DiffIDs[1].Hex {
		t.Fatalf("dirs = %v, want one per diff ID, bottom first", dirs)
	}
	if b, err := os.ReadFile(filepath.Join(dirs[0], "bin/sh")); err != nil || string(b) != "#!sh" {
		t.Errorf("bottom layer bin/sh = %q, %v", b, err)
	}
	if !overlay.IsWhiteout(filepath.Join(dirs[1], "etc/old")) || !overlay.IsOpaque(filepath.Join(dirs[1], "var")) {
		t.Error("top layer lacks its overlay whiteout or opaque dir")
	}
	// Second call: nothing unpacked again (same inode of the layer dir).
	var st1, st2 syscall.Stat_t
	_ = syscall.Stat(dirs[1], &st1)
	if _, err := s.LayerDirs(bg, reg+"/layers:1"); err != nil {
		t.Fatal(err)
	}
	_ = syscall.Stat(dirs[1], &st2)
	if st1.Ino != st2.Ino {
		t.Error("layer unpacked twice")
	}
	if tmp, _ := os.ReadDir(s.tmpDir()); len(tmp) != 0 {
		t.Errorf("temporary unpack dirs left: %d", len(tmp))
	}
}

func TestEnsureSelf(t *testing.T) {
	s := openStore(t)
	res, err := EnsureSelf(bg, s)
	if err != nil {
		t.Fatal(err)
	}
	again, err := EnsureSelf(bg, s)
	if err != nil {
		t.Fatal(err)
	}
	if res.ConfigDigest != again.ConfigDigest || again.Layers[0].Downloaded {
		t.Errorf("second EnsureSelf changed the image: %s vs %s", res.ConfigDigest, again.ConfigDigest)
	}
	cfg, err := s.Config("ctrlab/self")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Entrypoint, " ") != "/ctrlab inspect self" {
		t.Errorf("entrypoint = %v", cfg.Entrypoint)
	}
	dirs, err := s.LayerDirs(bg, SelfRef)
	if err != nil {
		t.Fatal(err)
	}
	// Open, then stat: under qemu-user a stat of the path describes qemu itself.
	f, err := os.Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := f.Stat()
	f.Close()
	got, err := os.Stat(filepath.Join(dirs[0], "ctrlab"))
	if err != nil || got.Size() != exe.Size() || got.Mode().Perm() != 0o755 {
		t.Errorf("/ctrlab in the layer: %v %v, want %d bytes 0755", got, err, exe.Size())
	}
	info, err := s.Inspect(SelfRef)
	if err != nil || info.Platform != platformString(ptr(HostPlatform())) || info.Repository != "ctrlab/self" {
		t.Errorf("inspect = %+v, %v", info, err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestSaveLoad round-trips an image through a docker-save tarball into a
// second store with no registry, keeping the image ID.
func TestSaveLoad(t *testing.T) {
	reg := newRegistry(t, nil)
	img := imageOf(t, "linux/amd64", mkTar(t, entry{name: "a", body: "A"}), mkTar(t, entry{name: "b", body: "B"}))
	push(t, reg+"/save:1", img)
	s := openStore(t)
	if _, err := s.Pull(bg, reg+"/save:1", WithPlatform("linux/amd64")); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "save.tar")
	sr, err := s.Save(bg, reg+"/save:1", file)
	if err != nil {
		t.Fatal(err)
	}
	s2 := openStore(t)
	loaded, err := s2.Load(bg, file)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 1 || loaded[0].ConfigDigest != sr.ID || loaded[0].Reference != reg+"/save:1" {
		t.Fatalf("loaded = %+v, want ID %s", loaded[0], sr.ID)
	}
	if _, err := s2.LayerDirs(bg, reg+"/save:1"); err != nil {
		t.Fatal(err)
	}
	// An OCI layout directory (the store's own images/ is one).
	s3 := openStore(t)
	fromDir, err := s3.Load(bg, s.layoutDir())
	if err != nil || len(fromDir) != 1 || fromDir[0].ConfigDigest != sr.ID {
		t.Fatalf("load from layout dir = %+v, %v", fromDir, err)
	}
	// Save as an OCI layout directory ("DIR/"), then load that.
	dir := filepath.Join(t.TempDir(), "layout") + "/"
	sd, err := s.Save(bg, reg+"/save:1", dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil || sd.ID != sr.ID {
		t.Fatalf("saved layout: %v, id %s want %s", err, sd.ID, sr.ID)
	}
	s4 := openStore(t)
	fromSaved, err := s4.Load(bg, dir)
	if err != nil || len(fromSaved) != 1 || fromSaved[0].ConfigDigest != sr.ID || fromSaved[0].Reference != reg+"/save:1" {
		t.Fatalf("load of the saved layout = %+v, %v", fromSaved, err)
	}
	if _, err := s.Save(bg, reg+"/save:1", dir); err == nil {
		t.Fatal("saving into a non-empty directory succeeded")
	}
}

// TestPullKilledMidway SIGKILLs a child process while it downloads from a
// slow registry, then pulls again: the second pull completes, and at no
// point is there a record of a half image.
func TestPullKilledMidway(t *testing.T) {
	started := make(chan struct{}, 16)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	noise := make([]byte, 256<<10)
	_, _ = rand.Read(noise)
	img := imageOf(t, "linux/amd64", mkTar(t, entry{name: "a", body: "small"}),
		mkTar(t, entry{name: "b", body: string(noise)}))
	ls, _ := img.Layers()
	big, _ := ls[1].Digest()
	bigSize, _ := ls[1].Size()
	var slow atomic.Bool
	slow.Store(true)
	reg := newRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if slow.Load() && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, big.Hex) {
				// Send half the blob, then stall until the test ends.
				rc, _ := ls[1].Compressed()
				defer rc.Close()
				w.Header().Set("Content-Length", strconv.FormatInt(bigSize, 10))
				w.WriteHeader(200)
				io.CopyN(w, rc, bigSize/2)
				w.(http.Flusher).Flush()
				started <- struct{}{}
				select {
				case <-release:
				case <-r.Context().Done():
				}
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	push(t, reg+"/killed:1", img)
	root := t.TempDir()
	cmd := reexec.Command("ctrlab-image-testpull", reg+"/killed:1", root)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("child never reached the slow layer")
	}
	// Wait until the child has the partial blob open as a temp file.
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		tmps, _ := filepath.Glob(filepath.Join(s.blobDir(), ".tmp-"+big.Hex[:12]+"-*"))
		if len(tmps) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("the child never created its temporary blob")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want killed by SIGKILL mid-download", cmd.ProcessState)
	}
	// No record of the half image.
	if l, err := s.List(); err != nil || len(l) != 0 {
		t.Fatalf("records after SIGKILL: %v, %v", l, err)
	}
	if _, err := os.Stat(s.BlobPath(big)); err == nil {
		t.Fatal("half-downloaded blob stored under its digest")
	}
	slow.Store(false)
	res, err := s.Pull(bg, reg+"/killed:1", WithPlatform("linux/amd64"))
	if err != nil {
		t.Fatal(err)
	}
	if res.ManifestDigest != digestOf(t, img) || !res.Layers[1].Downloaded {
		t.Errorf("second pull: %+v", res)
	}
	if _, err := s.readBlob(big); err != nil {
		t.Errorf("blob after second pull: %v", err)
	}
	b, _ := os.ReadFile(s.indexPath())
	var idx struct{ Manifests []json.RawMessage }
	if err := json.Unmarshal(b, &idx); err != nil || len(idx.Manifests) != 1 {
		t.Errorf("index.json = %s", b)
	}
	// GC sweeps the dead temp file.
	if _, err := s.GC(); err != nil {
		t.Fatal(err)
	}
	if tmps, _ := filepath.Glob(filepath.Join(s.blobDir(), ".tmp-*")); len(tmps) != 0 {
		t.Errorf("temp blobs after GC: %v", tmps)
	}
}
