// Package imgbuild builds the test images hack/testimages, hack/bench and hack/soak use, offline
// and deterministic: a one-layer busybox image and a multi-layer image of
// pseudo-random files.
package imgbuild

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Entry is one file of a layer built in memory: a directory (Dir), a
// symlink (Link) or a regular file (Body). Mode 0 means the default.
type Entry struct {
	Name, Link string
	Body       []byte
	Dir        bool
	Mode       int64
}

// Epoch is the timestamp of every built entry and image (reproducible digests).
var Epoch = t0

// TarLayer builds an uncompressed OCI layer from entries, in order.
func TarLayer(es []Entry) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := &tar.Header{Name: e.Name, Mode: 0o644, ModTime: t0, Typeflag: tar.TypeReg, Size: int64(len(e.Body))}
		switch {
		case e.Dir:
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		case e.Link != "":
			h.Typeflag, h.Linkname, h.Mode, h.Size = tar.TypeSymlink, e.Link, 0o777, 0
		}
		if e.Mode != 0 {
			h.Mode = e.Mode
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.Body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer))
}

func newImage(layers ...v1.Layer) (v1.Image, error) {
	img, err := mutate.AppendLayers(mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1), layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: t0}
	cf.Config.Cmd = []string{"sh"}
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	return mutate.ConfigFile(img, cf)
}

// BusyboxTarball writes a docker-save tarball of a one-layer image made of
// this machine's /bin/busybox and its applet links, tagged ref. Offline.
func BusyboxTarball(path, ref, busybox string) error {
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("listing busybox applets (apt-get install busybox-static): %w", err)
	}
	l, err := BusyboxLayer(busybox, strings.Fields(string(out)))
	if err != nil {
		return err
	}
	img, err := newImage(l)
	if err != nil {
		return err
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	return tarball.WriteToFile(path, tag, img)
}

// BusyboxLayer is a layer holding the busybox binary at path (whatever its
// architecture) as /bin/busybox, a link per applet, and the usual empty
// top-level directories.
func BusyboxLayer(path string, applets []string) (v1.Layer, error) {
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading busybox (apt-get install busybox-static): %w", err)
	}
	es := []Entry{{Name: "bin/", Dir: true}, {Name: "dev/", Dir: true}, {Name: "etc/", Dir: true},
		{Name: "proc/", Dir: true}, {Name: "sys/", Dir: true}, {Name: "tmp/", Dir: true, Mode: 0o1777},
		{Name: "bin/busybox", Body: bin, Mode: 0o755}}
	for _, a := range applets {
		if a != "busybox" {
			es = append(es, Entry{Name: "bin/" + a, Link: "busybox"})
		}
	}
	return TarLayer(es)
}

// PushBigImage pushes a multi-layer image of deterministic pseudo-random
// (incompressible) files: layers layers of mbPerLayer MiB each.
func PushBigImage(ref string, layers, mbPerLayer int) (int64, error) {
	var ls []v1.Layer
	for i := 0; i < layers; i++ {
		var seed [32]byte
		binary.LittleEndian.PutUint64(seed[:], uint64(i+1))
		rng := rand.NewChaCha8(seed)
		dir := fmt.Sprintf("data/layer%d/", i)
		es := []Entry{{Name: "data/", Dir: true}, {Name: dir, Dir: true}}
		for j := 0; j < mbPerLayer; j++ {
			b := make([]byte, 1<<20)
			_, _ = rng.Read(b)
			es = append(es, Entry{Name: fmt.Sprintf("%sf%03d", dir, j), Body: b})
		}
		// some small files too: unpack cost is per entry as well as per byte
		for j := 0; j < 200; j++ {
			es = append(es, Entry{Name: fmt.Sprintf("%ssmall%03d", dir, j), Body: []byte(fmt.Sprintf("%d/%d\n", i, j))})
		}
		l, err := TarLayer(es)
		if err != nil {
			return 0, err
		}
		ls = append(ls, l)
	}
	img, err := newImage(ls...)
	if err != nil {
		return 0, err
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return 0, err
	}
	if err := remote.Write(r, img); err != nil {
		return 0, fmt.Errorf("pushing %s: %w", ref, err)
	}
	var total int64
	for _, l := range ls {
		sz, err := l.Size()
		if err != nil {
			return 0, err
		}
		total += sz
	}
	return total, nil
}
