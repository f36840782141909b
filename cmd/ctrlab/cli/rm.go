package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

type rmOptions struct {
	Root  string
	Force bool
	Names []string
}

func newRmCmd(app *App, runF func(*rmOptions) error) *cobra.Command {
	opts := &rmOptions{}
	cmd := &cobra.Command{
		Use:   "rm [-f] NAME...",
		Short: "Remove containers and everything they hold",
		Long: `Remove stopped containers: release every resource recorded in the
container's state (mounts, cgroups, veths, leases, in reverse order) and
delete its state directory. With -f a running container is SIGKILLed first.

Resources are recorded before they are made, so rm also cleans up after a
ctrlab that was SIGKILLed half-way through.`,
		Example: `  sudo ctrlab rm web
  sudo ctrlab rm -f web`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			if runF != nil {
				return runF(opts)
			}
			s := containerStore(opts.Root)
			var errs []error
			for _, n := range opts.Names {
				if err := s.Remove(n, opts.Force); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(app.Out, n)
			}
			return errors.Join(errs...)
		},
	}
	addRootFlag(cmd, &opts.Root)
	cmd.Flags().BoolVarP(&opts.Force, "force", "f", false, "kill a running container first")
	return cmd
}
