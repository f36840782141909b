package cli

import (
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ctrlab/ctrlab/pkg/container"
)

type execOptions struct {
	Root        string
	Interactive bool
	TTY         bool
	Env         []string
	User        string
	Workdir     string
	Name        string
	Args        []string
}

func newExecCmd(app *App, runF func(*execOptions) error) *cobra.Command {
	opts := &execOptions{}
	cmd := &cobra.Command{
		Use:   "exec [-it] NAME CMD [ARG...]",
		Short: "Run a command inside a running container",
		Long: `Run a command inside a running container, joining its namespaces and cgroup.

ctrlab re-executes itself as "ctrlab-nsenter", which writes its PID to the
cgroup.procs of every cgroup listed in /proc/PID/cgroup of the container's
PID 1, opens /proc/PID/ns/{ipc,uts,net,pid,cgroup,mnt}, and calls setns(2)
on each (mount last: after it the host's /proc is out of sight; a thread
must first unshare(CLONE_FS) to be allowed to). Joining a PID namespace only
applies to children, so it then forks the command, with the container's
capabilities and no_new_privs.

Equivalent to: nsenter --target PID --all CMD (util-linux)`,
		Example: `  sudo ctrlab exec web ps
  sudo ctrlab exec -it web sh`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name, opts.Args = args[0], args[1:]
			if runF != nil {
				return runF(opts)
			}
			return execRun(cmd, app, opts)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	addRootFlag(cmd, &opts.Root)
	f.BoolVarP(&opts.Interactive, "interactive", "i", false, "keep stdin open")
	f.BoolVarP(&opts.TTY, "tty", "t", false, "allocate a pseudo-terminal")
	f.StringArrayVarP(&opts.Env, "env", "e", nil, "set an environment variable KEY=VALUE")
	f.StringVarP(&opts.User, "user", "u", "", "user: uid[:gid] or name[:group]")
	f.StringVarP(&opts.Workdir, "workdir", "w", "", "working directory inside the container")
	return cmd
}

func execRun(cmd *cobra.Command, app *App, o *execOptions) error {
	if err := requireRoot("ctrlab exec"); err != nil {
		return err
	}
	var stdin io.Reader
	if o.Interactive {
		stdin = app.In
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH)
	defer signal.Stop(sigs)
	eo := container.ExecOptions{Env: o.Env, User: o.User, Cwd: o.Workdir, Terminal: o.TTY, Signals: sigs}
	if o.TTY {
		if f, ok := app.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			eo.TerminalFD = int(f.Fd())
			if o.Interactive {
				if old, err := term.MakeRaw(eo.TerminalFD); err == nil {
					defer func() { _ = term.Restore(eo.TerminalFD, old) }()
				}
			}
		}
	}
	code, err := containerStore(o.Root).Exec(cmd.Context(), o.Name, o.Args, eo,
		container.WithStdio(stdin, app.Out, app.ErrOut))
	if err != nil {
		return err
	}
	if code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}
