package cgroup

import (
	"io"
	"time"
)

// Mode is the cgroup interface the host uses.
type Mode string

const (
	// V1 is the legacy interface: one hierarchy per controller.
	V1 Mode = "v1"
	// Hybrid is v1 controllers plus an (empty) v2 tree at /sys/fs/cgroup/unified.
	// ctrlab uses the v1 controllers.
	Hybrid Mode = "hybrid"
	// V2 is the unified hierarchy: one tree, all controllers.
	V2 Mode = "v2"
)

// IsV2 reports whether limits are set through the unified (v2) files.
func (m Mode) IsV2() bool { return m == V2 }

// Info describes the host's cgroup setup.
type Info struct {
	Mode Mode `json:"mode"`
	// Root is where the hierarchies are mounted (/sys/fs/cgroup).
	Root string `json:"root"`
	// Controllers are the usable controllers ctrlab knows about, sorted.
	Controllers []string `json:"controllers"`
	// Mounts maps each v1 controller to its hierarchy's mount point.
	Mounts map[string]string `json:"mounts,omitempty"`
	// Swap reports whether swap can be limited (v1 memory.memsw.*, v2 memory.swap.max).
	Swap bool `json:"swap"`
	// Kill reports whether v2 cgroup.kill exists (Linux 5.14+).
	Kill bool `json:"kill"`
}

// Has reports whether controller is usable.
func (i *Info) Has(controller string) bool {
	for _, c := range i.Controllers {
		if c == controller {
			return true
		}
	}
	return false
}

// Unlimited, in a Resources field, writes "max" (v2) or -1 (v1).
const Unlimited int64 = -1

// Resources are the limits Set writes. A zero field is left alone.
type Resources struct {
	// MemoryMax is the memory limit in bytes (memory.max, memory.limit_in_bytes).
	MemoryMax int64 `json:"memoryMax,omitempty"`
	// MemorySwapMax is the swap allowed on top of MemoryMax, in bytes; nil
	// leaves it alone, 0 forbids swap. v2 memory.swap.max; v1
	// memory.memsw.limit_in_bytes = MemoryMax + MemorySwapMax. Skipped when
	// the kernel does not account swap (Info.Swap false).
	MemorySwapMax *int64 `json:"memorySwapMax,omitempty"`
	// CPUs is a CPU fraction (0.5 = half a CPU); it sets CPUQuota from CPUPeriod.
	CPUs float64 `json:"cpus,omitempty"`
	// CPUQuota is the run time allowed per period, in microseconds
	// (cpu.max "QUOTA PERIOD", cpu.cfs_quota_us).
	CPUQuota int64 `json:"cpuQuota,omitempty"`
	// CPUPeriod is the quota period in microseconds (default 100000).
	CPUPeriod uint64 `json:"cpuPeriod,omitempty"`
	// CPUWeight is the relative share of CPU, 1..10000 (v2 cpu.weight, default
	// 100); on v1 it is converted to cpu.shares (default 1024).
	CPUWeight uint64 `json:"cpuWeight,omitempty"`
	// PidsMax caps the number of tasks (processes and threads) (pids.max).
	PidsMax int64 `json:"pidsMax,omitempty"`
	// Cpuset is the list of CPUs allowed, like "0" or "0-1" (cpuset.cpus);
	// the cgroup must have been made WithCpuset.
	Cpuset string `json:"cpuset,omitempty"`
}

// FileWrite is one kernel file Set wrote, with what the kernel reads back.
type FileWrite struct {
	Path     string `json:"path"`
	Wrote    string `json:"wrote"`
	ReadBack string `json:"readBack"`
}

// FileValue is one kernel file and its content (first line, trimmed).
type FileValue struct {
	Path  string `json:"path"`
	Value string `json:"value"`
}

// Stats is the kernel's accounting for one cgroup. Memory is in bytes, CPU
// times in microseconds. Limits of -1 mean unlimited.
type Stats struct {
	MemoryCurrent uint64 `json:"memoryCurrent"`
	MemoryPeak    uint64 `json:"memoryPeak"`
	MemoryMax     int64  `json:"memoryMax"`
	// MemoryFailcnt counts hits of the limit (v1 memory.failcnt; v2 memory.events max).
	MemoryFailcnt uint64 `json:"memoryFailcnt"`
	// OOMKills counts processes the OOM killer killed in this cgroup
	// (v2 memory.events oom_kill, v1 memory.oom_control oom_kill).
	OOMKills uint64 `json:"oomKills"`

	CPUUsageUsec  uint64 `json:"cpuUsageUsec"`
	NrPeriods     uint64 `json:"nrPeriods"`
	NrThrottled   uint64 `json:"nrThrottled"`
	ThrottledUsec uint64 `json:"throttledUsec"`

	PidsCurrent uint64 `json:"pidsCurrent"`
	PidsMax     int64  `json:"pidsMax"`
	// PidsRefused counts forks refused by pids.max (pids.events max).
	PidsRefused uint64 `json:"pidsRefused"`

	// Files lists the kernel files these numbers came from.
	Files []string `json:"files"`
}

// CPUUsage returns CPUUsageUsec as a duration.
func (s *Stats) CPUUsage() time.Duration { return time.Duration(s.CPUUsageUsec) * time.Microsecond }

// RunResult is what happened to a command run in a cgroup.
type RunResult struct {
	Pid int `json:"pid"`
	// ProcCgroup is /proc/PID/cgroup read right after the start: the proof
	// the process began inside the cgroup.
	ProcCgroup string `json:"procCgroup"`
	// ExitCode is the exit status, or -1 when a signal killed it.
	ExitCode int    `json:"exitCode"`
	Signal   string `json:"signal,omitempty"`
	// WallUsec is the time from start to exit, in microseconds.
	WallUsec int64 `json:"wallUsec"`
	// Stats is the cgroup's accounting after the command exited.
	Stats Stats `json:"stats"`
}

// Wall returns WallUsec as a duration.
func (r *RunResult) Wall() time.Duration { return time.Duration(r.WallUsec) * time.Microsecond }

// RunOption configures Run.
type RunOption func(*runOptions)

type runOptions struct {
	every   time.Duration
	onTick  func(Stats, time.Duration)
	onStart func(pid int)
}

// WithProgress calls fn with fresh Stats and the elapsed time every interval
// while the command runs.
func WithProgress(every time.Duration, fn func(s Stats, elapsed time.Duration)) RunOption {
	return func(o *runOptions) { o.every, o.onTick = every, fn }
}

// WithStarted calls fn with the pid once the command runs inside the cgroup.
func WithStarted(fn func(pid int)) RunOption { return func(o *runOptions) { o.onStart = fn } }

// DemoKind names a built-in demonstration.
type DemoKind string

// The demonstrations.
const (
	DemoMemory DemoKind = "memory"
	DemoCPU    DemoKind = "cpu"
	DemoPids   DemoKind = "pids"
)

// DemoKinds lists the demonstrations in order.
var DemoKinds = []DemoKind{DemoMemory, DemoCPU, DemoPids}

// DemoResult is what a demonstration did and what the kernel counted.
type DemoResult struct {
	Kind   DemoKind    `json:"kind"`
	Name   string      `json:"name"`
	Mode   Mode        `json:"mode"`
	Paths  []string    `json:"paths"`
	Writes []FileWrite `json:"writes"`
	Run    *RunResult  `json:"run"`
	// Output is what the workload printed.
	Output string `json:"output"`
	// Spawned and Refused are the pids demo's own counts of forks.
	Spawned int `json:"spawned,omitempty"`
	Refused int `json:"refused,omitempty"`
	// Kept is true when the cgroup was left in place (WithKeep).
	Kept bool `json:"kept"`
}

// DemoOption configures Demo.
type DemoOption func(*demoOptions)

type demoOptions struct {
	name string
	keep bool
	out  io.Writer
	run  []RunOption
}

// WithDemoName names the demo's cgroup (default "demo-KIND-PID").
func WithDemoName(n string) DemoOption { return func(o *demoOptions) { o.name = n } }

// WithKeep leaves the demo's cgroup in place for inspection.
func WithKeep() DemoOption { return func(o *demoOptions) { o.keep = true } }

// WithOutput copies the workload's output to w as it runs.
func WithOutput(w io.Writer) DemoOption { return func(o *demoOptions) { o.out = w } }

// WithRunOptions passes options to the Run of the workload.
func WithRunOptions(opts ...RunOption) DemoOption {
	return func(o *demoOptions) { o.run = append(o.run, opts...) }
}
