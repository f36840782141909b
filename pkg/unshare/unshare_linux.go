package unshare

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ctrlab/ctrlab/pkg/ns"
	"github.com/ctrlab/ctrlab/pkg/reexec"
)

// featureSince is the first Linux version with each namespace kind.
var featureSince = map[ns.Kind]string{
	ns.Mount: "2.4.19", ns.UTS: "2.6.19", ns.IPC: "2.6.19", ns.PID: "2.6.24",
	ns.Net: "2.6.29", ns.User: "3.8", ns.Cgroup: "4.6", ns.Time: "5.6",
}

// Supported reports whether the kernel has namespace kind k, by looking
// for /proc/self/ns/KIND; the error is a *FeatureError naming the version.
func Supported(k ns.Kind) error {
	if _, err := os.Lstat(ns.Path("self", k)); err != nil {
		return &FeatureError{
			Feature: fmt.Sprintf("%s namespaces (%s)", k, k.FlagName()),
			Kernel:  featureSince[k], Running: kernelRelease(),
			Detail: ns.Path("self", k) + " is missing",
		}
	}
	if k == ns.User {
		if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && string(b) == "0\n" {
			return &FeatureError{Feature: "user namespaces (CLONE_NEWUSER)", Kernel: "3.8", Running: kernelRelease(),
				Detail: "they are switched off: sysctl user.max_user_namespaces=0"}
		}
	}
	return nil
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "?"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// Run starts cfg.Args (or ctrlab's built-in inside view) in new namespaces
// of cfg.Kinds, gathers the kernel's evidence that each one is new, runs the
// command to completion and returns the evidence with its exit status.
//
// The parent re-executes ctrlab as "ctrlab-unshare-init" with clone(2) flags
// (CLONE_NEWNS|CLONE_NEWPID|...), and for a user namespace maps root inside
// to the caller's uid and gid (uid_map "0 UID 1"). The time namespace (and
// then the PID namespace) is made by the init itself with unshare(2), and
// entered by a process it forks (see initMain); Result.Outside describes
// that process.
//
// Equivalent to: `unshare --mount --pid --fork --mount-proc ... CMD`.
func Run(ctx context.Context, cfg Config, stdio Stdio, opts ...Option) (*Result, error) {
	o := options{ready: func(*Result) error { return nil }}
	for _, opt := range opts {
		opt(&o)
	}
	if len(cfg.Kinds) == 0 {
		return nil, ErrNoNamespaces
	}
	kinds, implied := Normalize(cfg.Kinds)
	for _, k := range kinds {
		if err := Supported(k); err != nil {
			return nil, err
		}
	}
	cfg.Kinds = kinds
	if cfg.Hostname == "" {
		cfg.Hostname = DefaultHostname
	}
	has := map[ns.Kind]bool{}
	for _, k := range kinds {
		has[k] = true
	}
	res := &Result{Kinds: kinds, Command: cfg.Args, implicitNS: implied,
		monotonic: cfg.MonotonicOffset, boottime: cfg.BoottimeOffset, hostname: cfg.Hostname}
	ic := initConfig{Config: cfg}

	if has[ns.Mount] {
		dir, err := os.MkdirTemp("", "ctrlab-unshare-")
		if err != nil {
			return nil, fmt.Errorf("creating the demo mount point: %w", err)
		}
		defer os.Remove(dir)
		ic.DemoMount, res.DemoMount = dir, dir
	}
	if has[ns.IPC] {
		var b [2]byte
		_, _ = rand.Read(b[:])
		ic.MsgKey = 0x63740000 | int(binary.BigEndian.Uint16(b[:])) // "ct" + random
		res.MsgQueue = ic.MsgKey
	}
	res.Host = readView("self")

	var flags uintptr
	for _, k := range kinds {
		switch {
		case k == ns.Time: // made by the init with unshare(2), see initMain
		case k == ns.PID && has[ns.Time]:
			// Made with the time namespace, so the init's forked child is
			// PID 1 of it and in the new time namespace.
			ic.UnsharePID = true
		default:
			flags |= k.CloneFlag()
		}
	}
	c, err := reexec.Start(ctx, initName, func(cmd *exec.Cmd) error {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.In, stdio.Out, stdio.Err
		cmd.SysProcAttr.Cloneflags = flags
		if has[ns.User] {
			cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
			cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
			cmd.SysProcAttr.GidMappingsEnableSetgroups = false
		}
		if startHook != nil {
			return startHook()
		}
		return nil
	})
	if err != nil {
		return nil, &CloneError{Flags: ns.FlagString(ns.Flags(kinds)), Err: unwrapStart(err)}
	}
	defer c.Close()
	if err := c.Send(ic); err != nil {
		return nil, fmt.Errorf("sending config to the init: %w", err)
	}
	// With a time namespace the init forks: the process in the namespaces
	// is its child, whose PID comes first.
	pid := c.Cmd.Process.Pid
	var m message
	err = c.Recv(&m)
	if err == nil && m.Child != 0 {
		pid = m.Child
		m = message{}
		err = c.Recv(&m)
	}
	if err != nil || m.View == nil {
		werr := c.Wait()
		if m.Err != nil {
			return nil, m.Err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("reading the init's evidence: %v (init: %v)", err, werr)
	}
	res.Inside = *m.View

	out := &res.Outside
	out.HostPID = pid
	res.initPID = c.Cmd.Process.Pid
	out.Inodes, _ = ns.Inodes(strconv.Itoa(pid))
	out.NSPid = statusField(pid, "NSpid")
	if u := statusField(pid, "Uid"); u != "" {
		fmt.Sscan(u, &out.UID)
	}
	out.Cgroup = lines(fmt.Sprintf("/proc/%d/cgroup", pid))
	out.HostnameAfter = hostname()
	if res.DemoMount != "" {
		out.DemoMountOnHost = mountedAt("/proc/self/mountinfo", res.DemoMount)
	}
	if res.MsgQueue != 0 {
		out.MsgQueueOnHost = containsInt(msgQueueKeys(), res.MsgQueue)
	}
	out.HostUptimeAfter = uptime()
	res.Report = buildReport(res)
	res.Report.Equiv(Equivalent(cfg))

	if err := c.Go(func() error { return o.ready(res) }); err != nil {
		return nil, err
	}
	var done message
	if res.ExitCode, err = c.Finish(&done); done.Err != nil {
		return res, done.Err
	}
	return res, err
}

// startHook runs on the forking thread just before the init is started
// (tests use it to place that thread in a cgroup).
var startHook func() error

func unwrapStart(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
