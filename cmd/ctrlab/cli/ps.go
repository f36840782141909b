package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctrlab/ctrlab/pkg/container"
)

type psOptions struct {
	Root string
	All  bool
	JSON bool
}

func newPsCmd(app *App, runF func(*psOptions) error) *cobra.Command {
	opts := &psOptions{}
	cmd := &cobra.Command{
		Use:   "ps [-a]",
		Short: "List containers",
		Long: `List containers from the state directory (one state.json per container).

A container's state records the PID of its PID 1 and that process's start
time (field 22 of /proc/PID/stat), so a reused PID is never mistaken for it,
and the PID of its owner (the foreground ctrlab run, or the detached shim).
If the owner died without recording an exit (ctrlab was SIGKILLed), ps
notices, releases what the container held (mounts, cgroups, links) and
shows it as dead.`,
		Example: `  sudo ctrlab ps
  sudo ctrlab ps -a --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return psRun(app, opts)
		},
	}
	addRootFlag(cmd, &opts.Root)
	cmd.Flags().BoolVarP(&opts.All, "all", "a", false, "show stopped containers too")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the states as JSON")
	return cmd
}

func psRun(app *App, o *psOptions) error {
	all, err := containerStore(o.Root).List()
	if err != nil {
		return err
	}
	var shown []*container.State
	for _, st := range all {
		if o.All || st.Status == container.Running {
			shown = append(shown, st)
		}
	}
	if o.JSON {
		if shown == nil {
			shown = []*container.State{}
		}
		return writeJSON(app.Out, shown)
	}
	t := newTable(app.Out, "container id", "name", "pid", "status", "command", "created")
	for _, st := range shown {
		pid := "-"
		if st.Status == container.Running {
			pid = fmt.Sprint(st.Pid)
		}
		if err := t.row(st.ID, st.Name, pid, statusText(st), shortCmd(st.Config.Args), ago(st.Created)); err != nil {
			return err
		}
	}
	return t.render()
}

func statusText(st *container.State) string {
	switch st.Status {
	case container.Stopped:
		return fmt.Sprintf("exited (%d) %s", st.ExitCode, ago(st.Finished))
	case container.Running:
		return "running " + strings.TrimSuffix(ago(st.Started), " ago")
	}
	return string(st.Status)
}

func shortCmd(args []string) string {
	s := strings.Join(args, " ")
	if len(s) > 30 {
		s = s[:27] + "..."
	}
	return s
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := time.Since(t).Round(time.Second)
	return d.String() + " ago"
}
