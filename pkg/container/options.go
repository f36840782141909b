package container

import "os"

// RunOptions are the lifecycle knobs of Run (docker's --rm, -d).
type RunOptions struct {
	AutoRemove bool
	// Signals, when set, are forwarded to the container's PID 1 while Run
	// waits (SIGWINCH resizes the pty instead).
	Signals <-chan os.Signal
	// TerminalFD is the host terminal whose size the pty follows (-t).
	TerminalFD int
	// OnStarted runs once the process runs (e.g. to put the host terminal
	// in raw mode only after --explain output is done).
	OnStarted func(*Container)

	detached bool
}

// ExecOptions are the knobs of Exec (docker exec's -e -u -w -t).
type ExecOptions struct {
	Env        []string
	User       string
	Cwd        string
	Terminal   bool
	TerminalFD int
	Signals    <-chan os.Signal
}
