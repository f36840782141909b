package cli

import "github.com/spf13/cobra"

// newOverlayCmd is a placeholder until its step lands.
func newOverlayCmd(app *App) *cobra.Command {
	return &cobra.Command{Use: "overlay", Short: "Stack image layers with overlayfs", Hidden: true}
}
