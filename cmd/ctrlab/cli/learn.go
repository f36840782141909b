package cli

import "github.com/spf13/cobra"

// learnCmds is a placeholder until its step lands.
func learnCmds(app *App) []*cobra.Command { return nil }
