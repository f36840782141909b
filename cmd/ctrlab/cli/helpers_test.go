package cli

import (
	"bytes"
	"strings"

	"github.com/spf13/cobra"
)

// Shared by every command's tests: an App over buffers, and a way to run
// one command with the root's error conventions.

func testApp() (*App, *bytes.Buffer, *bytes.Buffer) { return testAppIn("") }

// testAppIn is testApp with in as standard input (interactive commands).
func testAppIn(in string) (*App, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return &App{In: strings.NewReader(in), Out: &out, ErrOut: &errOut,
		IsTTY: func() bool { return false }, StdinTTY: func() bool { return false }}, &out, &errOut
}

func runCmd(cmd *cobra.Command, args ...string) error {
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &FlagError{Err: err} })
	return cmd.Execute()
}

// testAppOnly is testApp when the test does not read the buffers.
func testAppOnly() *App { app, _, _ := testApp(); return app }
