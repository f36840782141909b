package cgroup

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ctrlab/ctrlab/pkg/reexec"
)

// The demo workloads are built into ctrlab and run as re-exec entrypoints.
const (
	memhogName   = "ctrlab-cgroup-memhog"
	spinName     = "ctrlab-cgroup-spin"
	forkbombName = "ctrlab-cgroup-forkbomb"
	sleepName    = "ctrlab-cgroup-sleep"
)

func init() {
	reexec.Register(memhogName, memhogMain)
	reexec.Register(spinName, spinMain)
	reexec.Register(forkbombName, forkbombMain)
	reexec.Register(sleepName, sleepMain)
}

// resultPrefix marks the one line a workload prints for Demo to parse.
const resultPrefix = "ctrlab-result: "

// memhogMain allocates and touches anonymous memory in 8 MiB steps, up to
// 1 GiB (a safety stop if no limit is in force).
func memhogMain() {
	const step = 8 << 20
	var keep [][]byte
	for total := step; total <= 1<<30; total += step {
		b, err := unix.Mmap(-1, 0, step, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			fmt.Printf("mmap: %v\n", err)
			os.Exit(1)
		}
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1 // touch every page so the kernel must back (and charge) it
		}
		keep = append(keep, b)
		fmt.Printf("allocated and touched %d MiB\n", total>>20)
	}
	fmt.Printf("%s{\"allocatedMiB\":%d}\n", resultPrefix, len(keep)*8)
	fmt.Println("reached 1 GiB without being killed: no memory limit in force?")
}

// spinMain burns CPU in a busy loop for the seconds in argv[1] (wall time).
func spinMain() {
	runtime.GOMAXPROCS(1)
	d := 3 * time.Second
	if len(os.Args) > 1 {
		if v, err := time.ParseDuration(os.Args[1]); err == nil {
			d = v
		}
	}
	start := time.Now()
	n := 0
	for time.Since(start) < d {
		for i := 0; i < 100000; i++ {
			n++
		}
	}
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fmt.Printf("spun for %v wall, got %v of CPU\n", time.Since(start).Round(time.Millisecond), cpu.Round(time.Millisecond))
}

// forkbombMain spawns sleeping children until fork fails, counting the
// refusals (EAGAIN), for at most the duration in argv[1].
func forkbombMain() {
	runtime.GOMAXPROCS(1)
	prewarmThreads(6)
	d := 3 * time.Second
	if len(os.Args) > 1 {
		if v, err := time.ParseDuration(os.Args[1]); err == nil {
			d = v
		}
	}
	var spawned, refused int
	var other error
	attr := &syscall.ProcAttr{
		Env: []string{"GOMAXPROCS=1"},
		Sys: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	start := time.Now()
	for time.Since(start) < d && refused < 25 {
		_, err := syscall.ForkExec(reexec.Self, []string{sleepName}, attr)
		switch {
		case err == nil:
			spawned++
		case errors.Is(err, syscall.EAGAIN):
			refused++
			if refused == 1 {
				fmt.Printf("fork refused after %d children: %v\n", spawned, err)
			}
			time.Sleep(20 * time.Millisecond)
		default:
			other = err
		}
		if other != nil {
			break
		}
	}
	if other != nil {
		fmt.Printf("fork failed: %v\n", other)
	}
	fmt.Printf("%s{\"spawned\":%d,\"refused\":%d}\n", resultPrefix, spawned, refused)
}

// prewarmThreads makes the Go runtime create n OS threads now, before the
// pids limit is reached: a Go program that cannot create a thread when it
// needs one crashes, and the fork bomb should survive to report.
func prewarmThreads(n int) {
	done := make(chan struct{})
	for i := 0; i < n; i++ {
		go func() {
			runtime.LockOSThread()
			ts := unix.NsecToTimespec(int64(20 * time.Millisecond))
			_ = unix.Nanosleep(&ts, nil)
			runtime.UnlockOSThread()
			done <- struct{}{}
		}()
	}
	for i := 0; i < n; i++ {
		<-done
	}
}

// sleepMain is a fork bomb's child: it just waits (60 s at most).
func sleepMain() { time.Sleep(60 * time.Second) }

// DemoResources are the limits each demonstration sets.
func DemoResources(kind DemoKind) (Resources, error) {
	noSwap := int64(0)
	switch kind {
	case DemoMemory:
		return Resources{MemoryMax: 48 << 20, MemorySwapMax: &noSwap, PidsMax: 64}, nil
	case DemoCPU:
		return Resources{CPUs: 0.2, PidsMax: 64}, nil
	case DemoPids:
		return Resources{PidsMax: 16, MemoryMax: 256 << 20, MemorySwapMax: &noSwap}, nil
	}
	return Resources{}, fmt.Errorf("unknown demo %q (want memory, cpu or pids)", kind)
}

// Demo runs a built-in demonstration in a new cgroup and reports what the
// kernel counted:
//   - memory: 48 MiB limit, no swap; the workload touches memory in 8 MiB
//     steps until the OOM killer kills it (SIGKILL; oom_kill counter).
//   - cpu: quota of 0.2 CPU; a 3 s busy loop gets about 0.6 s of CPU
//     (cpu.stat usage, nr_throttled).
//   - pids: pids.max 16; a fork bomb is refused (EAGAIN; pids.events max).
//
// Everything runs inside the cgroup and is killed and removed at the end
// unless WithKeep.
func Demo(ctx context.Context, kind DemoKind, opts ...DemoOption) (res *DemoResult, err error) {
	o := demoOptions{name: fmt.Sprintf("demo-%s-%d", kind, os.Getpid())}
	for _, fn := range opts {
		fn(&o)
	}
	r, err := DemoResources(kind)
	if err != nil {
		return nil, err
	}
	var cmd = reexec.Command(map[DemoKind]string{DemoMemory: memhogName, DemoCPU: spinName, DemoPids: forkbombName}[kind])
	switch kind {
	case DemoCPU:
		cmd.Args = append(cmd.Args, "3s")
	case DemoPids:
		cmd.Args = append(cmd.Args, "3s")
	}
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	c, err := New(o.name)
	if err != nil {
		return nil, err
	}
	defer func() {
		if o.keep && err == nil {
			return
		}
		if derr := c.Delete(); derr != nil && err == nil {
			err = derr
		}
	}()
	res = &DemoResult{Kind: kind, Name: c.Name(), Mode: c.Mode(), Kept: o.keep}
	for _, p := range c.dirs() {
		res.Paths = append(res.Paths, p)
	}
	res.Writes, err = c.Set(r)
	if err != nil {
		return res, err
	}
	var buf bytes.Buffer
	var w io.Writer = &buf
	if o.out != nil {
		w = io.MultiWriter(&buf, filterResult{o.out})
	}
	cmd.Stdout, cmd.Stderr = w, w
	res.Run, err = c.Run(ctx, cmd, o.run...)
	res.Output = buf.String()
	sc := bufio.NewScanner(strings.NewReader(res.Output))
	for sc.Scan() {
		if l, ok := strings.CutPrefix(sc.Text(), resultPrefix); ok {
			var v struct{ Spawned, Refused int }
			if json.Unmarshal([]byte(l), &v) == nil {
				res.Spawned, res.Refused = v.Spawned, v.Refused
			}
		}
	}
	return res, err
}

// filterResult drops the machine-readable result line from live output.
type filterResult struct{ w io.Writer }

func (f filterResult) Write(p []byte) (int, error) {
	var out []byte
	for _, l := range bytes.SplitAfter(p, []byte("\n")) {
		if !bytes.HasPrefix(l, []byte(resultPrefix)) {
			out = append(out, l...)
		}
	}
	if _, err := f.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
