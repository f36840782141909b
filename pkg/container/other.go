//go:build !linux

package container

import "context"

// Stubs so the package builds (and `go vet` runs) on macOS.

// Init is the container init; containers need Linux.
func Init() {}

// Run needs Linux.
func (s *Store) Run(ctx context.Context, cfg *Config, ro RunOptions) (int, error) {
	return -1, ErrNotImplemented
}

// List needs Linux.
func (s *Store) List() ([]*State, error) { return nil, ErrNotImplemented }

// RunOptions are the lifecycle knobs of Run.
type RunOptions struct{ AutoRemove bool }
