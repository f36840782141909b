package reexec

import (
	"errors"
	"os/exec"
	"testing"
)

func TestExitStatus(t *testing.T) {
	if got := ExitStatus(nil); got != 0 {
		t.Errorf("nil: %d", got)
	}
	if got := ExitStatus(exec.Command("/bin/sh", "-c", "exit 42").Run()); got != 42 {
		t.Errorf("exit 42: %d", got)
	}
	if got := ExitStatus(exec.Command("/bin/sh", "-c", "kill -TERM $$").Run()); got != 128+15 {
		t.Errorf("SIGTERM: %d, want 143", got)
	}
	if got := ExitStatus(errors.New("not an exit")); got != -1 {
		t.Errorf("other error: %d", got)
	}
}

func TestCleanEnv(t *testing.T) {
	got := CleanEnv([]string{"PATH=/bin", "_CTRLAB_INITPIPE=3", "HOME=/root"})
	if len(got) != 2 || got[0] != "PATH=/bin" || got[1] != "HOME=/root" {
		t.Fatalf("CleanEnv = %v", got)
	}
}
