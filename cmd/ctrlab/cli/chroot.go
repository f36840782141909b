package cli

import "github.com/spf13/cobra"

// newChrootCmd is a placeholder until its step lands.
func newChrootCmd(app *App, runF func() error) *cobra.Command {
	return &cobra.Command{Use: "chroot ROOTFS [-- CMD...]", Short: "Change the root directory", Hidden: true}
}
