package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ctrlab/ctrlab/pkg/chroot"
)

type chrootOptions struct {
	Root       string
	Command    []string
	EscapeDemo bool
	JSON       bool
}

func newChrootCmd(app *App, runF func(*chrootOptions) error) *cobra.Command {
	opts := &chrootOptions{}
	cmd := &cobra.Command{
		Use:   "chroot ROOTFS [--escape-demo] [-- CMD...]",
		Short: "Run a command with its root directory changed (and see why that is not enough)",
		Long: `Run a command with its root directory changed to ROOTFS: the first step of
every container, and the oldest (1979).

ctrlab re-executes itself, calls chroot(2) and chdir("/"), then execs CMD,
looked up inside ROOTFS. It prints the root and working directory of the
process before and after, as the kernel shows them in /proc/PID/root and
/proc/PID/cwd, and what "ls /" shows inside.

Without CMD it starts /bin/sh when ROOTFS has one and stdin is a terminal;
otherwise it prints the view from inside (pwd and ls /) without copying
anything into ROOTFS: the ctrlab process is already loaded when it chroots.

chroot changes only where path lookups start. Mounts, processes, network and
users are still the host's, and a root process can walk out: --escape-demo
builds a throw-away busybox rootfs, escapes it the classic way (mkdir x;
chroot x; chdir("..") repeatedly; chroot(".")) and reads a file that exists
only outside. Real runtimes use pivot_root(2) in a new mount namespace.

Needs root (CAP_SYS_CHROOT).`,
		Example: `  sudo ctrlab chroot /srv/rootfs -- /bin/ls /
  sudo ctrlab chroot /srv/rootfs            # a shell inside, if stdin is a terminal
  sudo ctrlab chroot --escape-demo          # watch root walk out of a chroot`,
		RunE: func(cmd *cobra.Command, args []string) error {
			pos, rest := args, []string(nil)
			if dash := cmd.ArgsLenAtDash(); dash >= 0 {
				pos, rest = args[:dash], args[dash:]
				if len(rest) == 0 {
					return flagErrorf("nothing after --: give a command, or drop the --")
				}
			}
			switch {
			case opts.EscapeDemo && (len(pos) > 0 || len(rest) > 0):
				return flagErrorf("--escape-demo builds its own rootfs: give no ROOTFS or command")
			case !opts.EscapeDemo && len(pos) == 0:
				return flagErrorf("give the directory to use as the new root: ctrlab chroot ROOTFS [-- CMD...]")
			case !opts.EscapeDemo && len(pos) > 1:
				return flagErrorf("one ROOTFS only; put the command after --: ctrlab chroot %s -- %s", pos[0], pos[1])
			}
			if len(pos) == 1 {
				opts.Root = pos[0]
			}
			opts.Command = rest
			if runF != nil {
				return runF(opts)
			}
			return chrootRun(cmd.Context(), app, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.EscapeDemo, "escape-demo", false, "escape a throw-away chroot the classic way, to show chroot is not a boundary")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the evidence as JSON")
	return cmd
}

func chrootRun(ctx context.Context, app *App, o *chrootOptions) error {
	if err := requireRoot("ctrlab chroot"); err != nil {
		return err
	}
	if o.EscapeDemo {
		res, err := chroot.EscapeDemo(ctx)
		if err != nil {
			return err
		}
		if o.JSON {
			return writeJSON(app.Out, res)
		}
		if err := renderStep(app.Out, res.Report); err != nil {
			return err
		}
		if !res.Escaped {
			return errSilent
		}
		return nil
	}
	cfg := chroot.Config{Root: o.Root, Args: o.Command}
	if len(cfg.Args) == 0 && !o.JSON && app.StdinTTY() && chroot.HasShell(o.Root) {
		cfg.Args = []string{"/bin/sh"}
		ctx = context.WithoutCancel(ctx) // Ctrl-C belongs to the shell
	}
	var opts []chroot.Option
	if !o.JSON {
		opts = append(opts, chroot.WithReady(func(r *chroot.Result) error { return renderStep(app.Out, r.Report) }))
	}
	stdio := chroot.Stdio{In: app.In, Out: app.Out, Err: app.ErrOut}
	if o.JSON && len(cfg.Args) == 0 {
		stdio.Out = app.ErrOut // keep stdout pure JSON; the view is in the result
	}
	res, err := chroot.Run(ctx, cfg, stdio, opts...)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return &ExitError{Code: 130}
		}
		if errors.Is(err, chroot.ErrCommandNotFound) {
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
