package cli

import "github.com/spf13/cobra"

// imageCmds is a placeholder until its step lands.
func imageCmds(app *App) []*cobra.Command { return nil }
