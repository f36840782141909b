package cli

import "github.com/spf13/cobra"

// newNetCmd is a placeholder until its step lands.
func newNetCmd(app *App) *cobra.Command {
	return &cobra.Command{Use: "net", Short: "Wire namespaces with veth pairs and a bridge", Hidden: true}
}
