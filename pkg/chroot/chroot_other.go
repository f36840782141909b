//go:build !linux

package chroot

import "context"

// HasShell reports false: chroot is implemented for Linux only.
func HasShell(root string) bool { return false }

// Run returns ErrNotImplemented.
func Run(ctx context.Context, cfg Config, stdio Stdio, opts ...Option) (*Result, error) {
	return nil, ErrNotImplemented
}

// EscapeDemo returns ErrNotImplemented.
func EscapeDemo(ctx context.Context, opts ...EscapeOption) (*EscapeResult, error) {
	return nil, ErrNotImplemented
}

// MakeBusyboxRootfs returns ErrNotImplemented.
func MakeBusyboxRootfs(dir, busybox string) error { return ErrNotImplemented }
