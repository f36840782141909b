package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Cgroup is one ctrlab cgroup: a single directory on v2, one directory per
// controller hierarchy on v1.
type Cgroup struct {
	name  string
	info  *Info
	paths map[string]string // controller -> directory
}

// Option configures New.
type Option func(*options)

type options struct {
	cpuset bool
}

// WithCpuset also places the cgroup in the cpuset controller, so that
// Resources.Cpuset can pin it to CPUs.
func WithCpuset() Option { return func(o *options) { o.cpuset = true } }

// New creates the cgroup ctrlab/name in every usable hierarchy.
//
// v2: mkdir /sys/fs/cgroup/ctrlab/NAME, after enabling "+memory +pids +cpu"
// in the subtree_control of / and /ctrlab as needed. v1: mkdir
// /sys/fs/cgroup/CONTROLLER/ctrlab/NAME for memory, cpu, cpuacct, pids (and
// cpuset, whose cpus and mems are copied from the parent). Equivalent to:
// `mkdir -p /sys/fs/cgroup/ctrlab/NAME` (mkdir(2)). Nothing is left behind
// when it fails.
func New(name string, opts ...Option) (*Cgroup, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	var o options
	for _, fn := range opts {
		fn(&o)
	}
	info, err := Detect()
	if err != nil {
		return nil, err
	}
	want := []string{"cpu", "cpuacct", "memory", "pids"}
	if o.cpuset {
		if !info.Has("cpuset") {
			return nil, &ControllerError{Controller: "cpuset", Mode: info.Mode}
		}
		want = append(want, "cpuset")
	}
	c := &Cgroup{name: name, info: info, paths: map[string]string{}}
	// Another process may remove an empty ctrlab parent between our mkdirs:
	// retry a few times on ENOENT.
	for attempt := 0; ; attempt++ {
		if info.Mode.IsV2() {
			err = c.createV2(want)
		} else {
			err = c.createV1(want)
		}
		if err == nil || !errors.Is(err, fs.ErrNotExist) || attempt == 5 {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00\n") || len(name) > 200 {
		return fmt.Errorf("%w: %q (one path element, like web1)", ErrBadName, name)
	}
	return nil
}

func (c *Cgroup) createV2(want []string) error {
	parent := filepath.Join(Root, Parent)
	var ctl []string
	for _, w := range want {
		if w != "cpuacct" && c.info.Has(w) {
			ctl = append(ctl, w)
		}
	}
	if err := mkdirIfMissing(parent); err != nil {
		return err
	}
	if err := enableControllers(Root, ctl); err != nil {
		return err
	}
	if err := enableControllers(parent, ctl); err != nil {
		return err
	}
	dir := filepath.Join(parent, c.name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return &FileError{Op: "mkdir", Path: dir, Err: unwrapPath(err)}
	}
	for _, w := range want {
		if c.info.Has(w) {
			c.paths[w] = dir
		}
	}
	c.paths[""] = dir
	return nil
}

// enableControllers writes "+c" for each controller not yet in
// dir/cgroup.subtree_control.
func enableControllers(dir string, ctl []string) error {
	p := filepath.Join(dir, "cgroup.subtree_control")
	b, err := os.ReadFile(p)
	if err != nil {
		return &FileError{Op: "read", Path: p, Err: err}
	}
	have := strings.Fields(string(b))
	var add []string
	for _, c := range ctl {
		if !contains(have, c) {
			add = append(add, "+"+c)
		}
	}
	if len(add) == 0 {
		return nil
	}
	return writeFile(p, strings.Join(add, " "))
}

func (c *Cgroup) createV1(want []string) error {
	var made []string
	rollback := func() {
		for i := len(made) - 1; i >= 0; i-- {
			_ = unix.Rmdir(made[i])
		}
	}
	for _, w := range want {
		mnt, ok := c.info.Mounts[w]
		if !ok {
			continue
		}
		dir := filepath.Join(mnt, Parent, c.name)
		if contains(made, dir) { // co-mounted, like cpu,cpuacct
			c.paths[w] = dir
			continue
		}
		parent := filepath.Join(mnt, Parent)
		if err := mkdirIfMissing(parent); err != nil {
			rollback()
			return err
		}
		if w == "cpuset" {
			if err := initCpuset(mnt, parent); err != nil {
				rollback()
				return err
			}
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			rollback()
			return &FileError{Op: "mkdir", Path: dir, Err: unwrapPath(err)}
		}
		made = append(made, dir)
		if w == "cpuset" {
			if err := initCpuset(parent, dir); err != nil {
				rollback()
				return err
			}
		}
		c.paths[w] = dir
	}
	if len(made) == 0 {
		return ErrNoCgroups
	}
	return nil
}

// initCpuset copies cpuset.cpus and cpuset.mems from parent to an empty
// v1 cpuset cgroup: without them no task may join it.
func initCpuset(from, dir string) error {
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, _ := readFirstLine(filepath.Join(dir, f))
		if cur != "" {
			continue
		}
		v, err := readFirstLine(filepath.Join(from, f))
		if err != nil {
			return err
		}
		if err := writeFile(filepath.Join(dir, f), v); err != nil {
			return err
		}
	}
	return nil
}

func mkdirIfMissing(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return &FileError{Op: "mkdir", Path: dir, Err: unwrapPath(err)}
	}
	return nil
}

// Load returns the existing ctrlab cgroup name.
func Load(name string) (*Cgroup, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	info, err := Detect()
	if err != nil {
		return nil, err
	}
	c := &Cgroup{name: name, info: info, paths: map[string]string{}}
	if info.Mode.IsV2() {
		dir := filepath.Join(Root, Parent, name)
		if !fileExists(dir) {
			return nil, fmt.Errorf("%w: %s", ErrNotExist, name)
		}
		for _, k := range info.Controllers {
			c.paths[k] = dir
		}
		c.paths[""] = dir
		return c, nil
	}
	for k, mnt := range info.Mounts {
		if dir := filepath.Join(mnt, Parent, name); fileExists(dir) {
			c.paths[k] = dir
		}
	}
	if len(c.paths) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotExist, name)
	}
	return c, nil
}

// List returns the names of the existing ctrlab cgroups, sorted.
//
// Equivalent to: `ls /sys/fs/cgroup/ctrlab` (v2) or
// `ls /sys/fs/cgroup/*/ctrlab` (v1).
func List() ([]string, error) {
	info, err := Detect()
	if err != nil {
		return nil, err
	}
	var parents []string
	if info.Mode.IsV2() {
		parents = []string{filepath.Join(Root, Parent)}
	} else {
		for _, mnt := range info.Mounts {
			parents = append(parents, filepath.Join(mnt, Parent))
		}
	}
	seen := map[string]bool{}
	var names []string
	for _, p := range parents {
		ents, err := os.ReadDir(p)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.IsDir() && !seen[e.Name()] {
				seen[e.Name()] = true
				names = append(names, e.Name())
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// Name is the cgroup's name under the ctrlab parent.
func (c *Cgroup) Name() string { return c.name }

// Info is the host cgroup setup this cgroup was made on.
func (c *Cgroup) Info() *Info { return c.info }

// Mode is v1, hybrid or v2.
func (c *Cgroup) Mode() Mode { return c.info.Mode }

// Path returns the cgroup's directory for controller ("memory", "cpu",
// "cpuacct", "pids", "cpuset"); on v2 every controller, and "", give the one
// directory. It is "" if the cgroup is not in that controller.
func (c *Cgroup) Path(controller string) string {
	if c.info.Mode.IsV2() {
		return c.paths[""]
	}
	return c.paths[controller]
}

// Paths returns each controller's directory (one entry per distinct
// directory on v1; the single directory under "" on v2).
func (c *Cgroup) Paths() map[string]string {
	out := map[string]string{}
	for k, v := range c.paths {
		if c.info.Mode.IsV2() && k != "" {
			continue
		}
		out[k] = v
	}
	return out
}

// dirs returns the distinct directories of this cgroup.
func (c *Cgroup) dirs() []string {
	var ds []string
	for _, d := range c.paths {
		if !contains(ds, d) {
			ds = append(ds, d)
		}
	}
	sort.Strings(ds)
	return ds
}

// AddPID moves process pid (all its threads) into the cgroup.
//
// Equivalent to: `echo PID > /sys/fs/cgroup/ctrlab/NAME/cgroup.procs`
// (on v1, once per controller hierarchy).
func (c *Cgroup) AddPID(pid int) error {
	for _, d := range c.dirs() {
		if err := writeFile(filepath.Join(d, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// FD opens the v2 cgroup directory for SysProcAttr.UseCgroupFD/CgroupFD
// (clone3 with CLONE_INTO_CGROUP). ok is false on v1, where a process is
// moved in with AddPID after it starts. The caller closes f.
func (c *Cgroup) FD() (f *os.File, ok bool, err error) {
	if !c.info.Mode.IsV2() {
		return nil, false, nil
	}
	dir := c.paths[""]
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false, &FileError{Op: "open", Path: dir, Err: err}
	}
	return os.NewFile(uintptr(fd), dir), true, nil
}

// Procs returns the pids in the cgroup (cgroup.procs), sorted.
func (c *Cgroup) Procs() ([]int, error) {
	seen := map[int]bool{}
	var out []int
	for _, d := range c.dirs() {
		p := filepath.Join(d, "cgroup.procs")
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, &FileError{Op: "read", Path: p, Err: err}
		}
		for _, pid := range ParseProcs(string(b)) {
			if !seen[pid] {
				seen[pid] = true
				out = append(out, pid)
			}
		}
	}
	sort.Ints(out)
	return out, nil
}

// Set writes the limits in r and returns every file written with the value
// the kernel reads back. A limit whose controller is unavailable returns a
// *ControllerError naming the fix.
//
// Equivalent to (v2): `echo 67108864 > memory.max; echo "50000 100000" >
// cpu.max; echo 20 > pids.max`; (v1): `echo 67108864 >
// memory/ctrlab/NAME/memory.limit_in_bytes; echo 50000 >
// cpu/ctrlab/NAME/cpu.cfs_quota_us; echo 20 > pids/ctrlab/NAME/pids.max`.
func (c *Cgroup) Set(r Resources) ([]FileWrite, error) {
	var out []FileWrite
	w := func(controller, file, value string) error {
		dir := c.Path(controller)
		if dir == "" {
			return &ControllerError{Controller: controller, Mode: c.info.Mode}
		}
		p := filepath.Join(dir, file)
		if err := writeFile(p, value); err != nil {
			return err
		}
		back, _ := readFirstLine(p)
		out = append(out, FileWrite{Path: p, Wrote: value, ReadBack: back})
		return nil
	}
	need := func(controller string) error {
		if !c.info.Has(controller) || c.Path(controller) == "" {
			return &ControllerError{Controller: controller, Mode: c.info.Mode}
		}
		return nil
	}
	v2 := c.info.Mode.IsV2()
	quota := r.CPUQuota
	period := r.CPUPeriod
	if period == 0 {
		period = DefaultCPUPeriod
	}
	if r.CPUs > 0 {
		q, err := ParseCPUs(strconv.FormatFloat(r.CPUs, 'f', -1, 64), period)
		if err != nil {
			return out, err
		}
		quota = q
	}
	if r.MemoryMax != 0 || r.MemorySwapMax != nil {
		if err := need("memory"); err != nil {
			return out, err
		}
	}
	if quota != 0 || r.CPUWeight != 0 {
		if err := need("cpu"); err != nil {
			return out, err
		}
	}
	if r.PidsMax != 0 {
		if err := need("pids"); err != nil {
			return out, err
		}
	}
	if r.Cpuset != "" {
		if err := need("cpuset"); err != nil {
			return out, err
		}
	}
	if v2 {
		if r.MemoryMax != 0 {
			if err := w("memory", "memory.max", limitV2(r.MemoryMax)); err != nil {
				return out, err
			}
		}
		if r.MemorySwapMax != nil && fileExists(filepath.Join(c.Path("memory"), "memory.swap.max")) {
			if err := w("memory", "memory.swap.max", limitV2(*r.MemorySwapMax)); err != nil {
				return out, err
			}
		}
		if quota != 0 {
			if err := w("cpu", "cpu.max", limitV2(quota)+" "+strconv.FormatUint(period, 10)); err != nil {
				return out, err
			}
		}
		if r.CPUWeight != 0 {
			if err := w("cpu", "cpu.weight", strconv.FormatUint(r.CPUWeight, 10)); err != nil {
				return out, err
			}
		}
		if r.PidsMax != 0 {
			if err := w("pids", "pids.max", limitV2(r.PidsMax)); err != nil {
				return out, err
			}
		}
		if r.Cpuset != "" {
			if err := w("cpuset", "cpuset.cpus", r.Cpuset); err != nil {
				return out, err
			}
		}
		return out, nil
	}
	// v1
	if r.MemoryMax != 0 {
		memsw := filepath.Join(c.Path("memory"), "memory.memsw.limit_in_bytes")
		if r.MemorySwapMax != nil && fileExists(memsw) {
			total := Unlimited
			if r.MemoryMax > 0 && *r.MemorySwapMax >= 0 {
				total = r.MemoryMax + *r.MemorySwapMax
			}
			// memory.limit_in_bytes must stay <= memsw: order the writes.
			cur, _ := readFirstLine(memsw)
			curv, _ := ParseLimit(cur)
			if curv != Unlimited && (total == Unlimited || total > curv) {
				if err := w("memory", "memory.memsw.limit_in_bytes", limitV1(total)); err != nil {
					return out, err
				}
				if err := w("memory", "memory.limit_in_bytes", limitV1(r.MemoryMax)); err != nil {
					return out, err
				}
			} else {
				if err := w("memory", "memory.limit_in_bytes", limitV1(r.MemoryMax)); err != nil {
					return out, err
				}
				if err := w("memory", "memory.memsw.limit_in_bytes", limitV1(total)); err != nil {
					return out, err
				}
			}
		} else if err := w("memory", "memory.limit_in_bytes", limitV1(r.MemoryMax)); err != nil {
			return out, err
		}
	}
	if quota != 0 {
		if err := w("cpu", "cpu.cfs_period_us", strconv.FormatUint(period, 10)); err != nil {
			return out, err
		}
		if err := w("cpu", "cpu.cfs_quota_us", limitV1(quota)); err != nil {
			return out, err
		}
	}
	if r.CPUWeight != 0 {
		if err := w("cpu", "cpu.shares", strconv.FormatUint(WeightToShares(r.CPUWeight), 10)); err != nil {
			return out, err
		}
	}
	if r.PidsMax != 0 {
		if err := w("pids", "pids.max", limitV2(r.PidsMax)); err != nil {
			return out, err
		}
	}
	if r.Cpuset != "" {
		if err := w("cpuset", "cpuset.cpus", r.Cpuset); err != nil {
			return out, err
		}
	}
	return out, nil
}

func limitV2(v int64) string {
	if v < 0 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

func limitV1(v int64) string {
	if v < 0 {
		return "-1"
	}
	return strconv.FormatInt(v, 10)
}

// limitFiles are the files Limits shows, by mode.
var limitFilesV2 = []string{"memory.max", "memory.swap.max", "memory.high", "cpu.max", "cpu.weight", "pids.max", "cpuset.cpus", "cpuset.cpus.effective"}
var limitFilesV1 = []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.shares", "pids.max", "cpuset.cpus"}

// Limits reads back the cgroup's limit files (those that exist).
func (c *Cgroup) Limits() ([]FileValue, error) {
	files := limitFilesV1
	if c.info.Mode.IsV2() {
		files = limitFilesV2
	}
	var out []FileValue
	for _, d := range c.dirs() {
		for _, f := range files {
			p := filepath.Join(d, f)
			v, err := readFirstLine(p)
			if err != nil {
				continue
			}
			out = append(out, FileValue{Path: p, Value: v})
		}
	}
	return out, nil
}

// statFilesV2 and statFilesV1 are the accounting files Stats reads.
var statFilesV2 = []string{"memory.current", "memory.peak", "memory.max", "memory.events", "cpu.stat", "pids.current", "pids.max", "pids.events"}
var statFilesV1 = []string{"memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.limit_in_bytes", "memory.failcnt", "memory.oom_control", "cpuacct.usage", "cpu.stat", "pids.current", "pids.max", "pids.events"}

// Stats reads the kernel's accounting for the cgroup.
//
// Equivalent to (v2): `cat memory.current memory.peak memory.events cpu.stat
// pids.current pids.events`; (v1): `cat memory.usage_in_bytes
// memory.oom_control cpuacct.usage cpu.stat pids.current pids.events`.
func (c *Cgroup) Stats() (Stats, error) {
	var s Stats
	names := statFilesV1
	if c.info.Mode.IsV2() {
		names = statFilesV2
	}
	files := map[string]string{}
	for _, d := range c.dirs() {
		for _, n := range names {
			if _, done := files[n]; done {
				continue
			}
			p := filepath.Join(d, n)
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			files[n] = string(b)
			s.Files = append(s.Files, p)
		}
	}
	if len(s.Files) == 0 {
		if len(c.dirs()) > 0 && !fileExists(c.dirs()[0]) {
			return s, fmt.Errorf("%w: %s", ErrNotExist, c.name)
		}
	}
	if c.info.Mode.IsV2() {
		statsV2(&s, files)
	} else {
		statsV1(&s, files)
	}
	return s, nil
}

// Delete kills every process left in the cgroup, waits until it is empty,
// and removes its directories (and the ctrlab parent when nothing else uses
// it). Deleting a cgroup that is already gone is not an error.
//
// Equivalent to: `echo 1 > cgroup.kill` (v2, Linux 5.14+) or `kill -9` of
// each pid in cgroup.procs, then `rmdir /sys/fs/cgroup/ctrlab/NAME`
// (rmdir(2), retried while the kernel still reports EBUSY).
func (c *Cgroup) Delete() error {
	deadline := time.Now().Add(15 * time.Second)
	if err := c.killAll(deadline); err != nil {
		return err
	}
	for _, d := range c.dirs() {
		if err := rmdirRetry(d, deadline); err != nil {
			return err
		}
		// Remove the parent if this was its last child; EBUSY/ENOTEMPTY means
		// another ctrlab cgroup still lives there.
		_ = unix.Rmdir(filepath.Dir(d))
	}
	return nil
}

func (c *Cgroup) killAll(deadline time.Time) error {
	delay := time.Millisecond
	for {
		pids, err := c.Procs()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		killed := false
		if c.info.Mode.IsV2() {
			if p := filepath.Join(c.paths[""], "cgroup.kill"); fileExists(p) {
				killed = writeFile(p, "1") == nil
			}
		}
		if !killed {
			for _, pid := range pids {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("deleting cgroup %s: %w: %v", c.name, ErrBusy, pids)
		}
		time.Sleep(delay)
		if delay < 100*time.Millisecond {
			delay *= 2
		}
	}
}

func rmdirRetry(dir string, deadline time.Time) error {
	delay := time.Millisecond
	for {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return &FileError{Op: "rmdir", Path: dir, Err: err}
		}
		time.Sleep(delay)
		if delay < 200*time.Millisecond {
			delay *= 2
		}
	}
}

func writeFile(p, v string) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return &FileError{Op: "write", Path: p, Value: v, Err: unwrapPath(err)}
	}
	_, err = f.WriteString(v)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return &FileError{Op: "write", Path: p, Value: v, Err: unwrapPath(err)}
	}
	return nil
}

func readFirstLine(p string) (string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", &FileError{Op: "read", Path: p, Err: unwrapPath(err)}
	}
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s, nil
}

// unwrapPath strips *fs.PathError so FileError carries the errno directly.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
