//go:build !linux

package unshare

import (
	"context"

	"github.com/ctrlab/ctrlab/pkg/ns"
)

// Supported reports ErrNotImplemented: namespaces exist only on Linux.
func Supported(k ns.Kind) error { return ErrNotImplemented }

// Run returns ErrNotImplemented: namespaces exist only on Linux.
func Run(ctx context.Context, cfg Config, stdio Stdio, opts ...Option) (*Result, error) {
	return nil, ErrNotImplemented
}
