package reexec

import (
	"errors"
	"os/exec"
	"strings"
	"syscall"
)

// EnvPrefix starts the names of the environment variables ctrlab uses to
// talk to its re-exec'd children (_CTRLAB_INITPIPE, ...).
const EnvPrefix = "_CTRLAB_"

// CleanEnv returns env without ctrlab's own _CTRLAB_* variables, so the
// user's command never sees them.
func CleanEnv(env []string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, EnvPrefix) {
			out = append(out, e)
		}
	}
	return out
}

// ExitStatus maps the error of exec.Cmd.Wait or Run to a shell-style exit
// status: 0 for nil, the process's code, 128+N when signal N killed it, and
// -1 when err is not about the process's exit at all.
func ExitStatus(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return -1
}
