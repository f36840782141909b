package unshare

import (
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The runtime's own fork hooks, as package syscall uses them around its
// clone(2): BeforeFork blocks signals and arms a stack-growth trap,
// AfterFork undoes that in the parent, AfterForkInChild resets Go's signal
// handlers to SIG_DFL and restores the signal mask in the child. The runtime
// keeps these signatures for outside users (go.dev/issue/67401).

//go:linkname runtimeBeforeFork syscall.runtime_BeforeFork
func runtimeBeforeFork()

//go:linkname runtimeAfterFork syscall.runtime_AfterFork
func runtimeAfterFork()

//go:linkname runtimeAfterForkInChild syscall.runtime_AfterForkInChild
func runtimeAfterForkInChild()

// forkSpec is everything the child of forkExec needs, prepared before the
// fork: after it the child may not allocate or call into the Go runtime.
type forkSpec struct {
	path  *byte
	argv  **byte
	envv  **byte
	ppid  uintptr // the child exits if getppid() differs (0 in a new PID namespace)
	syncR uintptr // the child execs only after reading one byte here
	syncW uintptr // closed in the child, so a dead parent reads as EOF
	errW  uintptr // O_CLOEXEC: the child writes its execve errno here
	errR  uintptr // closed in the child
}

// forkExec creates a process with a plain fork, clone(SIGCHLD) with no
// CLONE_VM, that sets PR_SET_PDEATHSIG, waits for the go-ahead on syncR and
// execs spec.path. A task whose time_for_children differs from its own time
// namespace may not share its memory with a child (the kernel refuses
// CLONE_VM and CLONE_THREAD with EINVAL), which rules out os/exec's
// CLONE_VM|CLONE_VFORK; a forked child enters the new time namespace.
//
// Equivalent to: fork() then execve() in C (as util-linux `unshare --fork`).
//
//go:noinline
//go:norace
//go:nocheckptr
func forkExec(spec *forkSpec) (pid int, errno syscall.Errno) {
	a1, a2 := uintptr(syscall.SIGCHLD), uintptr(0) // flags, new stack (none: copy ours)
	if runtime.GOARCH == "s390x" {
		a1, a2 = a2, a1 // clone(stack, flags) there
	}
	// From here on: no allocation, no stack growth, raw syscalls only.
	runtimeBeforeFork()
	r1, _, e := syscall.RawSyscall6(unix.SYS_CLONE, a1, a2, 0, 0, 0, 0)
	if e != 0 || r1 != 0 {
		runtimeAfterFork()
		return int(r1), e
	}

	// In the child, a copy of this thread alone.
	runtimeAfterForkInChild()
	syscall.RawSyscall(unix.SYS_CLOSE, spec.syncW, 0, 0)
	syscall.RawSyscall(unix.SYS_CLOSE, spec.errR, 0, 0)
	if _, _, e = syscall.RawSyscall(unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0); e != 0 {
		goto fail
	}
	if p, _, _ := syscall.RawSyscall(unix.SYS_GETPPID, 0, 0, 0); p != spec.ppid {
		syscall.RawSyscall(unix.SYS_EXIT_GROUP, 1, 0, 0) // the parent already died
	}
	{
		var b [1]byte
		if n, _, _ := syscall.RawSyscall(unix.SYS_READ, spec.syncR, uintptr(unsafe.Pointer(&b[0])), 1); n != 1 {
			syscall.RawSyscall(unix.SYS_EXIT_GROUP, 1, 0, 0) // no go-ahead: the parent died
		}
	}
	_, _, e = syscall.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(spec.path)),
		uintptr(unsafe.Pointer(spec.argv)), uintptr(unsafe.Pointer(spec.envv)))
fail:
	{
		errno := uint32(e)
		syscall.RawSyscall(unix.SYS_WRITE, spec.errW, uintptr(unsafe.Pointer(&errno)), unsafe.Sizeof(errno))
	}
	for {
		syscall.RawSyscall(unix.SYS_EXIT_GROUP, 127, 0, 0)
	}
}
