package cli

import "github.com/spf13/cobra"

// newUnshareCmd is a placeholder until its step lands.
func newUnshareCmd(app *App, runF func() error) *cobra.Command {
	return &cobra.Command{Use: "unshare NS... [-- CMD...]", Short: "Run a command in new namespaces", Hidden: true}
}
