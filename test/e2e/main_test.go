// Package e2e runs the real ctrlab binary as root and asserts what the
// kernel shows for the containers it runs. Every test has its own store
// root (t.TempDir), its own network namespace acting as the "host" (so the
// bridge, veths and firewall rules never touch the machine's), a unique
// bridge name and subnet, and removes what it made in t.Cleanup.
//
// The busybox image needs no registry: TestMain builds an OCI layout from
// the host's static /bin/busybox (Debian's busybox-static) with ggcr, and
// each test `ctrlab load`s it. Registry images (CTRLAB_TEST_REGISTRY, see
// hack/test-env.sh) are used where a test needs another platform.
// CTRLAB_E2E_BINARY names a prebuilt static ctrlab to test instead of
// building one (the test VMs have no Go toolchain).
package e2e

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// BusyboxRef is the name the test layout's image is loaded as.
const BusyboxRef = "localhost/e2ebusybox:latest"

var (
	ctrlabBin   string // the binary under test, built static by TestMain
	busyboxOCI  string // OCI layout with BusyboxRef, or "" when /bin/busybox is missing
	busyboxSkip string // why busybox tests skip
	setupErr    error
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Geteuid() != 0 || os.Getenv("CTRLAB_TEST_NOROOT") != "" {
		return m.Run() // every test skips via testutil.RequireRoot
	}
	dir, err := os.MkdirTemp("", "ctrlab-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if bin := os.Getenv("CTRLAB_E2E_BINARY"); bin != "" {
		// A prebuilt static binary, e.g. in a test VM without a Go
		// toolchain (hack/cgroup2-vm/run.sh sets it).
		ctrlabBin = bin
	} else {
		ctrlabBin = filepath.Join(dir, "ctrlab")
		build := exec.Command("go", "build", "-o", ctrlabBin, "github.com/ctrlab/ctrlab/cmd/ctrlab")
		build.Env = append(os.Environ(), "CGO_ENABLED=0") // static: ctrlab/self and --init run it inside containers
		if out, err := build.CombinedOutput(); err != nil {
			setupErr = fmt.Errorf("building ctrlab: %v\n%s", err, out)
		}
	}
	busyboxOCI = filepath.Join(dir, "busybox-oci")
	if err := writeBusyboxLayout(busyboxOCI, "/bin/busybox", runtime.GOARCH); err != nil {
		busyboxOCI, busyboxSkip = "", err.Error()
	}
	return m.Run()
}

// writeBusyboxLayout writes an OCI layout holding one image: a static
// busybox at /bin/busybox, a symlink per applet, /etc/passwd and /etc/group
// (root, nobody), and /tmp.
func writeBusyboxLayout(dir, busybox, arch string) error {
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return fmt.Errorf("no static busybox (apt install busybox-static): %v", err)
	}
	if f, err := elf.NewFile(bytes.NewReader(bin)); err == nil {
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				return fmt.Errorf("%s is dynamically linked: install busybox-static", busybox)
			}
		}
	}
	applets, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("listing busybox applets: %v", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mt := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	dirs := []string{"bin", "etc", "tmp", "proc", "sys", "dev", "root", "www"}
	for _, d := range dirs {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode, ModTime: mt}); err != nil {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd":     "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":      "root:x:0:\nnogroup:x:65534:\n",
		"www/index.html": "hello from busybox httpd\n",
	}
	for _, n := range []string{"etc/passwd", "etc/group", "www/index.html"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(files[n])), ModTime: mt}); err != nil {
			return err
		}
		if _, err := io.WriteString(tw, files[n]); err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bin)), ModTime: mt}); err != nil {
		return err
	}
	if _, err := tw.Write(bin); err != nil {
		return err
	}
	for _, a := range strings.Fields(string(applets)) {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777, ModTime: mt}); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Cmd = []string{"sh"}
	cf.Config.Env = []string{"PATH=/bin", "E2E_IMAGE_ENV=from-image"}
	cf.Config.WorkingDir = "/tmp"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": BusyboxRef}),
		layout.WithPlatform(v1.Platform{OS: "linux", Architecture: arch}))
}
