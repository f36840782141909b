package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctrlab/ctrlab/pkg/cgroup"
)

// newCgroupCmd is `ctrlab cgroup`: run commands under limits, and see the
// kernel's accounting.
func newCgroupCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cgroup",
		Short: "Limit and account resources with cgroups",
		Long: `A control group (cgroup) is a directory in a special filesystem. Processes are
put in it by writing their pid to cgroup.procs; limits are files you write
(memory.max, cpu.max, pids.max) and the kernel's accounting is files you read
(memory.events, cpu.stat, pids.events). Every container runtime does exactly
this: runc writes the same files.

Two kernel interfaces exist. cgroup v2 (Ubuntu 22.04+, Fedora, Raspberry Pi
OS) has one tree at /sys/fs/cgroup; cgroup v1 has one tree per controller
(/sys/fs/cgroup/memory, /sys/fs/cgroup/cpu...). ctrlab detects which one your
kernel uses and writes the right files; every cgroup it makes lives under a
parent named "ctrlab" (/sys/fs/cgroup/ctrlab/NAME on v2,
/sys/fs/cgroup/CONTROLLER/ctrlab/NAME on v1).

Equivalent to: mkdir /sys/fs/cgroup/ctrlab/NAME; echo 64M > .../memory.max;
echo $$ > .../cgroup.procs (systemd-run -p MemoryMax=64M, cgcreate/cgexec).`,
		Example: `  sudo ctrlab cgroup run --memory 64M --cpus 0.5 --pids 20 -- sh -c 'echo hi'
  sudo ctrlab cgroup demo memory
  sudo ctrlab cgroup run --name web --keep -- sleep 60 &
  sudo ctrlab cgroup show web
  sudo ctrlab cgroup ls
  sudo ctrlab cgroup rm web`,
	}
	cmd.AddCommand(newCgroupRunCmd(app, nil), newCgroupLsCmd(app), newCgroupShowCmd(app),
		newCgroupRmCmd(app), newCgroupDemoCmd(app, nil))
	return cmd
}

type cgroupRunOptions struct {
	Memory, MemorySwap, CPUs, Pids, Cpuset, Name string
	CPUWeight                                    uint64
	Keep, JSON                                   bool

	Argv      []string
	Resources cgroup.Resources
}

// resources validates the flags into cgroup.Resources (usage errors).
func (o *cgroupRunOptions) resources() (cgroup.Resources, error) {
	var r cgroup.Resources
	if o.Memory != "" {
		v, err := cgroup.ParseSize(o.Memory)
		if err != nil {
			return r, flagErrorf("--memory: %v", err)
		}
		r.MemoryMax = v
	}
	if o.MemorySwap != "" {
		v, err := cgroup.ParseSize(o.MemorySwap)
		if o.MemorySwap == "0" {
			v, err = 0, nil
		}
		if err != nil {
			return r, flagErrorf("--memory-swap: %v", err)
		}
		r.MemorySwapMax = &v
	}
	if o.CPUs != "" {
		q, err := cgroup.ParseCPUs(o.CPUs, 0)
		if err != nil {
			return r, flagErrorf("--cpus: %v", err)
		}
		r.CPUQuota, r.CPUPeriod = q, cgroup.DefaultCPUPeriod
	}
	if o.CPUWeight != 0 {
		if o.CPUWeight > 10000 {
			return r, flagErrorf("--cpu-weight: %d is out of range 1..10000 (100 is the default share)", o.CPUWeight)
		}
		r.CPUWeight = o.CPUWeight
	}
	if o.Pids != "" {
		if o.Pids == "max" {
			r.PidsMax = cgroup.Unlimited
		} else {
			n, err := strconv.ParseInt(o.Pids, 10, 64)
			if err != nil || n < 1 {
				return r, flagErrorf("--pids: %q is not a number of tasks >= 1 (or max)", o.Pids)
			}
			r.PidsMax = n
		}
	}
	if o.Cpuset != "" {
		if strings.Trim(o.Cpuset, "0123456789,-") != "" {
			return r, flagErrorf("--cpuset: %q is not a CPU list like 0 or 0-1,3", o.Cpuset)
		}
		r.Cpuset = o.Cpuset
	}
	return r, nil
}

func validName(n string) error {
	if n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\x00\n ") {
		return flagErrorf("invalid cgroup name %q: use one word like web1", n)
	}
	return nil
}

func newCgroupRunCmd(app *App, runF func(*cgroupRunOptions) error) *cobra.Command {
	o := &cgroupRunOptions{}
	cmd := &cobra.Command{
		Use:   "run [flags] -- CMD [ARG...]",
		Short: "Run a command in a new cgroup with limits, and show the kernel's accounting",
		Long: `Creates the cgroup ctrlab/NAME, writes the limits you ask for, prints each kernel
file it wrote with the value the kernel reads back (the kernel rounds and
normalises), starts CMD inside the cgroup, shows live usage while it runs
(when stdout is a terminal), then prints the final accounting: peak memory
and OOM kills, CPU time against wall time and throttled periods, tasks and
refused forks. The cgroup is removed afterwards unless --keep.

On cgroup v2 the process is created directly inside the cgroup (clone3 with
CLONE_INTO_CGROUP). On v1 ctrlab starts a tiny stopped shim, writes its pid
to cgroup.procs, then lets it exec CMD: no work happens outside the cgroup.

Sizes: plain bytes or K, M, G (64M = 67108864). CPUs: a fraction of one CPU
(0.5 = quota 50000us per 100000us period). ctrlab exits with CMD's status
(128+N when killed by signal N). With --json, CMD's stdout goes to stderr.`,
		Example: `  sudo ctrlab cgroup run --memory 64M --cpus 0.5 --pids 20 -- sh -c 'echo hi'
  sudo ctrlab cgroup run --cpus 0.2 -- sh -c 'while :; do :; done'
  sudo ctrlab cgroup run --cpuset 0 --cpu-weight 50 --json -- true`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := o.resources()
			if err != nil {
				return err
			}
			if o.Name == "" {
				o.Name = fmt.Sprintf("run-%d", os.Getpid())
			}
			if err := validName(o.Name); err != nil {
				return err
			}
			o.Argv, o.Resources = args, r
			if runF != nil {
				return runF(o)
			}
			return cgroupRun(cmd, app, o)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.StringVar(&o.Memory, "memory", "", "memory limit (64M, 1G, bytes)")
	f.StringVar(&o.MemorySwap, "memory-swap", "", "swap allowed on top of --memory (0 = none; needs swap accounting)")
	f.StringVar(&o.CPUs, "cpus", "", "CPU quota as a fraction of one CPU (0.5)")
	f.Uint64Var(&o.CPUWeight, "cpu-weight", 0, "relative CPU weight 1..10000 (default 100; v1 cpu.shares)")
	f.StringVar(&o.Pids, "pids", "", "maximum number of tasks (processes and threads)")
	f.StringVar(&o.Cpuset, "cpuset", "", "CPUs the command may run on (0, 0-1)")
	f.StringVar(&o.Name, "name", "", "cgroup name under ctrlab/ (default run-PID)")
	f.BoolVar(&o.Keep, "keep", false, "keep the cgroup after CMD exits (remove it with 'ctrlab cgroup rm')")
	f.BoolVar(&o.JSON, "json", false, "print the result as JSON")
	return cmd
}

// cgroupRunReport is the --json form of `cgroup run`.
type cgroupRunReport struct {
	Name   string             `json:"name"`
	Mode   cgroup.Mode        `json:"mode"`
	Paths  map[string]string  `json:"paths"`
	Writes []cgroup.FileWrite `json:"writes"`
	Run    *cgroup.RunResult  `json:"run"`
	Kept   bool               `json:"kept"`
}

func cgroupRun(cmd *cobra.Command, app *App, o *cgroupRunOptions) (err error) {
	if err := requireRoot("ctrlab cgroup run"); err != nil {
		return err
	}
	c := exec.Command(o.Argv[0], o.Argv[1:]...)
	if c.Err != nil {
		return fmt.Errorf("finding %s: %w", o.Argv[0], c.Err)
	}
	c.Stdin, c.Stdout, c.Stderr = app.In, app.Out, app.ErrOut
	if o.JSON {
		c.Stdout = app.ErrOut
	}
	var opts []cgroup.Option
	if o.Resources.Cpuset != "" {
		opts = append(opts, cgroup.WithCpuset())
	}
	cg, err := cgroup.New(o.Name, opts...)
	if err != nil {
		return err
	}
	defer func() {
		if o.Keep {
			return
		}
		if derr := cg.Delete(); derr != nil && err == nil {
			err = derr
		}
	}()
	writes, err := cg.Set(o.Resources)
	if err != nil {
		return err
	}
	rep := &cgroupRunReport{Name: cg.Name(), Mode: cg.Mode(), Paths: cg.Paths(), Writes: writes, Kept: o.Keep}
	if !o.JSON {
		fmt.Fprintf(app.Out, "== cgroup ctrlab/%s (cgroup %s)\n", cg.Name(), cg.Mode())
		if err := renderWrites(app.Out, writes); err != nil {
			return err
		}
	}
	var ropts []cgroup.RunOption
	live := !o.JSON && app.IsTTY != nil && app.IsTTY()
	if live {
		ropts = append(ropts, cgroup.WithProgress(500*time.Millisecond, func(s cgroup.Stats, el time.Duration) {
			fmt.Fprintf(app.ErrOut, "\r\033[K[%5.1fs] %s", el.Seconds(), liveLine(s, el))
		}))
	}
	ropts = append(ropts, cgroup.WithStarted(func(pid int) {
		if !o.JSON {
			fmt.Fprintf(app.ErrOut, "started pid %d inside %s\n", pid, cg.Path("memory"))
		}
	}))
	res, err := cg.Run(cmd.Context(), c, ropts...)
	if live {
		fmt.Fprint(app.ErrOut, "\r\033[K")
	}
	if err != nil {
		return err
	}
	rep.Run = res
	if o.JSON {
		if err := writeJSON(app.Out, rep); err != nil {
			return err
		}
	} else if err := renderAccounting(app.Out, cg, res); err != nil {
		return err
	}
	if code := res.ShellCode(); code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}

func liveLine(s cgroup.Stats, el time.Duration) string {
	cpu := 0.0
	if el > 0 {
		cpu = s.CPUUsage().Seconds() / el.Seconds()
	}
	return fmt.Sprintf("memory %s/%s  cpu %.2fs (%.2f CPU) throttled %d  tasks %d/%s",
		cgroup.FormatSize(int64(s.MemoryCurrent)), cgroup.FormatSize(s.MemoryMax),
		s.CPUUsage().Seconds(), cpu, s.NrThrottled, s.PidsCurrent, limitStr(s.PidsMax))
}

func limitStr(v int64) string {
	if v < 0 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

func renderWrites(w io.Writer, writes []cgroup.FileWrite) error {
	if len(writes) == 0 {
		fmt.Fprintln(w, "no limits set (every controller at its default)")
		return nil
	}
	t := newTable(w, "kernel file", "wrote", "read back")
	for _, fw := range writes {
		if err := t.row(fw.Path, fw.Wrote, fw.ReadBack); err != nil {
			return err
		}
	}
	return t.render()
}

// statRow is one line of accounting with the kernel file it came from.
func statRows(mode cgroup.Mode, s cgroup.Stats, wall time.Duration) [][3]string {
	v2 := mode.IsV2()
	pick := func(a, b string) string {
		if v2 {
			return a
		}
		return b
	}
	rows := [][3]string{
		{"memory now", fmt.Sprintf("%s (%d)", cgroup.FormatSize(int64(s.MemoryCurrent)), s.MemoryCurrent), pick("memory.current", "memory.usage_in_bytes")},
		{"memory peak", fmt.Sprintf("%s (%d)", cgroup.FormatSize(int64(s.MemoryPeak)), s.MemoryPeak), pick("memory.peak", "memory.max_usage_in_bytes")},
		{"memory limit", fmt.Sprintf("%s (%s)", cgroup.FormatSize(s.MemoryMax), limitStr(s.MemoryMax)), pick("memory.max", "memory.limit_in_bytes")},
		{"OOM kills", strconv.FormatUint(s.OOMKills, 10), pick("memory.events oom_kill", "memory.oom_control oom_kill")},
	}
	cpu := fmt.Sprintf("%.3fs", s.CPUUsage().Seconds())
	if wall > 0 {
		cpu += fmt.Sprintf(" over %.3fs wall = %.2f CPU", wall.Seconds(), s.CPUUsage().Seconds()/wall.Seconds())
	}
	rows = append(rows,
		[3]string{"CPU time", cpu, pick("cpu.stat usage_usec", "cpuacct.usage")},
		[3]string{"throttled", fmt.Sprintf("%d of %d periods, %.3fs", s.NrThrottled, s.NrPeriods, float64(s.ThrottledUsec)/1e6), pick("cpu.stat nr_throttled", "cpu.stat nr_throttled")},
		[3]string{"tasks now/max", fmt.Sprintf("%d/%s", s.PidsCurrent, limitStr(s.PidsMax)), "pids.current, pids.max"},
		[3]string{"forks refused", strconv.FormatUint(s.PidsRefused, 10), "pids.events max"},
	)
	return rows
}

func renderStats(w io.Writer, mode cgroup.Mode, s cgroup.Stats, wall time.Duration) error {
	t := newTable(w, "accounting", "value", "kernel file")
	for _, r := range statRows(mode, s, wall) {
		if err := t.row(r[0], r[1], r[2]); err != nil {
			return err
		}
	}
	return t.render()
}

func renderAccounting(w io.Writer, cg interface{ Mode() cgroup.Mode }, res *cgroup.RunResult) error {
	how := fmt.Sprintf("exited with status %d", res.ExitCode)
	if res.Signal != "" {
		how = "was killed by " + res.Signal
		if res.Signal == "SIGKILL" && res.Stats.OOMKills > 0 {
			how += " (the OOM killer: the memory limit was reached)"
		}
	}
	fmt.Fprintf(w, "== pid %d %s after %.3fs\n", res.Pid, how, res.Wall().Seconds())
	return renderStats(w, cg.Mode(), res.Stats, res.Wall())
}

// cgroupShowReport is the --json form of `cgroup show`.
type cgroupShowReport struct {
	Name   string             `json:"name"`
	Mode   cgroup.Mode        `json:"mode"`
	Paths  map[string]string  `json:"paths"`
	Limits []cgroup.FileValue `json:"limits"`
	Stats  cgroup.Stats       `json:"stats"`
	Procs  []int              `json:"procs"`
}

func loadReport(name string) (*cgroupShowReport, error) {
	cg, err := cgroup.Load(name)
	if err != nil {
		return nil, err
	}
	lim, err := cg.Limits()
	if err != nil {
		return nil, err
	}
	st, err := cg.Stats()
	if err != nil {
		return nil, err
	}
	procs, err := cg.Procs()
	if err != nil {
		return nil, err
	}
	return &cgroupShowReport{Name: name, Mode: cg.Mode(), Paths: cg.Paths(), Limits: lim, Stats: st, Procs: procs}, nil
}

func newCgroupShowCmd(app *App) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a ctrlab cgroup's limit files, accounting and processes",
		Long: `Reads the limit files (memory.max or memory.limit_in_bytes, cpu.max or
cpu.cfs_quota_us, pids.max...) and the accounting files (memory.events,
cpu.stat, pids.events...) of ctrlab/NAME, straight from the kernel.

Equivalent to: cat /sys/fs/cgroup/ctrlab/NAME/{memory.max,cpu.max,pids.max,cgroup.procs}`,
		Example: `  sudo ctrlab cgroup show web
  sudo ctrlab cgroup show web --json | jq .stats`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validName(args[0]); err != nil {
				return err
			}
			rep, err := loadReport(args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(app.Out, rep)
			}
			fmt.Fprintf(app.Out, "== cgroup ctrlab/%s (cgroup %s), processes %v\n", rep.Name, rep.Mode, rep.Procs)
			t := newTable(app.Out, "limit file", "value")
			for _, l := range rep.Limits {
				if err := t.row(l.Path, l.Value); err != nil {
					return err
				}
			}
			if err := t.render(); err != nil {
				return err
			}
			return renderStats(app.Out, rep.Mode, rep.Stats, 0)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func newCgroupLsCmd(app *App) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the ctrlab cgroups",
		Long: `Lists the cgroups under the ctrlab parent with their processes and usage.

Equivalent to: ls /sys/fs/cgroup/ctrlab (v2) or ls /sys/fs/cgroup/*/ctrlab (v1)`,
		Example: `  sudo ctrlab cgroup ls
  ctrlab cgroup ls --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			names, err := cgroup.List()
			if err != nil {
				return err
			}
			reps := []*cgroupShowReport{}
			for _, n := range names {
				rep, err := loadReport(n)
				if errors.Is(err, cgroup.ErrNotExist) {
					continue // removed meanwhile
				}
				if err != nil {
					return err
				}
				reps = append(reps, rep)
			}
			if asJSON {
				return writeJSON(app.Out, reps)
			}
			if len(reps) == 0 {
				fmt.Fprintln(app.ErrOut, "no ctrlab cgroups")
				return nil
			}
			t := newTable(app.Out, "name", "procs", "memory", "memory max", "cpu time", "tasks", "path")
			for _, r := range reps {
				s := r.Stats
				p := r.Paths[""]
				if p == "" {
					p = filepath.Dir(filepath.Dir(r.Paths["memory"])) + "/*/ctrlab/" + r.Name
					p = strings.Replace(p, "/memory/*", "/*", 1)
				}
				if err := t.row(r.Name, len(r.Procs), cgroup.FormatSize(int64(s.MemoryCurrent)), cgroup.FormatSize(s.MemoryMax),
					fmt.Sprintf("%.3fs", s.CPUUsage().Seconds()), fmt.Sprintf("%d/%s", s.PidsCurrent, limitStr(s.PidsMax)), p); err != nil {
					return err
				}
			}
			return t.render()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func newCgroupRmCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME...",
		Aliases: []string{"remove", "delete"},
		Short:   "Kill a ctrlab cgroup's processes and remove it",
		Long: `Kills every process left in ctrlab/NAME (cgroup.kill on v2, SIGKILL to each
pid in cgroup.procs on v1), waits until it is empty, and removes it.

Equivalent to: echo 1 > /sys/fs/cgroup/ctrlab/NAME/cgroup.kill;
rmdir /sys/fs/cgroup/ctrlab/NAME`,
		Example: `  sudo ctrlab cgroup rm web`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, n := range args {
				if err := validName(n); err != nil {
					return err
				}
			}
			if err := requireRoot("ctrlab cgroup rm"); err != nil {
				return err
			}
			for _, n := range args {
				cg, err := cgroup.Load(n)
				if err != nil {
					return err
				}
				if err := cg.Delete(); err != nil {
					return err
				}
				for _, p := range cg.Paths() {
					fmt.Fprintf(app.Out, "removed %s\n", p)
				}
			}
			return nil
		},
	}
}

type cgroupDemoOptions struct {
	Kind cgroup.DemoKind
	Keep bool
	JSON bool
}

var demoIntro = map[cgroup.DemoKind]string{
	cgroup.DemoMemory: "A process touches memory in 8 MiB steps under a 48 MiB limit with no swap. When the\ncgroup cannot reclaim enough, the kernel's OOM killer kills it (SIGKILL) and counts the kill.",
	cgroup.DemoCPU:    "A busy loop runs for 3 s of wall time under a quota of 0.2 CPU (20000us per 100000us\nperiod). The scheduler throttles it each period once it has used its quota.",
	cgroup.DemoPids:   "A fork bomb spawns sleeping children under pids.max 16. Once the cgroup holds 16 tasks\n(processes AND threads), fork/clone fails with EAGAIN and the kernel counts each refusal.",
}

func newCgroupDemoCmd(app *App, runF func(*cgroupDemoOptions) error) *cobra.Command {
	o := &cgroupDemoOptions{}
	cmd := &cobra.Command{
		Use:   "demo memory|cpu|pids",
		Short: "See a limit take effect: an OOM kill, a throttled CPU, a refused fork",
		Long: `Runs a built-in workload (part of the ctrlab binary, re-executed) in a new cgroup
and shows what the kernel did and counted:

  memory  48 MiB limit, no swap: the workload is OOM-killed
          (memory.events oom_kill / memory.oom_control oom_kill)
  cpu     0.2 CPU quota: 3 s of busy loop gets about 0.6 s of CPU
          (cpu.stat usage_usec, nr_throttled / cpuacct.usage)
  pids    pids.max 16: a fork bomb is refused (pids.events max)

Everything runs inside the cgroup and is killed and removed at the end
(unless --keep).`,
		Example: `  sudo ctrlab cgroup demo memory
  sudo ctrlab cgroup demo cpu --json`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"memory", "cpu", "pids"},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Kind = cgroup.DemoKind(args[0])
			if _, ok := demoIntro[o.Kind]; !ok {
				return flagErrorf("unknown demo %q: choose memory, cpu or pids", args[0])
			}
			if runF != nil {
				return runF(o)
			}
			return cgroupDemo(cmd, app, o)
		},
	}
	cmd.Flags().BoolVar(&o.Keep, "keep", false, "keep the cgroup afterwards to look at its files")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the result as JSON")
	return cmd
}

func cgroupDemo(cmd *cobra.Command, app *App, o *cgroupDemoOptions) error {
	if err := requireRoot("ctrlab cgroup demo"); err != nil {
		return err
	}
	var opts []cgroup.DemoOption
	if o.Keep {
		opts = append(opts, cgroup.WithKeep())
	}
	if !o.JSON {
		fmt.Fprintf(app.Out, "== demo %s\n%s\n", o.Kind, demoIntro[o.Kind])
		opts = append(opts, cgroup.WithOutput(prefixWriter{w: app.Out, prefix: "  | "}))
	}
	res, err := cgroup.Demo(cmd.Context(), o.Kind, opts...)
	if err != nil {
		return err
	}
	if o.JSON {
		return writeJSON(app.Out, res)
	}
	fmt.Fprintf(app.Out, "cgroup ctrlab/%s (cgroup %s): files written\n", res.Name, res.Mode)
	if err := renderWrites(app.Out, res.Writes); err != nil {
		return err
	}
	cg := fakeMode(res.Mode)
	if err := renderAccounting(app.Out, cg, res.Run); err != nil {
		return err
	}
	s := res.Run.Stats
	switch o.Kind {
	case cgroup.DemoMemory:
		fmt.Fprintf(app.Out, "=> the kernel counted %d OOM kill(s); the workload ended by %s.\n", s.OOMKills, orExit(res.Run))
	case cgroup.DemoCPU:
		fmt.Fprintf(app.Out, "=> %.2fs of CPU in %.2fs of wall time (%.2f CPU, quota 0.20), throttled in %d of %d periods.\n",
			s.CPUUsage().Seconds(), res.Run.Wall().Seconds(), s.CPUUsage().Seconds()/res.Run.Wall().Seconds(), s.NrThrottled, s.NrPeriods)
	case cgroup.DemoPids:
		fmt.Fprintf(app.Out, "=> the fork bomb started %d children and saw %d forks fail with EAGAIN; the kernel counted %d refused task creations (pids.events max).\n",
			res.Spawned, res.Refused, s.PidsRefused)
	}
	if o.Keep {
		fmt.Fprintf(app.ErrOut, "kept: look with 'ctrlab cgroup show %s', remove with 'ctrlab cgroup rm %s'\n", res.Name, res.Name)
	} else {
		fmt.Fprintln(app.ErrOut, "cgroup removed: every process in it was killed first")
	}
	return nil
}

func orExit(r *cgroup.RunResult) string {
	if r.Signal != "" {
		return r.Signal
	}
	return fmt.Sprintf("exit status %d", r.ExitCode)
}

// fakeMode lets renderAccounting name the right files for a cgroup that
// may already be gone.
type modeOnly struct{ m cgroup.Mode }

func (m modeOnly) Mode() cgroup.Mode { return m.m }

func fakeMode(m cgroup.Mode) modeOnly { return modeOnly{m} }

// prefixWriter prefixes each line of a workload's output.
type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return len(b), nil
	}
	if _, err := fmt.Fprintln(p.w, p.prefix+strings.ReplaceAll(s, "\n", "\n"+p.prefix)); err != nil {
		return 0, err
	}
	return len(b), nil
}
