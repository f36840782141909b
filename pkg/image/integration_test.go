package image

import (
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRealRegistry pulls the busybox test images that hack/test-env.sh
// pushes to a real docker-registry. It skips unless CTRLAB_TEST_REGISTRY is set.
func TestRealRegistry(t *testing.T) {
	reg := os.Getenv("CTRLAB_TEST_REGISTRY")
	if reg == "" {
		t.Skip("CTRLAB_TEST_REGISTRY is not set: run under hack/test-env.sh")
	}
	s := openStore(t)
	for _, tc := range []struct {
		plat, want string
		machine    elf.Machine
	}{
		{"linux/amd64", "linux/amd64", elf.EM_X86_64},
		{"linux/arm64", "linux/arm64/v8", elf.EM_AARCH64},
		{"linux/arm/v7", "linux/arm/v7", elf.EM_ARM},
	} {
		ref := reg + "/busybox:latest"
		res, err := s.Pull(bg, ref, WithPlatform(tc.plat), WithInsecure())
		if err != nil {
			t.Fatal(err)
		}
		if res.Platform != tc.want || res.IndexDigest == "" || len(res.Platforms) != 3 {
			t.Errorf("%s: platform %q index %q platforms %v", tc.plat, res.Platform, res.IndexDigest, res.Platforms)
		}
		// The single-arch tag holds the same manifest the index chose.
		single, err := s.Pull(bg, reg+"/busybox:"+strings.ReplaceAll(strings.TrimPrefix(tc.plat, "linux/"), "/", ""), WithInsecure(), WithPlatform(tc.plat))
		if err != nil {
			t.Fatal(err)
		}
		if single.ManifestDigest != res.ManifestDigest || single.BytesDownloaded != 0 {
			t.Errorf("%s: single tag manifest %s (downloaded %d), index chose %s", tc.plat, single.ManifestDigest, single.BytesDownloaded, res.ManifestDigest)
		}
		dirs, err := s.LayerDirs(bg, res.Reference)
		if err != nil {
			t.Fatal(err)
		}
		f, err := elf.Open(filepath.Join(dirs[0], "bin", "busybox"))
		if err != nil {
			t.Fatal(err)
		}
		if f.Machine != tc.machine {
			t.Errorf("%s: bin/busybox is %v, want %v", tc.plat, f.Machine, tc.machine)
		}
		f.Close()
		if target, err := os.Readlink(filepath.Join(dirs[0], "bin", "sh")); err != nil || target != "busybox" {
			t.Errorf("bin/sh -> %q, %v", target, err)
		}
	}
	// The six-layer image: history paired with layers, dedupe, GC.
	ref := reg + "/layers5:latest"
	first, err := s.Pull(bg, ref, WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Layers) < 5 {
		t.Fatalf("layers5 has %d layers", len(first.Layers))
	}
	again, err := s.Pull(bg, ref, WithInsecure())
	if err != nil || again.BytesDownloaded != 0 {
		t.Errorf("second pull: %d bytes, %v", again.BytesDownloaded, err)
	}
	info, err := s.Inspect(ref)
	if err != nil {
		t.Fatal(err)
	}
	empty := 0
	for _, h := range info.History {
		if h.EmptyLayer {
			empty++
		}
	}
	if empty == 0 || len(info.History)-empty != len(info.Layers) {
		t.Errorf("history %d entries (%d empty) for %d layers", len(info.History), empty, len(info.Layers))
	}
	if _, err := s.LayerDirs(bg, ref); err != nil {
		t.Fatal(err)
	}
	rm, err := s.Remove(ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(rm.GC.LayerDirs) != len(first.Layers)-1 {
		t.Errorf("GC removed %d layer dirs, want %d (all but the shared busybox layer)", len(rm.GC.LayerDirs), len(first.Layers)-1)
	}
}
