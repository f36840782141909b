//go:build !linux

package image

import (
	"context"
	"io"
)

// UnpackLayer is only implemented on Linux.
func UnpackLayer(ctx context.Context, r io.Reader, dir string, opts ...UnpackOption) (*UnpackStats, error) {
	return nil, ErrNotImplemented
}
