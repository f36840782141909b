//go:build !linux

package reexec

import "syscall"

// sysProcAttr: Pdeathsig exists only on Linux.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
