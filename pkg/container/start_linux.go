package container

import (
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ctrlab/ctrlab/pkg/explain"
	"github.com/ctrlab/ctrlab/pkg/reexec"
)

// Option is a knob of Start (and Run).
type Option func(*options)

type options struct {
	cgroupFD   int
	afterStart []func(pid int) error
	stdin      io.Reader
	stdout     io.Writer
	stderr     io.Writer
	explain    func(*explain.Report)
	onStarted  func(c *Container)
}

func newOptions(opts []Option) *options {
	o := &options{cgroupFD: -1}
	for _, f := range opts {
		f(o)
	}
	return o
}

// WithCgroupFD starts the init directly inside the cgroup whose directory
// is open as fd (clone3 CLONE_INTO_CGROUP, SysProcAttr.UseCgroupFD; cgroup v2 only).
func WithCgroupFD(fd int) Option { return func(o *options) { o.cgroupFD = fd } }

// WithAfterStart runs fn with the init's host PID after the init exists and
// before it sets up its rootfs and execs: the place for a cgroup v1 AddPID or
// moving a veth into /proc/PID/ns/net. An error aborts the start. Hooks run
// before the Attach handlers of cfg.Resources.
func WithAfterStart(fn func(pid int) error) Option {
	return func(o *options) { o.afterStart = append(o.afterStart, fn) }
}

// WithStdio sets the process's standard streams (nil: /dev/null). With
// Config.Terminal, Run copies them to and from the pty instead.
func WithStdio(in io.Reader, out, errw io.Writer) Option {
	return func(o *options) { o.stdin, o.stdout, o.stderr = in, out, errw }
}

// WithExplain receives a before/after report for each step as it is done
// (the cmd layer renders them). It sets Config.Explain for the init.
func WithExplain(fn func(*explain.Report)) Option { return func(o *options) { o.explain = fn } }

// Container is a started container, seen from the process that owns it.
type Container struct {
	ID       string
	Pid      int    // host PID of the container's PID 1
	PidStart uint64 // its start time (/proc/PID/stat field 22)
	cmd      *exec.Cmd
	console  *os.File

	waitOnce sync.Once
	code     int
	waitErr  error
}

// Console is the pty master when Config.Terminal is set, else nil.
func (c *Container) Console() *os.File { return c.console }

// Signal sends sig to the container's PID 1.
func (c *Container) Signal(sig os.Signal) error { return c.cmd.Process.Signal(sig) }

// Wait waits for PID 1 to exit and returns its exit code: the status it
// exited with, or 128+N when killed by signal N (as a shell reports it).
func (c *Container) Wait() (int, error) {
	c.waitOnce.Do(func() {
		err := c.cmd.Wait()
		c.code, c.waitErr = exitCode(c.cmd.ProcessState, err)
		if c.console != nil {
			c.console.Close()
		}
	})
	return c.code, c.waitErr
}

func exitCode(ps *os.ProcessState, err error) (int, error) {
	if ps == nil {
		return -1, err
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
		if ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ws.ExitStatus(), nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	return ps.ExitCode(), err
}

// Start creates the container's init with new namespaces and returns once
// the user's process runs (or Start reports why it could not). Steps:
//
//  1. clone(2) /proc/self/exe as "ctrlab-init" with CLONE_NEW* flags
//     (cgroup namespace excepted: the init unshares it after step 3),
//     Setsid, Pdeathsig SIGKILL, a socketpair as fd 3 (_CTRLAB_INITPIPE);
//  2. send cfg as JSON; the init answers "ready" and waits;
//  3. run the WithAfterStart hooks, then the Attach handlers of cfg.Resources;
//  4. send "go": the init builds its rootfs, pivots, drops privileges and
//     execs; the pipe closes on exec (O_CLOEXEC), or carries a StepError.
//
// Equivalent to: `unshare --mount --pid --fork --uts --ipc --net ...` plus
// the mounts, `pivot_root`, `capsh` and `exec` of a runtime.
func Start(ctx context.Context, cfg *Config, opts ...Option) (*Container, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Init && !selfIsStatic() {
		return nil, errors.New("--init runs ctrlab itself as PID 1 inside the rootfs, which has no dynamic loader: build ctrlab static (CGO_ENABLED=0, as `make build` does)")
	}
	o := newOptions(opts)
	cfg.Explain = o.explain != nil
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("creating the init pipe: %w", err)
	}
	parent, child := os.NewFile(uintptr(fds[0]), "initpipe"), os.NewFile(uintptr(fds[1]), "initpipe-child")
	defer parent.Close()
	defer child.Close()

	cmd := reexec.Command(InitEntrypoint)
	cmd.ExtraFiles = []*os.File{child}
	cmd.Env = []string{InitPipeEnv + "=3"}
	attr := cmd.SysProcAttr
	attr.Cloneflags = cloneFlags(cfg)
	attr.Setsid = true
	if cfg.UserNS {
		for _, m := range cfg.UIDMappings {
			attr.UidMappings = append(attr.UidMappings, syscall.SysProcIDMap{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size})
		}
		for _, m := range cfg.GIDMappings {
			attr.GidMappings = append(attr.GidMappings, syscall.SysProcIDMap{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size})
		}
		attr.GidMappingsEnableSetgroups = true
		// clone(CLONE_NEWUSER) keeps the host uid, unmapped inside: become
		// the namespace's root, or exec would grant no capabilities.
		attr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}
	if o.cgroupFD >= 0 {
		attr.UseCgroupFD, attr.CgroupFD = true, o.cgroupFD
	}
	c := &Container{ID: cfg.ID, cmd: cmd}
	// With a terminal, the init opens a pty in the container's own devpts
	// and passes the master back over a second socketpair (fd 4) with
	// SCM_RIGHTS, as runc's console socket; the slave becomes its stdio,
	// controlling terminal and /dev/console.
	var conParent, conChild *os.File
	if cfg.Terminal {
		cfds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("creating the console socket: %w", err)
		}
		conParent, conChild = os.NewFile(uintptr(cfds[0]), "console"), os.NewFile(uintptr(cfds[1]), "console-child")
		defer conParent.Close()
		defer conChild.Close()
		cmd.ExtraFiles = append(cmd.ExtraFiles, conChild)
	} else {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = o.stdin, o.stdout, o.stderr
	}
	fail := func(err error) (*Container, error) {
		if c.console != nil {
			c.console.Close()
		}
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("starting %s: %w", InitEntrypoint, err))
	}
	child.Close()
	if conChild != nil {
		conChild.Close()
	}
	c.Pid = cmd.Process.Pid
	// From here on a failure must kill and reap the init.
	abort := func(err error) (*Container, error) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fail(err)
	}
	stop := context.AfterFunc(ctx, func() { _ = cmd.Process.Kill() })
	defer stop()

	enc, dec := json.NewEncoder(parent), json.NewDecoder(parent)
	if err := enc.Encode(cfg); err != nil {
		return abort(fmt.Errorf("sending the config to %s: %w", InitEntrypoint, err))
	}
	var m message
	if err := dec.Decode(&m); err != nil || m.Type != "ready" {
		if m.Err != nil {
			return abort(m.Err)
		}
		return abort(fmt.Errorf("waiting for %s to start: %v", InitEntrypoint, orEOF(err)))
	}
	c.PidStart, _ = pidStartTime(c.Pid)
	if o.explain != nil {
		o.explain(nsReport(cfg, c.Pid))
	}
	for _, fn := range o.afterStart {
		if err := fn(c.Pid); err != nil {
			return abort(fmt.Errorf("after start: %w", err))
		}
	}
	actx := withNarrator(ctx, o.explain)
	join := &selfJoin{}
	if o.explain == nil && !cfg.UserNS {
		// --explain shows /proc/PID/cgroup after the move, so there the
		// owner moves the PID; a user-namespaced init may not write the
		// host's tasks files.
		actx = context.WithValue(actx, selfJoinKey{}, join)
	}
	if err := attachAll(actx, c.Pid, cfg.Resources); err != nil {
		return abort(err)
	}
	if err := enc.Encode(goMessage{Go: true, CgroupDirs: join.dirs}); err != nil {
		return abort(fmt.Errorf("releasing %s: %w", InitEntrypoint, err))
	}
	for {
		var m message
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break // closed on exec: the process runs
		}
		if err != nil {
			return abort(fmt.Errorf("reading from %s: %w", InitEntrypoint, err))
		}
		switch m.Type {
		case "step":
			if o.explain != nil && m.Report != nil {
				o.explain(m.Report)
			}
		case "console":
			if conParent == nil || c.console != nil {
				return abort(errors.New("unexpected console from " + InitEntrypoint))
			}
			f, err := recvFile(conParent)
			if err != nil {
				return abort(fmt.Errorf("receiving the container's pty: %w", err))
			}
			c.console = f
		case "explained":
			if err := enc.Encode(goMessage{Go: true}); err != nil {
				return abort(fmt.Errorf("releasing %s: %w", InitEntrypoint, err))
			}
		case "error":
			return abort(m.Err)
		}
	}
	if ctx.Err() != nil {
		return abort(ctx.Err())
	}
	return c, nil
}

// selfIsStatic reports whether the running binary needs no ELF interpreter
// (ld.so), so it can be executed inside any rootfs.
func selfIsStatic() bool {
	f, err := elf.Open(reexec.Self)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

func orEOF(err error) error {
	if err == nil {
		return errors.New("unexpected message")
	}
	if errors.Is(err, io.EOF) {
		return errors.New("it exited before answering")
	}
	return err
}
