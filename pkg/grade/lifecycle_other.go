//go:build !linux

package grade

import (
	"context"
	"io"
)

// Start is not available off Linux.
func Start(context.Context, *Lab, io.Writer) error { return ErrNotImplemented }

// Solve is not available off Linux.
func Solve(context.Context, *Lab, io.Writer) error { return ErrNotImplemented }

// Reset is not available off Linux.
func Reset(context.Context, *Lab) ([]string, error) { return nil, ErrNotImplemented }
