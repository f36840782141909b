package cli

import "github.com/spf13/cobra"

// newDoctorCmd is a placeholder until its step lands.
func newDoctorCmd(app *App, runF func() error) *cobra.Command {
	return &cobra.Command{Use: "doctor", Short: "Check what this kernel supports", Hidden: true}
}
