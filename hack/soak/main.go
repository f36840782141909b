// Command soak runs `ctrlab run --rm` many times, concurrently, plus runs
// whose ctrlab process is SIGKILLed at a random moment and then recovered
// with `ctrlab rm -f` and `ctrlab ps -a`, and asserts that nothing leaks:
// no ctrlab mount, cgroup, veth, netns, lease, firewall rule, state
// directory or process is left, and every run that was not killed exited 0.
//
//	make soak                  # 1,000 runs, 10 at a time, 20 killed
//	make soak SOAK_N=100       # a short version
//	go run ./hack/soak -n 100 -c 10 -killed 20
//
// It prints one line, `soak: N runs, N failed, N leaked`, and exits 1 when
// anything failed or leaked. Objects that existed before the soak started
// (other users of the machine) are not counted: leaks are what is new.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ctrlab/ctrlab/hack/internal/imgbuild"
	"github.com/ctrlab/ctrlab/pkg/image"
)

type config struct {
	n, c, killed int
	ctrlab       string
	network      string
	mode         string
	keep         bool
	verbose      bool
	noRecover    bool
}

func main() {
	var c config
	flag.IntVar(&c.n, "n", 1000, "runs of `ctrlab run --rm ... /bin/true`")
	flag.IntVar(&c.c, "c", 10, "runs at a time")
	flag.IntVar(&c.killed, "killed", 20, "runs whose ctrlab process is SIGKILLed, then recovered")
	flag.StringVar(&c.ctrlab, "ctrlab", "bin/ctrlab", "ctrlab binary")
	flag.StringVar(&c.network, "network", "auto", "network of the runs: bridge, none, or auto (bridge when the CLI has it)")
	flag.StringVar(&c.mode, "mode", "auto", "rootfs of the runs: image, rootfs (--rootfs LAYERDIR), auto (IMAGE when the CLI takes one)")
	flag.BoolVar(&c.keep, "keep", false, "keep the work directory")
	flag.BoolVar(&c.verbose, "v", false, "print each failure")
	flag.BoolVar(&c.noRecover, "no-recover", false, "skip the rm -f / ps recovery of killed runs (shows that the leak check can fail)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, &c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func logf(format string, a ...any) { fmt.Fprintf(os.Stderr, "soak: "+format+"\n", a...) }

type soak struct {
	c    *config
	work string
	root string
	env  []string
	args func(name string, cmd ...string) []string
}

func (s *soak) ctrlab(args ...string) *exec.Cmd {
	cmd := exec.Command(s.c.ctrlab, args...)
	cmd.Env = s.env
	return cmd
}

func run(ctx context.Context, c *config) (int, error) {
	if os.Geteuid() != 0 {
		return 1, fmt.Errorf("needs root: sudo make soak")
	}
	abs, err := filepath.Abs(c.ctrlab)
	if err != nil {
		return 1, err
	}
	c.ctrlab = abs
	work, err := os.MkdirTemp("", "ctrlab-soak.")
	if err != nil {
		return 1, err
	}
	s := &soak{c: c, work: work, root: filepath.Join(work, "root")}
	s.env = append(os.Environ(), "CTRLAB_ROOT="+s.root)
	defer func() {
		if c.keep {
			logf("kept %s", work)
			return
		}
		if err := os.RemoveAll(work); err != nil {
			logf("removing %s: %v", work, err)
		}
	}()

	ref := "localhost/ctrlabsoak-busybox:latest"
	tb := filepath.Join(work, "busybox.tar")
	if err := imgbuild.BusyboxTarball(tb, ref, "/bin/busybox"); err != nil {
		return 1, err
	}
	if out, err := s.ctrlab("load", tb).CombinedOutput(); err != nil {
		return 1, fmt.Errorf("ctrlab load: %w\n%s", err, out)
	}
	st, err := image.Open(s.root)
	if err != nil {
		return 1, err
	}
	dirs, err := st.LayerDirs(ctx, ref)
	if err != nil {
		return 1, err
	}
	mode, network := c.mode, c.network
	if mode == "auto" {
		mode = "rootfs"
		out, _ := s.ctrlab("run", "--help").CombinedOutput()
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "ctrlab run") && strings.Contains(l, "IMAGE") {
				mode = "image"
			}
		}
	}
	s.args = func(name string, cmd ...string) []string {
		a := []string{"run", "--rm", "--name", name, "--network", network}
		if mode == "image" {
			a = append(a, ref)
		} else {
			a = append(a, "--read-only", "--rootfs", dirs[len(dirs)-1])
		}
		return append(a, cmd...)
	}
	if network == "auto" {
		network = "bridge"
		if out, err := s.ctrlab(s.args("ctrlabsoak-probe", "/bin/true")...).CombinedOutput(); err != nil {
			logf("--network bridge does not work (%s): soaking with --network none", firstLine(string(out)))
			network = "none"
		}
	}
	base := snapshot(s.root)
	logf("%d runs (%d at a time) + %d killed runs; mode %s, network %s", c.n, c.c, c.killed, mode, network)

	start := time.Now()
	failed, failures := s.runs(ctx)
	killErrs := s.killedRuns(ctx)
	elapsed := time.Since(start)
	// ps -a reaps what is dead; anything it lists now is a leaked container
	var states []map[string]any
	if c.noRecover {
		// no ps: it would reap
	} else if out, err := s.ctrlab("ps", "-a", "--json").Output(); err != nil {
		killErrs = append(killErrs, fmt.Sprintf("ctrlab ps -a --json: %v", err))
	} else if err := json.Unmarshal(out, &states); err != nil && len(strings.TrimSpace(string(out))) > 0 {
		killErrs = append(killErrs, fmt.Sprintf("parsing ctrlab ps -a --json: %v", err))
	}
	leaks := diff(base, s.root)
	for _, st := range states {
		leaks = append(leaks, fmt.Sprintf("container %v (%v) still listed by ctrlab ps -a", st["name"], st["status"]))
	}
	if network == "bridge" {
		// the bridge and its NAT rule are meant to stay between runs (like
		// docker0); remove them now and check nothing else needed removing
		if out, err := s.ctrlab("net", "cleanup").CombinedOutput(); err != nil {
			leaks = append(leaks, fmt.Sprintf("ctrlab net cleanup: %v: %s", err, firstLine(string(out))))
		}
		leaks = append(leaks, diffAll(base, s.root)...)
	}
	for _, f := range failures {
		fmt.Fprintln(os.Stderr, "  failed:", f)
	}
	for _, e := range killErrs {
		fmt.Fprintln(os.Stderr, "  recovery:", e)
	}
	for _, l := range uniq(leaks) {
		fmt.Fprintln(os.Stderr, "  leaked:", l)
	}
	nleak := len(uniq(leaks))
	fmt.Printf("soak: %d runs, %d failed, %d leaked (+%d killed runs, %d recovery errors; %s, %.1f runs/s)\n",
		c.n, failed, nleak, c.killed, len(killErrs), network, float64(c.n)/elapsed.Seconds())
	if failed > 0 || nleak > 0 || len(killErrs) > 0 {
		return 1, nil
	}
	return 0, nil
}

// runs does c.n runs, c.c at a time, and returns the failures.
func (s *soak) runs(ctx context.Context) (int, []string) {
	var (
		next   atomic.Int64
		failed atomic.Int64
		mu     sync.Mutex
		msgs   []string
		wg     sync.WaitGroup
	)
	for w := 0; w < s.c.c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= s.c.n || ctx.Err() != nil {
					return
				}
				name := fmt.Sprintf("ctrlabsoak-%d", i)
				out, err := s.ctrlab(s.args(name, "/bin/true")...).CombinedOutput()
				if err != nil {
					failed.Add(1)
					mu.Lock()
					if len(msgs) < 10 || s.c.verbose {
						msgs = append(msgs, fmt.Sprintf("%s: %v: %s", name, err, firstLine(string(out))))
					}
					mu.Unlock()
				}
				if (i+1)%100 == 0 {
					logf("%d/%d runs", i+1, s.c.n)
				}
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return int(failed.Load()) + s.c.n - int(next.Load()), append(msgs, "interrupted")
	}
	return int(failed.Load()), msgs
}

// killedRuns starts runs of `sleep 3599`, SIGKILLs the ctrlab process after
// a random delay (half of them within the first 40 ms, during setup), then
// recovers with `ctrlab rm -f NAME` and `ctrlab ps -a`.
func (s *soak) killedRuns(ctx context.Context) []string {
	var errs []string
	for i := 0; i < s.c.killed && ctx.Err() == nil; i++ {
		name := fmt.Sprintf("ctrlabsoak-kill-%d", i)
		cmd := s.ctrlab(s.args(name, "/bin/sleep", "3599")...)
		if err := cmd.Start(); err != nil {
			errs = append(errs, fmt.Sprintf("%s: starting: %v", name, err))
			continue
		}
		max := 40 * time.Millisecond
		if i%2 == 1 {
			max = 400 * time.Millisecond
		}
		time.Sleep(time.Duration(rand.Int64N(int64(max))))
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if s.c.noRecover {
			continue
		}
		// rm -f of a container that was never recorded says so; that is fine
		// as long as nothing of it remains (the leak check decides)
		out, err := s.ctrlab("rm", "-f", name).CombinedOutput()
		if err != nil && !strings.Contains(strings.ToLower(string(out)), "no such") && !strings.Contains(strings.ToLower(string(out)), "not found") {
			errs = append(errs, fmt.Sprintf("%s: ctrlab rm -f: %v: %s", name, err, firstLine(string(out))))
		}
		if out, err := s.ctrlab("ps", "-a").CombinedOutput(); err != nil {
			errs = append(errs, fmt.Sprintf("ctrlab ps -a: %v: %s", err, firstLine(string(out))))
		}
	}
	return errs
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 240 {
		s = s[:240] + "..."
	}
	return s
}

func uniq(v []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range v {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
