package cli

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

type stopOptions struct {
	Root    string
	Timeout int
	Names   []string
}

func newStopCmd(app *App, runF func(*stopOptions) error) *cobra.Command {
	opts := &stopOptions{}
	cmd := &cobra.Command{
		Use:   "stop [-t SECONDS] NAME...",
		Short: "Stop containers: SIGTERM, then SIGKILL",
		Long: `Stop containers: send SIGTERM to the container's PID 1, wait up to -t
seconds, then send SIGKILL.

The kernel protects a PID namespace's init: it only receives the signals it
has a handler for (SIGKILL from an ancestor namespace always works). A shell
without "trap ... TERM" as PID 1 therefore ignores SIGTERM, and stop ends
with SIGKILL (exit code 137). --init puts a reaper as PID 1 that forwards.

Equivalent to: kill -TERM PID; sleep T; kill -KILL PID`,
		Example: `  sudo ctrlab stop web
  sudo ctrlab stop -t 0 web`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			if opts.Timeout < 0 {
				return flagErrorf("-t must not be negative")
			}
			if runF != nil {
				return runF(opts)
			}
			s := containerStore(opts.Root)
			var errs []error
			for _, n := range opts.Names {
				if _, err := s.Stop(n, time.Duration(opts.Timeout)*time.Second); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(app.Out, n)
			}
			return errors.Join(errs...)
		},
	}
	addRootFlag(cmd, &opts.Root)
	cmd.Flags().IntVarP(&opts.Timeout, "time", "t", 10, "seconds to wait before SIGKILL")
	return cmd
}

type killOptions struct {
	Root   string
	Signal string
	Names  []string
	sig    syscall.Signal
}

func newKillCmd(app *App, runF func(*killOptions) error) *cobra.Command {
	opts := &killOptions{}
	cmd := &cobra.Command{
		Use:   "kill [-s SIGNAL] NAME...",
		Short: "Send a signal to a container's PID 1",
		Long: `Send a signal (default SIGKILL) to the container's PID 1 with kill(2).

Equivalent to: kill -SIGNAL PID (the host PID shown by ctrlab ps)`,
		Example: `  sudo ctrlab kill web
  sudo ctrlab kill -s HUP web`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			sig, err := parseSignal(opts.Signal)
			if err != nil {
				return err
			}
			opts.sig = sig
			if runF != nil {
				return runF(opts)
			}
			s := containerStore(opts.Root)
			var errs []error
			for _, n := range opts.Names {
				if err := s.Kill(n, sig); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(app.Out, n)
			}
			return errors.Join(errs...)
		},
	}
	addRootFlag(cmd, &opts.Root)
	cmd.Flags().StringVarP(&opts.Signal, "signal", "s", "KILL", "signal name or number")
	return cmd
}

// parseSignal accepts KILL, SIGKILL, kill or 9.
func parseSignal(s string) (syscall.Signal, error) {
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err == nil && fmt.Sprint(n) == s {
		if n <= 0 || n > 64 {
			return 0, flagErrorf("signal %d out of range", n)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	if sig == 0 {
		return 0, flagErrorf("unknown signal %q", s)
	}
	return sig, nil
}
