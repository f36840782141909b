//go:build !linux

package doctor

import (
	"os"
	"os/exec"
	"runtime"
)

// hostEnv on a non-Linux system: every kernel check reports what is missing.
func hostEnv() env {
	return env{
		fsys:     os.DirFS("/"),
		statfs:   func(string) (int64, error) { return 0, errNoStatfs },
		uname:    func() (Uname, error) { return Uname{Machine: runtime.GOARCH}, errNoStatfs },
		euid:     os.Geteuid,
		lookPath: exec.LookPath,
		goarch:   runtime.GOARCH,
	}
}
