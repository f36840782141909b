package reexec

import "syscall"

// sysProcAttr kills the child with SIGKILL when the parent thread dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
