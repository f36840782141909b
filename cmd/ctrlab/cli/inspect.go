package cli

import "github.com/spf13/cobra"

// newInspectCmd is a placeholder until its step lands.
func newInspectCmd(app *App, runF func() error) *cobra.Command {
	return &cobra.Command{Use: "inspect PID|self", Short: "Show the kernel view of one process", Hidden: true}
}
