package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// Exit codes, as documented in `ctrlab --help`.
const (
	ExitOK         = 0
	ExitFailure    = 1
	ExitUsage      = 2
	ExitCheckFails = 3
)

// App carries the streams and global settings every command uses. Tests
// build one with NewTestApp and read what was written.
type App struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// IsTTY reports whether Out is a terminal (live views, progress bars).
	IsTTY func() bool
	// StdinTTY reports whether In is a terminal (interactive shells).
	StdinTTY func() bool
}

// NewApp returns an App wired to the process's standard streams.
func NewApp() *App {
	return &App{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		IsTTY:    func() bool { return term.IsTerminal(int(os.Stdout.Fd())) },
		StdinTTY: func() bool { return term.IsTerminal(int(os.Stdin.Fd())) },
	}
}

// FlagError is a usage error: bad flags or arguments. main exits 2.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// flagErrorf builds a FlagError.
func flagErrorf(format string, a ...any) error {
	return &FlagError{Err: fmt.Errorf(format, a...)}
}

// ExitError carries an exit code that is not an error to print (the exit
// status of a contained process, or a failed lab check already reported).
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// errSilent is returned when the command has already printed its verdict
// and only the exit status is left to set.
var errSilent = &ExitError{Code: ExitFailure}

// ExitCode prints err once (unless silent) and maps it to an exit status.
func ExitCode(app *App, err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	fmt.Fprintln(app.ErrOut, "ctrlab: "+err.Error())
	if h := hint(err); h != "" {
		fmt.Fprintln(app.ErrOut, "hint: "+h)
	}
	var fe *FlagError
	if errors.As(err, &fe) || isCobraUsage(err) {
		fmt.Fprintln(app.ErrOut, "Run 'ctrlab --help' or 'ctrlab COMMAND --help' for usage.")
		return ExitUsage
	}
	return ExitFailure
}

// hint adds the one line a learner needs for common kernel refusals.
func hint(err error) string {
	switch {
	case errors.Is(err, errNeedRoot), errors.Is(err, unix.EPERM) && os.Geteuid() != 0:
		return "this step changes kernel state and needs root: run it again with sudo"
	case errors.Is(err, unix.EPERM):
		return "the kernel refused (EPERM); check `ctrlab doctor` for the feature this needs"
	}
	return ""
}

// cobra reports unknown commands and flags as plain errors; recognise them.
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag",
		"flag needs an argument", "invalid argument", "accepts ", "requires at least", "requires exactly"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

var errNeedRoot = errors.New("this command needs root")

// requireRoot returns a clear error when the effective uid is not 0.
func requireRoot(what string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s: %w (you are uid %d)", what, errNeedRoot, os.Geteuid())
	}
	return nil
}
