package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ctrlab/ctrlab/hack/internal/imgbuild"
	"github.com/ctrlab/ctrlab/pkg/image"
)

// pullResult is one tool's cold and warm timings over the rounds.
type pullResult struct {
	tool               string
	cold, warm         []time.Duration
	coldPull, warmPull []time.Duration // ctrlab: the pull part alone
	warmBytes          []int64         // ctrlab: bytes downloaded on the warm pull
}

// registry returns a registry address on loopback: CTRLAB_TEST_REGISTRY's,
// or a private one started with hack/registry.sh on a free port.
func (b *bench) registry() (string, error) {
	if reg := os.Getenv("CTRLAB_TEST_REGISTRY"); reg != "" {
		return reg, nil
	}
	addr, err := freeAddr()
	if err != nil {
		return "", err
	}
	env := append(os.Environ(), "CTRLAB_REGISTRY_ADDR="+addr, "CTRLAB_REGISTRY_DIR="+filepath.Join(b.work, "registry"))
	cmd := exec.Command("hack/registry.sh", "start")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("hack/registry.sh start: %w\n%s", err, out)
	}
	b.defer_(func() {
		cmd := exec.Command("hack/registry.sh", "stop")
		cmd.Env = env
		_ = cmd.Run()
	})
	return addr, nil
}

func (b *bench) pulls(ctx context.Context) error {
	reg, err := b.registry()
	if err != nil {
		return err
	}
	ref := reg + "/ctrlabbench-big:latest"
	logf("pushing %s (%d layers x %d MiB)", ref, b.c.bigLayers, b.c.bigMB)
	size, err := imgbuild.PushBigImage(ref, b.c.bigLayers, b.c.bigMB)
	if err != nil {
		return err
	}
	if os.Getenv("CTRLAB_TEST_REGISTRY") != "" { // not our registry: take the tag back
		b.defer_(func() {
			if r, err := name.ParseReference(ref, name.Insecure); err == nil {
				if d, err := remote.Head(r); err == nil {
					_ = remote.Delete(r.Context().Digest(d.Digest.String()))
				}
			}
		})
	}
	b.rep.bigRef, b.rep.bigBytes, b.rep.bigLayers = ref, size, b.c.bigLayers
	ct := &pullResult{tool: "ctrlab pull + unpack"}
	sk := &pullResult{tool: "skopeo copy + umoci unpack"}
	tools := []func(int) error{
		func(r int) error { return b.ctrlabPull(ctx, ref, r, ct) },
		func(r int) error { return b.skopeoPull(ref, r, sk) },
	}
	for r := 0; r < b.c.pullRounds; r++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		rand.Shuffle(len(tools), func(i, j int) { tools[i], tools[j] = tools[j], tools[i] })
		for _, f := range tools {
			if err := f(r); err != nil {
				return err
			}
		}
		logf("pull round %d/%d done", r+1, b.c.pullRounds)
	}
	b.rep.ctrlabPull, b.rep.skopeoPull = ct, sk
	return nil
}

func (b *bench) ctrlabPull(ctx context.Context, ref string, round int, res *pullResult) error {
	root := filepath.Join(b.work, fmt.Sprintf("pull-ctrlab-%d", round))
	defer os.RemoveAll(root)
	one := func() (time.Duration, time.Duration, int64, error) {
		start := time.Now()
		cmd := exec.Command(b.c.ctrlab, "pull", "--insecure", "--json", ref)
		cmd.Env = append(os.Environ(), "CTRLAB_ROOT="+root)
		out, err := cmd.Output()
		if err != nil {
			return 0, 0, 0, fmt.Errorf("ctrlab pull %s: %w", ref, err)
		}
		pulled := time.Since(start)
		var pr image.PullResult
		if err := json.Unmarshal(out, &pr); err != nil {
			return 0, 0, 0, fmt.Errorf("parsing ctrlab pull --json: %w", err)
		}
		st, err := image.Open(root)
		if err != nil {
			return 0, 0, 0, err
		}
		if _, err := st.LayerDirs(ctx, ref); err != nil {
			return 0, 0, 0, fmt.Errorf("unpacking %s: %w", ref, err)
		}
		return time.Since(start), pulled, pr.BytesDownloaded, nil
	}
	d, p, _, err := one()
	if err != nil {
		return err
	}
	res.cold, res.coldPull = append(res.cold, d), append(res.coldPull, p)
	d, p, n, err := one()
	if err != nil {
		return err
	}
	res.warm, res.warmPull, res.warmBytes = append(res.warm, d), append(res.warmPull, p), append(res.warmBytes, n)
	return nil
}

func (b *bench) skopeoPull(ref string, round int, res *pullResult) error {
	dir := filepath.Join(b.work, fmt.Sprintf("pull-skopeo-%d", round))
	defer os.RemoveAll(dir)
	layout := filepath.Join(dir, "layout")
	one := func(bundle string) (time.Duration, error) {
		start := time.Now()
		if out, err := exec.Command("skopeo", "copy", "--quiet", "--src-tls-verify=false", "docker://"+ref, "oci:"+layout+":big").CombinedOutput(); err != nil {
			return 0, fmt.Errorf("skopeo copy: %w: %s", err, strings.TrimSpace(string(out)))
		}
		if out, err := exec.Command("umoci", "unpack", "--image", layout+":big", filepath.Join(dir, bundle)).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("umoci unpack: %w: %s", err, strings.TrimSpace(string(out)))
		}
		return time.Since(start), nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	d, err := one("cold")
	if err != nil {
		return err
	}
	res.cold = append(res.cold, d)
	if d, err = one("warm"); err != nil {
		return err
	}
	res.warm = append(res.warm, d)
	return nil
}

// sizes runs `make cross` and records the binaries' sizes.
func (b *bench) sizes() {
	logf("make cross")
	if out, err := exec.Command("make", "cross").CombinedOutput(); err != nil {
		logf("make cross: %v\n%s", err, out)
		return
	}
	for _, a := range []string{"amd64", "arm64", "armv7"} {
		if st, err := os.Stat("bin/ctrlab-linux-" + a); err == nil {
			b.rep.sizes = append(b.rep.sizes, archSize{a, st.Size()})
		}
	}
}
