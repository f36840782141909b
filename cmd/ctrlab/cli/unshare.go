package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctrlab/ctrlab/pkg/ns"
	"github.com/ctrlab/ctrlab/pkg/unshare"
)

type unshareOptions struct {
	Names           []string
	All             bool
	Hostname        string
	MonotonicOffset time.Duration
	BoottimeOffset  time.Duration
	JSON            bool
	Command         []string

	kinds []ns.Kind // parsed from Names/All
}

// defaultTimeOffset makes `ctrlab unshare time` show a visible shift.
const defaultTimeOffset = 24 * time.Hour

func newUnshareCmd(app *App, runF func(*unshareOptions) error) *cobra.Command {
	opts := &unshareOptions{}
	cmd := &cobra.Command{
		Use:   "unshare NS... [--all] [-- CMD...]",
		Short: "Run a command in new namespaces and show the kernel's proof",
		Long: `Run a command in new namespaces and print the evidence, read from the kernel,
that each namespace is new.

A namespace wraps one global resource so that the processes inside see their
own copy: mount (the mount table), pid (process numbers), net (interfaces,
routes), ipc (SysV queues), uts (hostname), user (uids and capabilities),
cgroup (the cgroup tree's root) and time (CLOCK_MONOTONIC and CLOCK_BOOTTIME).

ctrlab re-executes itself with clone(2) flags (CLONE_NEWPID, CLONE_NEWNS, ...),
sets each namespace up inside, then reports for every kind its inode seen from
the host and from inside (readlink /proc/PID/ns/KIND), plus one proof: PID 1
inside and a fresh /proc, a hostname the host does not see, a tmpfs mount the
host's mountinfo does not list, only "lo" (down) in a new network, a SysV
message queue invisible outside, the uid map, "/" as cgroup root, and shifted
clocks in /proc/uptime. Then it runs CMD.

Without CMD it starts /bin/sh when stdin is a terminal, and otherwise prints
the processes, hostname and ids seen inside. A new pid namespace brings a new
mount namespace with it, to mount the fresh /proc (as unshare --mount-proc).

Every kind needs root except user, which unprivileged users may create where
the kernel allows it (root inside is mapped to your own uid).
The exit status is the command's.`,
		Example: `  sudo ctrlab unshare pid                  # ps inside sees only PID 1
  sudo ctrlab unshare uts --hostname box -- hostname
  sudo ctrlab unshare net -- ip link       # only lo, DOWN
  sudo ctrlab unshare time --boottime-offset 240h -- cat /proc/uptime
  ctrlab unshare user -- id                # unprivileged: uid 0 inside
  sudo ctrlab unshare --all -- true`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dash := cmd.ArgsLenAtDash(); dash >= 0 {
				opts.Names, opts.Command = args[:dash], args[dash:]
				if len(opts.Command) == 0 {
					return flagErrorf("nothing after --: give a command, or drop the --")
				}
			} else {
				opts.Names = args
			}
			if err := opts.validate(cmd); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return unshareRun(cmd.Context(), app, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.All, "all", false, "create all eight kinds: "+ns.ValidNames())
	f.StringVar(&opts.Hostname, "hostname", "", "hostname to set inside the new uts namespace (default \"ctrlab\")")
	f.DurationVar(&opts.MonotonicOffset, "monotonic-offset", 0, "shift CLOCK_MONOTONIC inside the new time namespace (e.g. 1h)")
	f.DurationVar(&opts.BoottimeOffset, "boottime-offset", 0, "shift CLOCK_BOOTTIME (/proc/uptime) inside the new time namespace (default 24h when no offset is given)")
	f.BoolVar(&opts.JSON, "json", false, "print the evidence as JSON (after the command ends)")
	return cmd
}

func (o *unshareOptions) validate(cmd *cobra.Command) error {
	if o.All {
		if len(o.Names) > 0 {
			return flagErrorf("give namespace names or --all, not both")
		}
		o.kinds = append([]ns.Kind(nil), ns.All...)
	} else {
		if len(o.Names) == 0 {
			return flagErrorf("name at least one namespace (valid: %s) or use --all", ns.ValidNames())
		}
		k, err := ns.ParseList(o.Names)
		if err != nil {
			return &FlagError{Err: err}
		}
		o.kinds = k
	}
	has := func(k ns.Kind) bool {
		for _, x := range o.kinds {
			if x == k {
				return true
			}
		}
		return false
	}
	if cmd.Flags().Changed("hostname") && !has(ns.UTS) {
		return flagErrorf("--hostname needs the uts namespace: add 'uts'")
	}
	if (cmd.Flags().Changed("monotonic-offset") || cmd.Flags().Changed("boottime-offset")) && !has(ns.Time) {
		return flagErrorf("--monotonic-offset and --boottime-offset need the time namespace: add 'time'")
	}
	if has(ns.Time) && !cmd.Flags().Changed("monotonic-offset") && !cmd.Flags().Changed("boottime-offset") {
		o.BoottimeOffset = defaultTimeOffset
	}
	if has(ns.UTS) && o.Hostname == "" {
		o.Hostname = unshare.DefaultHostname
	}
	return nil
}

func unshareRun(ctx context.Context, app *App, o *unshareOptions) error {
	userOnly := false
	for _, k := range o.kinds {
		if k == ns.User {
			userOnly = true // the user namespace grants the rest, where allowed
		}
	}
	if !userOnly {
		if err := requireRoot("ctrlab unshare " + kindList(o.kinds)); err != nil {
			return err
		}
	}
	cfg := unshare.Config{
		Kinds: o.kinds, Hostname: o.Hostname, Args: o.Command,
		MonotonicOffset: o.MonotonicOffset, BoottimeOffset: o.BoottimeOffset,
	}
	interactive := false
	if len(cfg.Args) == 0 {
		if app.StdinTTY() && !o.JSON {
			cfg.Args, interactive = []string{"/bin/sh"}, true
		} else {
			cfg.Quiet = o.JSON
		}
	}
	if interactive {
		// Ctrl-C belongs to the shell, not to ctrlab.
		ctx = context.WithoutCancel(ctx)
	}
	stdio := unshare.Stdio{In: app.In, Out: app.Out, Err: app.ErrOut}
	var opts []unshare.Option
	if !o.JSON {
		opts = append(opts, unshare.WithReady(func(r *unshare.Result) error {
			if err := renderStep(app.Out, r.Report); err != nil {
				return err
			}
			if interactive {
				fmt.Fprintln(app.ErrOut, "starting /bin/sh inside; type 'exit' to leave the namespaces")
			}
			return nil
		}))
	}
	res, err := unshare.Run(ctx, cfg, stdio, opts...)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return &ExitError{Code: 130} // interrupted, as a shell reports it
		}
		if errors.Is(err, unshare.ErrCommandNotFound) {
			fmt.Fprintln(app.ErrOut, "ctrlab: "+err.Error())
			return &ExitError{Code: 127}
		}
		return err
	}
	if o.JSON {
		if err := writeJSON(app.Out, res); err != nil {
			return err
		}
	}
	if res.ExitCode != 0 {
		return &ExitError{Code: res.ExitCode}
	}
	return nil
}

func kindList(kinds []ns.Kind) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, " ")
}
