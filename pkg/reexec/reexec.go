package reexec

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

var entrypoints = map[string]func(){}

// Register makes fn the entrypoint for a process whose argv[0] is name.
// It panics on a duplicate name (a programming error caught at start-up).
func Register(name string, fn func()) {
	if _, dup := entrypoints[name]; dup {
		panic(fmt.Sprintf("reexec: entrypoint %q registered twice", name))
	}
	entrypoints[name] = fn
}

// Init runs the entrypoint named by argv[0], if any, and reports whether it
// did. Entrypoints normally exit or exec themselves; if one returns, Init
// returns true and the caller must return from main.
func Init() bool {
	fn, ok := entrypoints[filepath.Base(os.Args[0])]
	if !ok {
		return false
	}
	fn()
	return true
}

// Self is the path to re-execute: the running binary as the kernel sees it.
const Self = "/proc/self/exe"

// Command returns a command that runs the entrypoint name with args. The
// child gets SIGKILL if the parent thread dies (Pdeathsig), so a killed
// ctrlab never leaves an orphaned init behind.
func Command(name string, args ...string) *exec.Cmd {
	return &exec.Cmd{
		Path:        Self,
		Args:        append([]string{name}, args...),
		SysProcAttr: sysProcAttr(),
	}
}
