package main

import (
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"time"
)

type archSize struct {
	arch  string
	bytes int64
}

type report struct {
	start         time.Time
	machine       [][2]string
	busyboxFrom   string
	mode          string
	runners       []*runner
	none, bridge  *runner
	runc, crun    *runner
	bridgeSkipped string
	strace        string

	bigRef                 string
	bigBytes               int64
	bigLayers              int
	ctrlabPull, skopeoPull *pullResult
	sizes                  []archSize
}

const (
	mib          = 1 << 20
	maxBinary    = 25 * mib
	maxRSSKiB    = 30 * 1024
	bridgeBudget = 25 * time.Millisecond
)

func median(ds []time.Duration) time.Duration { return quantile(ds, 0.5) }

// quantile is the nearest-rank quantile.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(q*float64(len(s))+0.999999) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}

func (r *runner) durations() []time.Duration {
	ds := make([]time.Duration, len(r.samples))
	for i, s := range r.samples {
		ds[i] = s.d
	}
	return ds
}

func (r *runner) median() time.Duration { return median(r.durations()) }

func (r *runner) rss() (med, max int64) {
	var v []int64
	for _, s := range r.samples {
		v = append(v, s.maxRSS)
	}
	if len(v) == 0 {
		return 0, 0
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	return v[len(v)/2], v[len(v)-1]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
func secs(d time.Duration) string {
	return fmt.Sprintf("%.2f s", d.Seconds())
}
func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
func met(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**missed**"
}

func (r *report) startMet() bool {
	n := r.none.median()
	return ratio(n, r.runc.median()) <= 0.5 && ratio(n, r.crun.median()) <= 1.5
}

func machineInfo() [][2]string {
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := "?"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	cg := "v1 (hybrid: empty cgroup2 at /sys/fs/cgroup/unified)"
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		cg = "v2"
	}
	ver := func(args ...string) string {
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			return "not installed"
		}
		return firstLine(strings.TrimSpace(string(out)))
	}
	return [][2]string{
		{"CPUs (nproc)", fmt.Sprint(runtime.NumCPU())},
		{"CPU", cpu},
		{"kernel", kernel},
		{"cgroups", cg},
		{"go", ver("go", "version")},
		{"runc", ver("runc", "--version")},
		{"crun", ver("crun", "--version")},
		{"skopeo", ver("skopeo", "--version")},
		{"umoci", ver("umoci", "--version")},
		{"load average at start", strings.Join(strings.Fields(readFile("/proc/loadavg"))[:3], " ")},
	}
}

func readFile(p string) string { b, _ := os.ReadFile(p); return string(b) + "   " }

func (r *report) summary() string {
	var s strings.Builder
	for _, x := range r.runners {
		fmt.Fprintf(&s, "%-30s median %s  p95 %s  (n=%d, failed %d)\n", x.name, ms(x.median()), ms(quantile(x.durations(), 0.95)), len(x.samples), x.fails)
	}
	if r.none != nil && r.runc != nil {
		fmt.Fprintf(&s, "ctrlab/runc %.2f  ctrlab/crun %.2f\n", ratio(r.none.median(), r.runc.median()), ratio(r.none.median(), r.crun.median()))
	}
	if r.ctrlabPull != nil {
		fmt.Fprintf(&s, "pull cold: ctrlab %s, skopeo+umoci %s; warm: ctrlab %s (%d bytes), skopeo+umoci %s\n",
			secs(median(r.ctrlabPull.cold)), secs(median(r.skopeoPull.cold)), secs(median(r.ctrlabPull.warm)),
			maxInt(r.ctrlabPull.warmBytes), secs(median(r.skopeoPull.warm)))
	}
	return s.String()
}

func maxInt(v []int64) int64 {
	var m int64
	for _, x := range v {
		if x > m {
			m = x
		}
	}
	return m
}

func (r *report) markdown(c *config) string {
	var s strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&s, f, a...) }
	w("# Benchmarks: ctrlab vs runc and crun\n\n")
	w("Written by `make bench` (hack/bench) on %s. Numbers from one run on one machine:\n", r.start.UTC().Format("2006-01-02 15:04 MST"))
	w("the runtimes are measured interleaved (round-robin, shuffled order each round) so that\n")
	w("noise from the machine hits all of them alike. Compare ratios, not absolute times.\n\n")
	w("## Machine\n\n| | |\n|---|---|\n")
	for _, m := range r.machine {
		w("| %s | %s |\n", m[0], strings.ReplaceAll(m[1], "|", "/"))
	}
	w("\n## Start to exit of `/bin/true`\n\n")
	w("The busybox image was %s. runc and crun get an OCI bundle (`runc spec`, edited: args\n", r.busyboxFrom)
	w("`/bin/true`, no terminal, read-only root) whose `root.path` is ctrlab's own unpacked layer\n")
	w("directory, so all three start the same files. ctrlab mode: **%s** ", r.mode)
	if r.mode == "image" {
		w("(`ctrlab run --rm --network none IMAGE /bin/true`: overlay of the store's layers).\n")
	} else {
		w("(`ctrlab run --rm --network none --read-only --rootfs LAYERDIR /bin/true`: the CLI did\n")
		w("not take an IMAGE yet; with an IMAGE it also mounts an overlay and creates a cgroup).\n")
	}
	w("crun runs from a helper process in a private mount namespace without the hybrid cgroup2\n")
	w("mount (crun refuses hybrid mode); its time is taken by that helper the same way (fork+exec to wait4).\n")
	w("Time is wall clock from fork+exec of the CLI to its wait4. N = %d per runtime after 3 warm-up runs.\n\n", c.n)
	w("| runtime | n | failed | median | p95 | min | peak RSS (median / max) |\n|---|---|---|---|---|---|---|\n")
	for _, x := range r.runners {
		ds := x.durations()
		m, mx := x.rss()
		w("| %s | %d | %d | %s | %s | %s | %.1f / %.1f MiB |\n", x.name, len(ds), x.fails, ms(median(ds)), ms(quantile(ds, 0.95)), ms(quantile(ds, 0)), float64(m)/1024, float64(mx)/1024)
	}
	nm := r.none.median()
	w("\nRatios of medians: ctrlab/runc = **%.2f**, ctrlab/crun = **%.2f**.\n", ratio(nm, r.runc.median()), ratio(nm, r.crun.median()))
	if r.bridge != nil {
		w("Bridge networking adds %s to the median (veth pair, address, route, bridge port).\n", ms(r.bridge.median()-nm))
	} else {
		w("`--network bridge` was not measured: %s\n", r.bridgeSkipped)
	}
	w("\nPeak RSS is `ru_maxrss` from wait4(2) of the ctrlab process: the largest of the supervisor\n")
	w("and its reaped children (the re-exec'd ctrlab-init before it execs /bin/true). For runc the\n")
	w("same for the runc process tree, for crun the crun process.\n")

	if r.ctrlabPull != nil {
		cp, sp := r.ctrlabPull, r.skopeoPull
		w("\n## Pull and unpack of a %d-layer image (%.1f MiB compressed) from 127.0.0.1\n\n", r.bigLayers, float64(r.bigBytes)/mib)
		w("`%s`: %d layers of incompressible pseudo-random files (ChaCha8, fixed seeds) plus 200\n", r.bigRef, r.bigLayers)
		w("small files per layer, pushed by the benchmark. Cold: empty store. Warm: the same command\n")
		w("again on the same store. ctrlab = `ctrlab pull --insecure` + unpack of every layer into\n")
		w("the store (`Store.LayerDirs`, which `ctrlab run IMAGE` calls; run in the benchmark process).\n")
		w("skopeo+umoci = `skopeo copy docker://REF oci:DIR:big` + `umoci unpack` into a new bundle\n")
		w("(umoci has no per-layer cache, so its warm run unpacks again). %d rounds, medians.\n\n", len(cp.cold))
		w("| tool | cold | warm | warm bytes downloaded |\n|---|---|---|---|\n")
		w("| %s | %s (pull %s) | %s (pull %s) | %d |\n", cp.tool, secs(median(cp.cold)), secs(median(cp.coldPull)), secs(median(cp.warm)), secs(median(cp.warmPull)), maxInt(cp.warmBytes))
		w("| %s | %s | %s | n/a |\n", sp.tool, secs(median(sp.cold)), secs(median(sp.warm)))
		w("\nCold ratio ctrlab / (skopeo+umoci) = **%.2f**.\n", ratio(median(cp.cold), median(sp.cold)))
	}
	if len(r.sizes) > 0 {
		w("\n## Binary size (`make cross`: static, -trimpath -s -w)\n\n| arch | bytes | MiB |\n|---|---|---|\n")
		for _, a := range r.sizes {
			w("| linux/%s | %d | %.1f |\n", a.arch, a.bytes, float64(a.bytes)/mib)
		}
	}

	w("\n## Targets (issue 10)\n\n| target | measured | |\n|---|---|---|\n")
	w("| ctrlab run median ≤ 0.5 × runc | %.2f × | %s |\n", ratio(nm, r.runc.median()), met(ratio(nm, r.runc.median()) <= 0.5))
	w("| ctrlab run median ≤ 1.5 × crun | %.2f × | %s |\n", ratio(nm, r.crun.median()), met(ratio(nm, r.crun.median()) <= 1.5))
	if r.bridge != nil {
		d := r.bridge.median() - nm
		w("| bridge adds ≤ 25 ms to the median | %s | %s |\n", ms(d), met(d <= bridgeBudget))
	} else {
		w("| bridge adds ≤ 25 ms to the median | not measured | — |\n")
	}
	if r.ctrlabPull != nil {
		q := ratio(median(r.ctrlabPull.cold), median(r.skopeoPull.cold))
		w("| cold pull+unpack ≤ 1.0 × skopeo+umoci | %.2f × | %s |\n", q, met(q <= 1.0))
		wb := maxInt(r.ctrlabPull.warmBytes)
		w("| warm pull transfers 0 layer bytes | %d bytes | %s |\n", wb, met(wb == 0))
	}
	for _, a := range r.sizes {
		w("| binary ≤ 25 MiB (linux/%s) | %.1f MiB | %s |\n", a.arch, float64(a.bytes)/mib, met(a.bytes <= maxBinary))
	}
	_, mx := r.none.rss()
	w("| `ctrlab run` peak RSS ≤ 30 MiB | %.1f MiB (max of %d runs) | %s |\n", float64(mx)/1024, len(r.none.samples), met(mx <= maxRSSKiB))
	if r.strace != "" {
		w("\n## Where ctrlab's start time goes\n\n`strace -c -f` of one `ctrlab run --network none` (all its threads and the re-exec'd init):\n\n```\n%s\n```\n", r.strace)
	}
	w("%s", analysisNotes)
	return s.String()
}

// analysisNotes is the hand-written reading of the profile (notes.md):
// update it when the numbers move.
//
//go:embed notes.md
var analysisNotes string
