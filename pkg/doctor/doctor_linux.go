package doctor

import (
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"

	"golang.org/x/sys/unix"
)

// hostEnv reads the live system: "/", statfs(2), uname(2), geteuid(2), PATH.
func hostEnv() env {
	return env{
		fsys: os.DirFS("/"),
		statfs: func(p string) (int64, error) {
			var st unix.Statfs_t
			if err := unix.Statfs(p, &st); err != nil {
				return 0, &os.PathError{Op: "statfs", Path: p, Err: err}
			}
			return int64(st.Type), nil //nolint:unconvert // int32 on 32-bit arm
		},
		uname: func() (Uname, error) {
			var u unix.Utsname
			if err := unix.Uname(&u); err != nil {
				return Uname{}, err
			}
			return Uname{Machine: unix.ByteSliceToString(u.Machine[:]),
				Release: unix.ByteSliceToString(u.Release[:])}, nil
		},
		euid:     os.Geteuid,
		lookPath: exec.LookPath,
		goarch:   runtime.GOARCH,
		goarm:    buildSetting("GOARM"),
	}
}

// buildSetting reads a build setting (GOARM, GOAMD64) recorded in the binary.
func buildSetting(key string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == key {
				return s.Value
			}
		}
	}
	return ""
}
