package unshare

import (
	"encoding/binary"
	"io"
	"os"
	"runtime"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// startFork runs forkExec for path and returns the child's PID and the
// errno it reported for execve (0: the exec worked).
func startFork(t *testing.T, path string, argv ...string) (int, syscall.Errno) {
	t.Helper()
	p, err := syscall.BytePtrFromString(path)
	if err != nil {
		t.Fatal(err)
	}
	av, _ := syscall.SlicePtrFromStrings(argv)
	ev, _ := syscall.SlicePtrFromStrings([]string{"PATH=/usr/bin:/bin"})
	var syncP, errP [2]int
	if err := unix.Pipe2(syncP[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	if err := unix.Pipe2(errP[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	errR := os.NewFile(uintptr(errP[0]), "execerr")
	defer errR.Close()
	pid, errno := forkExec(&forkSpec{path: p, argv: &av[0], envv: &ev[0], ppid: uintptr(os.Getpid()),
		syncR: uintptr(syncP[0]), syncW: uintptr(syncP[1]), errR: uintptr(errP[0]), errW: uintptr(errP[1])})
	runtime.KeepAlive(av)
	runtime.KeepAlive(ev)
	unix.Close(syncP[0])
	unix.Close(errP[1])
	if errno != 0 {
		unix.Close(syncP[1])
		t.Fatalf("clone: %v", errno)
	}
	unix.Write(syncP[1], []byte{'g'})
	unix.Close(syncP[1])
	var b [4]byte
	if n, _ := io.ReadFull(errR, b[:]); n == 4 {
		return pid, syscall.Errno(binary.NativeEndian.Uint32(b[:]))
	}
	return pid, 0
}

func reap(t *testing.T, pid int) unix.WaitStatus {
	t.Helper()
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("wait4(%d): %v", pid, err)
		}
		return ws
	}
}

// TestForkExecReportsExecErrno runs without root (and under qemu-user for
// arm64 and arm, where clone's arguments are ordered differently): the
// forked child reports a failed execve's errno and exits 127.
func TestForkExecReportsExecErrno(t *testing.T) {
	pid, errno := startFork(t, "/nonexistent/ctrlab-no-such-file", "x")
	if errno != unix.ENOENT {
		t.Errorf("execve errno = %v, want ENOENT", errno)
	}
	if ws := reap(t, pid); !ws.Exited() || ws.ExitStatus() != 127 {
		t.Errorf("child status %v, want exit 127", ws)
	}
}

func TestForkExecRunsCommand(t *testing.T) {
	sh := "/bin/sh"
	if _, err := os.Stat(sh); err != nil {
		t.Skip("no /bin/sh")
	}
	pid, errno := startFork(t, sh, "sh", "-c", "exit 5")
	if errno != 0 {
		if errno == unix.ENOEXEC { // an emulated arch cannot exec the host's sh
			reap(t, pid)
			t.Skipf("%s is for another architecture (%v)", sh, errno)
		}
		t.Fatalf("execve %s: %v", sh, errno)
	}
	if ws := reap(t, pid); !ws.Exited() || ws.ExitStatus() != 5 {
		t.Errorf("child status %v, want exit 5", ws)
	}
}
