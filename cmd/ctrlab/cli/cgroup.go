package cli

import "github.com/spf13/cobra"

// newCgroupCmd is a placeholder until its step lands.
func newCgroupCmd(app *App) *cobra.Command {
	return &cobra.Command{Use: "cgroup", Short: "Limit and account resources with cgroups", Hidden: true}
}
