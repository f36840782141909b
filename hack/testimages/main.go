// Command testimages builds ctrlab's test images from Debian's busybox-static
// binaries and pushes them to a (plain-HTTP) registry:
//
//	REG/busybox:latest   an OCI index: linux/amd64, linux/arm64/v8, linux/arm/v7
//	REG/busybox:ARCH     each platform's image alone (amd64, arm64, armv7)
//	REG/layers5:latest   six layers (files added, changed, deleted by whiteout,
//	                     an opaque directory) with empty-layer history steps
//
// Usage: go run ./hack/testimages -push 127.0.0.1:5000 \
//
//	-busybox amd64=DIR/amd64/bin/busybox -busybox arm64=... -busybox arm/v7=...
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/ctrlab/ctrlab/hack/internal/imgbuild"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

type binFlag map[string]string

func (b binFlag) String() string { return fmt.Sprint(map[string]string(b)) }
func (b binFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want ARCH=PATH, got %q", s)
	}
	b[k] = v
	return nil
}

var t0 = imgbuild.Epoch

func main() {
	bins := binFlag{}
	flag.Var(bins, "busybox", "ARCH=PATH of a static busybox (amd64, arm64, arm/v7); repeatable")
	reg := flag.String("push", "127.0.0.1:5000", "registry host:port (plain HTTP)")
	flag.Parse()
	if err := run(bins, *reg); err != nil {
		fmt.Fprintln(os.Stderr, "testimages:", err)
		os.Exit(1)
	}
}

func run(bins binFlag, reg string) error {
	applets := appletList(bins)
	var adds []mutate.IndexAddendum
	var host v1.Image
	for _, plat := range []string{"amd64", "arm64", "arm/v7"} {
		path, ok := bins[plat]
		if !ok {
			return fmt.Errorf("no -busybox %s=PATH", plat)
		}
		p := v1.Platform{OS: "linux", Architecture: strings.Split(plat, "/")[0]}
		if plat == "arm/v7" {
			p.Variant = "v7"
		}
		if plat == "arm64" {
			p.Variant = "v8"
		}
		layer, err := imgbuild.BusyboxLayer(path, applets)
		if err != nil {
			return err
		}
		img, err := build(p, []v1.Layer{layer}, []v1.History{{Created: v1.Time{Time: t0}, CreatedBy: "COPY busybox-static (" + plat + ") /bin/busybox + applet links"},
			{Created: v1.Time{Time: t0}, CreatedBy: `CMD ["sh"]`, EmptyLayer: true}})
		if err != nil {
			return err
		}
		tag := strings.ReplaceAll(plat, "/", "")
		if err := push(reg+"/busybox:"+tag, img); err != nil {
			return err
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
		if p.Architecture == runtime.GOARCH {
			host = img
		}
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	ref, err := name.ParseReference(reg+"/busybox:latest", name.Insecure)
	if err != nil {
		return err
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	d, _ := idx.Digest()
	fmt.Printf("pushed %s (index %s)\n", ref, d)
	if host == nil {
		return nil
	}
	return layers5(reg, host)
}

// layers5 stacks five more layers on the host's busybox image.
func layers5(reg string, base v1.Image) error {
	steps := []struct {
		by      string
		entries []imgbuild.Entry
	}{
		{"RUN mkdir /etc/app && echo 1 > /etc/app/a", []imgbuild.Entry{{Name: "etc/", Dir: true}, {Name: "etc/app/", Dir: true}, {Name: "etc/app/a", Body: []byte("1\n")}}},
		{"RUN echo 2 > /etc/app/b && echo hi > /etc/motd", []imgbuild.Entry{{Name: "etc/app/b", Body: []byte("2\n")}, {Name: "etc/motd", Body: []byte("hi\n")}}},
		{"RUN rm /etc/app/a", []imgbuild.Entry{{Name: "etc/app/.wh.a", Body: []byte("")}}},
		{"RUN rm -rf /etc/app && mkdir /etc/app && echo 3 > /etc/app/c", []imgbuild.Entry{{Name: "etc/app/", Dir: true}, {Name: "etc/app/.wh..wh..opq"}, {Name: "etc/app/c", Body: []byte("3\n")}}},
		{"RUN echo bye > /etc/motd", []imgbuild.Entry{{Name: "etc/motd", Body: []byte("bye\n")}}},
	}
	img := base
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	hist := append([]v1.History{}, cf.History...)
	for _, s := range steps {
		l, err := imgbuild.TarLayer(s.entries)
		if err != nil {
			return err
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			return err
		}
		hist = append(hist, v1.History{Created: v1.Time{Time: t0}, CreatedBy: s.by})
	}
	hist = append(hist, v1.History{Created: v1.Time{Time: t0}, CreatedBy: "ENV GREETING=hello", EmptyLayer: true})
	cf, err = img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.History = hist
	cf.Config.Env = append(cf.Config.Env, "GREETING=hello")
	cf.Config.WorkingDir = "/etc/app"
	cf.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	return push(reg+"/layers5:latest", img)
}

func build(p v1.Platform, layers []v1.Layer, hist []v1.History) (v1.Image, error) {
	img, err := mutate.AppendLayers(mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1), layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = v1.Time{Time: t0}
	cf.History = hist
	cf.Config.Cmd = []string{"sh"}
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	return mutate.ConfigFile(img, cf)
}

func push(ref string, img v1.Image) error {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return err
	}
	if err := remote.Write(r, img); err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	d, _ := img.Digest()
	fmt.Printf("pushed %s (manifest %s)\n", ref, d)
	return nil
}

// appletList asks a busybox this machine can run for its applets.
func appletList(bins binFlag) []string {
	for _, p := range []string{bins[runtime.GOARCH], "/bin/busybox"} {
		if p == "" {
			continue
		}
		out, err := exec.Command(p, "--list").Output()
		if err == nil && len(out) > 0 {
			return strings.Fields(string(out))
		}
	}
	return strings.Fields("sh ash ls cat echo true false id hostname ps mount umount uname env sleep ip ifconfig ping wget mkdir rm cp mv ln chmod chown grep sed awk head tail wc top kill free df du vi")
}
