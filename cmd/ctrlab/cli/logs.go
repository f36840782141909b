package cli

import (
	"github.com/spf13/cobra"
)

type logsOptions struct {
	Root   string
	Follow bool
	Name   string
}

func newLogsCmd(app *App, runF func(*logsOptions) error) *cobra.Command {
	opts := &logsOptions{}
	cmd := &cobra.Command{
		Use:   "logs [-f] NAME",
		Short: "Print the output of a detached container",
		Long: `Print the output of a container started with -d.

A detached container is owned by a supervisor (ctrlab re-executed as
"ctrlab-shim", in its own session) whose stdout and stderr go to
container.log in the container's state directory. With -f, logs keeps
printing until the container stops.

Equivalent to: cat (or tail -f) $CTRLAB_ROOT/<id>/container.log`,
		Example: `  sudo ctrlab logs web
  sudo ctrlab logs -f web`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return containerStore(opts.Root).Logs(cmd.Context(), opts.Name, opts.Follow, app.Out)
		},
	}
	addRootFlag(cmd, &opts.Root)
	cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "keep printing until the container stops")
	return cmd
}
