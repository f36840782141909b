package cgroup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ctrlab/ctrlab/pkg/reexec"
)

// shimName is the re-exec entrypoint that holds a v1 child still until its
// pid is in the cgroup, then execs the real command.
const shimName = "ctrlab-cgroup-shim"

const shimEnv = "_CTRLAB_CGROUP_SHIMFD"

func init() { reexec.Register(shimName, shimMain) }

// shimMain waits for one byte on the pipe named by _CTRLAB_CGROUP_SHIMFD
// (sent once the parent has written our pid to cgroup.procs), then execs
// argv[1:]. EOF without the byte means the parent gave up: exit 127.
func shimMain() {
	fd, err := strconv.Atoi(os.Getenv(shimEnv))
	if err != nil || len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "ctrlab-cgroup-shim: not started by ctrlab")
		os.Exit(127)
	}
	var b [1]byte
	for {
		n, err := unix.Read(fd, b[:])
		if err == unix.EINTR {
			continue
		}
		if n != 1 {
			os.Exit(127)
		}
		break
	}
	_ = unix.Close(fd)
	env := make([]string, 0, len(os.Environ()))
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, shimEnv+"=") {
			env = append(env, e)
		}
	}
	err = unix.Exec(os.Args[1], os.Args[2:], env)
	fmt.Fprintf(os.Stderr, "ctrlab: executing %s: %v\n", os.Args[1], err)
	os.Exit(127)
}

// Start starts cmd already inside the cgroup, so none of its work happens
// outside it. On v2 the kernel places the child at clone time
// (clone3(2) with CLONE_INTO_CGROUP, via SysProcAttr.UseCgroupFD). On v1,
// or a v2 kernel older than 5.7, the child starts as ctrlab's shim, which
// waits on a pipe until its pid has been written to cgroup.procs and only
// then execs cmd.
func (c *Cgroup) Start(cmd *exec.Cmd) error {
	if cmd.Err != nil {
		return cmd.Err
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	f, ok, err := c.FD()
	if err != nil {
		return err
	}
	if ok {
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(f.Fd())
		err := cmd.Start()
		f.Close()
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("starting %s in cgroup %s: %w", cmd.Path, c.name, err)
		}
		// clone3 or CLONE_INTO_CGROUP unsupported: fall back to the shim.
		cmd.SysProcAttr.UseCgroupFD = false
		cmd.SysProcAttr.CgroupFD = 0
		cmd.Process = nil
	}
	return c.startShim(cmd)
}

func (c *Cgroup) startShim(cmd *exec.Cmd) error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("creating the start pipe: %w", err)
	}
	defer r.Close()
	defer w.Close()
	path, args := cmd.Path, cmd.Args
	if len(args) == 0 {
		args = []string{path}
	}
	cmd.Path = reexec.Self
	cmd.Args = append([]string{shimName, path}, args...)
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(append([]string{}, env...), fmt.Sprintf("%s=%d", shimEnv, 3+len(cmd.ExtraFiles)))
	cmd.ExtraFiles = append(cmd.ExtraFiles, r)
	err = cmd.Start()
	// Restore what the caller sees.
	cmd.Path, cmd.Args = path, args
	cmd.ExtraFiles = cmd.ExtraFiles[:len(cmd.ExtraFiles)-1]
	if err != nil {
		return fmt.Errorf("starting %s in cgroup %s: %w", path, c.name, err)
	}
	if err := c.AddPID(cmd.Process.Pid); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("moving pid %d into cgroup %s: %w", cmd.Process.Pid, c.name, err)
	}
	if _, err := w.Write([]byte{'g'}); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("releasing pid %d: %w", cmd.Process.Pid, err)
	}
	return nil
}

// ShellCode is the status a shell would report: the exit code, or
// 128+signal number.
func (r *RunResult) ShellCode() int {
	if r.ExitCode >= 0 {
		return r.ExitCode
	}
	for i := 1; i < 65; i++ {
		if unix.SignalName(syscall.Signal(i)) == r.Signal {
			return 128 + i
		}
	}
	return 128
}

// Run starts cmd inside the cgroup (see Start), waits for it, and returns
// its exit status and the cgroup's final accounting. Cancelling ctx kills
// the command. The cgroup is left in place: Delete it when done.
func (c *Cgroup) Run(ctx context.Context, cmd *exec.Cmd, opts ...RunOption) (*RunResult, error) {
	var o runOptions
	for _, fn := range opts {
		fn(&o)
	}
	begin := time.Now()
	if err := c.Start(cmd); err != nil {
		return nil, err
	}
	res := &RunResult{Pid: cmd.Process.Pid}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", res.Pid)); err == nil {
		res.ProcCgroup = strings.TrimSpace(string(b))
	}
	if o.onStart != nil {
		o.onStart(res.Pid)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var tick <-chan time.Time
	if o.onTick != nil && o.every > 0 {
		t := time.NewTicker(o.every)
		defer t.Stop()
		tick = t.C
	}
	var werr error
wait:
	for {
		select {
		case werr = <-done:
			break wait
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			werr = <-done
			break wait
		case <-tick:
			if s, err := c.Stats(); err == nil {
				o.onTick(s, time.Since(begin))
			}
		}
	}
	res.WallUsec = time.Since(begin).Microseconds()
	res.ExitCode = 0
	var ee *exec.ExitError
	switch {
	case werr == nil:
	case errors.As(werr, &ee):
		ws, _ := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			res.ExitCode = -1
			res.Signal = unix.SignalName(ws.Signal())
		} else {
			res.ExitCode = ws.ExitStatus()
		}
	default:
		return res, fmt.Errorf("waiting for pid %d: %w", res.Pid, werr)
	}
	s, err := c.Stats()
	if err != nil {
		return res, err
	}
	res.Stats = s
	return res, nil
}
