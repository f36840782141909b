// Command bench measures ctrlab against runc and crun on this machine and
// writes docs/benchmarks.md. Run as root: `make bench` (or
// `go run ./hack/bench -n 30`). Everything it creates (a temp store, OCI
// bundles, a registry on a free loopback port, cgroups) is removed at the end.
//
// What it measures, interleaved in one run (round-robin in a shuffled order
// per round, so drift of the machine hits every runtime alike):
//   - start-to-exit of /bin/true: `ctrlab run --rm --network none` vs
//     `runc run` vs `crun run`, all on ctrlab's own unpacked busybox layer;
//   - ctrlab run --network bridge (when the CLI supports it);
//   - pull+unpack of a multi-layer image from a registry on 127.0.0.1:
//     `ctrlab pull` + unpack vs `skopeo copy` + `umoci unpack`, cold and warm;
//   - binary size per architecture (`make cross`) and the peak RSS of the
//     `ctrlab run` process (wait4 rusage).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const crunServerArg = "__ctrlab-bench-crun-server"

type config struct {
	n           int
	pullRounds  int
	out         string
	ctrlab      string
	build       bool
	cross       bool
	bigLayers   int
	bigMB       int
	bridgeFlags string
	mode        string // auto, image, rootfs
	skipPull    bool
	keep        bool
	profile     bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == crunServerArg {
		crunServer()
		return
	}
	var c config
	flag.IntVar(&c.n, "n", 30, "measured runs per runtime (>= 30 for the report)")
	flag.IntVar(&c.pullRounds, "pull-rounds", 3, "cold+warm pull rounds per tool")
	flag.StringVar(&c.out, "out", "docs/benchmarks.md", "report to write (empty: stdout only)")
	flag.StringVar(&c.ctrlab, "ctrlab", "bin/ctrlab", "ctrlab binary")
	flag.BoolVar(&c.build, "build", true, "run `make build` first")
	flag.BoolVar(&c.cross, "cross", true, "run `make cross` for the binary sizes")
	flag.IntVar(&c.bigLayers, "big-layers", 6, "layers of the pull benchmark image")
	flag.IntVar(&c.bigMB, "big-mb", 10, "MiB of incompressible files per layer")
	flag.StringVar(&c.bridgeFlags, "bridge-flags", "", "extra flags for `ctrlab run --network bridge` (a dedicated bridge, if the CLI has one)")
	flag.StringVar(&c.mode, "mode", "auto", "how ctrlab run gets its rootfs: auto (IMAGE if `ctrlab run --help` takes one), image, rootfs")
	flag.BoolVar(&c.skipPull, "skip-pull", false, "skip the pull benchmark")
	flag.BoolVar(&c.keep, "keep", false, "keep the work directory (debugging)")
	flag.BoolVar(&c.profile, "profile", true, "on a missed start-time target, run `strace -c -f` on one ctrlab run")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, &c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func logf(format string, a ...any) { fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...) }

// bench holds the run's state and everything to clean up.
type bench struct {
	c        *config
	work     string
	root     string // CTRLAB_ROOT
	env      []string
	cleanups []func()
	rep      report
}

func (b *bench) ctrlab(args ...string) *exec.Cmd {
	cmd := exec.Command(b.c.ctrlab, args...)
	cmd.Env = b.env
	return cmd
}

func (b *bench) defer_(f func()) { b.cleanups = append(b.cleanups, f) }

func run(ctx context.Context, c *config) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root: sudo make bench")
	}
	if c.n < 1 {
		return fmt.Errorf("-n must be positive")
	}
	if c.build {
		logf("make build")
		if out, err := exec.Command("make", "build").CombinedOutput(); err != nil {
			return fmt.Errorf("make build: %w\n%s", err, out)
		}
	}
	abs, err := filepath.Abs(c.ctrlab)
	if err != nil {
		return err
	}
	c.ctrlab = abs
	work, err := os.MkdirTemp("", "ctrlab-bench.")
	if err != nil {
		return err
	}
	b := &bench{c: c, work: work, root: filepath.Join(work, "root")}
	b.env = append(os.Environ(), "CTRLAB_ROOT="+b.root)
	b.rep.start = time.Now()
	defer func() {
		for i := len(b.cleanups) - 1; i >= 0; i-- {
			b.cleanups[i]()
		}
		if c.keep {
			logf("kept %s", work)
			return
		}
		// a container the CLI failed to remove would leave a mount under work
		umountUnder(work)
		if err := os.RemoveAll(work); err != nil {
			logf("removing %s: %v", work, err)
		}
	}()
	b.rep.machine = machineInfo()
	if err := b.startTimes(ctx); err != nil {
		return err
	}
	if !c.skipPull {
		if err := b.pulls(ctx); err != nil {
			return err
		}
	}
	if c.cross {
		b.sizes()
	}
	text := b.rep.markdown(c)
	if c.out == "" {
		fmt.Print(text)
		return nil
	}
	if err := os.WriteFile(c.out, []byte(text), 0o644); err != nil {
		return err
	}
	fmt.Print(b.rep.summary())
	logf("wrote %s", c.out)
	return nil
}

// umountUnder lazily unmounts every mount below dir (deepest first).
func umountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var mps []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			mps = append(mps, f[4])
		}
	}
	for i := len(mps) - 1; i >= 0; i-- {
		_ = syscall.Unmount(mps[i], syscall.MNT_DETACH)
	}
}

// freeAddr returns a free 127.0.0.1 port.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
