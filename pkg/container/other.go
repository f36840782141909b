//go:build !linux

package container

import (
	"context"
	"io"
	"syscall"
	"time"

	"github.com/ctrlab/ctrlab/pkg/explain"
)

// Stubs so the package builds (and `go vet` runs) on macOS: containers need Linux.

// Init is the container init.
func Init() {}

// Option is a knob of Start (and Run).
type Option func()

// WithCgroupFD needs Linux.
func WithCgroupFD(fd int) Option { return func() {} }

// WithAfterStart needs Linux.
func WithAfterStart(fn func(pid int) error) Option { return func() {} }

// WithStdio needs Linux.
func WithStdio(in io.Reader, out, errw io.Writer) Option { return func() {} }

// WithExplain needs Linux.
func WithExplain(fn func(*explain.Report)) Option { return func() {} }

// Container is a started container.
type Container struct {
	ID  string
	Pid int
}

// Start needs Linux.
func Start(ctx context.Context, cfg *Config, opts ...Option) (*Container, error) {
	return nil, ErrNotImplemented
}

// Run needs Linux.
func (s *Store) Run(ctx context.Context, cfg *Config, ro RunOptions, opts ...Option) (int, error) {
	return -1, ErrNotImplemented
}

// RunDetached needs Linux.
func (s *Store) RunDetached(ctx context.Context, cfg *Config, ro RunOptions) (*State, error) {
	return nil, ErrNotImplemented
}

// List needs Linux.
func (s *Store) List() ([]*State, error) { return nil, ErrNotImplemented }

// Exec needs Linux.
func (s *Store) Exec(ctx context.Context, name string, args []string, eo ExecOptions, opts ...Option) (int, error) {
	return -1, ErrNotImplemented
}

// Stop needs Linux.
func (s *Store) Stop(name string, timeout time.Duration) (*State, error) {
	return nil, ErrNotImplemented
}

// Kill needs Linux.
func (s *Store) Kill(name string, sig syscall.Signal) error { return ErrNotImplemented }

// Remove needs Linux.
func (s *Store) Remove(name string, force bool) error { return ErrNotImplemented }

// Logs needs Linux.
func (s *Store) Logs(ctx context.Context, name string, follow bool, w io.Writer) error {
	return ErrNotImplemented
}
