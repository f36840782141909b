package cli

import "github.com/spf13/cobra"

// containerCmds is a placeholder until its step lands.
func containerCmds(app *App) []*cobra.Command { return nil }

// containerPID resolves a container name to the host PID of its init, for
// `ctrlab inspect NAME`. Replaced when containers land.
func containerPID(app *App, name string) (int, error) {
	return 0, flagErrorf("%q is not a PID, \"self\" or a container name", name)
}
