package cli

import (
	"os"

	"github.com/spf13/cobra"
)

// learnCmds returns the "Learn and practise" commands. The labs step adds
// its commands (lab, check) to this list.
func learnCmds(app *App) []*cobra.Command {
	return []*cobra.Command{
		newLessonCmd(app, nil),
		newQuizCmd(app, nil),
		// labs: newLabCmd(app, nil), newCheckCmd(app, nil),
	}
}

// useColor reports whether learning output may use ANSI styles: stdout is a
// terminal, NO_COLOR is unset (https://no-color.org) and TERM is not dumb.
func useColor(app *App) bool {
	if _, ok := os.LookupEnv("NO_COLOR"); ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	return app.IsTTY != nil && app.IsTTY()
}
