package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ctrlab/ctrlab/hack/internal/imgbuild"
	"github.com/ctrlab/ctrlab/pkg/image"
)

const busyboxRef = "localhost/ctrlabbench-busybox:latest"

// busybox puts a busybox image in ctrlab's store and returns its reference
// and its unpacked layer directories (bottom first).
func (b *bench) busybox(ctx context.Context) (string, []string, error) {
	ref := busyboxRef
	if reg := os.Getenv("CTRLAB_TEST_REGISTRY"); reg != "" {
		ref = reg + "/busybox:latest"
		logf("ctrlab pull %s", ref)
		if out, err := b.ctrlab("pull", "--insecure", ref).CombinedOutput(); err != nil {
			return "", nil, fmt.Errorf("ctrlab pull %s: %w\n%s", ref, err, out)
		}
		b.rep.busyboxFrom = "pulled from the test registry " + ref
	} else {
		tb := filepath.Join(b.work, "busybox.tar")
		if err := imgbuild.BusyboxTarball(tb, ref, "/bin/busybox"); err != nil {
			return "", nil, err
		}
		logf("ctrlab load %s", tb)
		if out, err := b.ctrlab("load", tb).CombinedOutput(); err != nil {
			return "", nil, fmt.Errorf("ctrlab load: %w\n%s", err, out)
		}
		b.rep.busyboxFrom = "built offline from /bin/busybox and loaded with `ctrlab load`"
	}
	st, err := image.Open(b.root)
	if err != nil {
		return "", nil, err
	}
	dirs, err := st.LayerDirs(ctx, ref)
	if err != nil {
		return "", nil, err
	}
	return ref, dirs, nil
}

// ctrlabMode decides whether `ctrlab run` takes an IMAGE (the wired CLI) or
// only --rootfs DIR (before the wiring landed).
func (b *bench) ctrlabMode() string {
	if b.c.mode != "auto" {
		return b.c.mode
	}
	out, _ := b.ctrlab("run", "--help").CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "ctrlab run") && strings.Contains(l, "IMAGE") {
			return "image"
		}
	}
	return "rootfs"
}

func (b *bench) startTimes(ctx context.Context) error {
	ref, dirs, err := b.busybox(ctx)
	if err != nil {
		return err
	}
	rootfs := dirs[len(dirs)-1]
	if len(dirs) != 1 {
		return fmt.Errorf("busybox image %s has %d layers; want 1 to share its directory with runc and crun", ref, len(dirs))
	}
	mode := b.ctrlabMode()
	b.rep.mode = mode
	ctrlabArgs := func(network string, extra ...string) []string {
		a := []string{"run", "--rm", "--network", network}
		a = append(a, extra...)
		if mode == "image" {
			return append(a, ref, "/bin/true")
		}
		return append(a, "--read-only", "--rootfs", rootfs, "/bin/true")
	}
	logf("ctrlab run mode: %s (rootfs %s)", mode, rootfs)

	bundle := filepath.Join(b.work, "bundle")
	if err := makeBundle(bundle, rootfs); err != nil {
		return err
	}
	b.defer_(removePeerCgroups)
	runcRoot, crunRoot := filepath.Join(b.work, "runc"), filepath.Join(b.work, "crun")
	crun, err := startCrunServer()
	if err != nil {
		return err
	}
	b.defer_(crun.close)

	none := &runner{name: "ctrlab run --network none", run: func(i int) (sample, error) {
		return timeCmd(b.ctrlab(ctrlabArgs("none")...))
	}}
	runners := []*runner{none,
		{name: "runc run", run: func(i int) (sample, error) {
			return timeCmd(exec.Command("runc", "--root", runcRoot, "run", "--bundle", bundle, fmt.Sprintf("ctrlabbench-runc-%d", i)))
		}},
		{name: "crun run", run: func(i int) (sample, error) {
			return crun.run(crunRoot, bundle, fmt.Sprintf("ctrlabbench-crun-%d", i))
		}},
	}
	// bridge: probe once; a CLI without it exits 2 (usage)
	bridgeArgs := ctrlabArgs("bridge", strings.Fields(b.c.bridgeFlags)...)
	var bridge *runner
	if out, err := b.ctrlab(bridgeArgs...).CombinedOutput(); err != nil {
		b.rep.bridgeSkipped = fmt.Sprintf("`ctrlab run --network bridge` said: %s (%v)", firstLine(strings.TrimSpace(string(out))), err)
		logf("--network bridge not measured: %s", b.rep.bridgeSkipped)
	} else {
		b.defer_(func() { _ = b.ctrlab("net", "cleanup").Run() })
		bridge = &runner{name: "ctrlab run --network bridge", run: func(i int) (sample, error) {
			return timeCmd(b.ctrlab(bridgeArgs...))
		}}
		runners = append(runners, bridge)
	}

	// warm up: page cache, first-run cgroup parents, the crun helper
	for _, r := range runners {
		for i := 0; i < 3; i++ {
			if _, err := r.run(-1 - i); err != nil {
				return fmt.Errorf("warm-up of %s: %w", r.name, err)
			}
		}
	}
	logf("measuring %d runs each of %d runtimes, interleaved", b.c.n, len(runners))
	order := make([]*runner, len(runners))
	copy(order, runners)
	for i := 0; i < b.c.n; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		rand.Shuffle(len(order), func(a, c int) { order[a], order[c] = order[c], order[a] })
		for _, r := range order {
			s, err := r.run(i)
			if err != nil {
				r.fails++
				r.lastErr = firstLine(err.Error())
				if r.fails > 3 {
					return fmt.Errorf("%s fails repeatedly: %w", r.name, err)
				}
				continue
			}
			r.samples = append(r.samples, s)
		}
	}
	b.rep.runners = runners
	b.rep.none, b.rep.bridge = none, bridge
	b.rep.runc, b.rep.crun = runners[1], runners[2]
	if b.c.profile && !b.rep.startMet() {
		b.rep.strace = b.strace(ctrlabArgs("none"))
	}
	return nil
}

// strace runs one ctrlab run under `strace -c -f` and returns the summary.
func (b *bench) strace(args []string) string {
	if _, err := exec.LookPath("strace"); err != nil {
		return ""
	}
	out := filepath.Join(b.work, "strace.txt")
	cmd := exec.Command("strace", append([]string{"-c", "-f", "-o", out, b.c.ctrlab}, args...)...)
	cmd.Env = b.env
	if err := cmd.Run(); err != nil {
		return ""
	}
	t, _ := os.ReadFile(out)
	lines := strings.Split(string(t), "\n")
	if len(lines) > 14 {
		lines = lines[:14]
	}
	return strings.Join(lines, "\n")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
