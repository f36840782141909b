//go:build !linux

package overlay

import "context"

// Supported returns ErrNotImplemented: overlayfs is Linux only.
func Supported() error { return ErrNotImplemented }

// Validate returns ErrNotImplemented.
func Validate(Spec) error { return ErrNotImplemented }

// Mount returns ErrNotImplemented.
func Mount(context.Context, Spec) error { return ErrNotImplemented }

// Unmount returns ErrNotImplemented.
func Unmount(string) error { return ErrNotImplemented }

// Layers returns ErrNotImplemented.
func Layers(Spec) ([]Entry, error) { return nil, ErrNotImplemented }

// LayersAt returns ErrNotImplemented.
func LayersAt(string) ([]Entry, error) { return nil, ErrNotImplemented }

// Diff returns ErrNotImplemented.
func Diff(string, ...string) ([]Change, error) { return nil, ErrNotImplemented }

// DiffAt returns ErrNotImplemented.
func DiffAt(string) ([]Change, error) { return nil, ErrNotImplemented }

// MakeWhiteout returns ErrNotImplemented.
func MakeWhiteout(string) error { return ErrNotImplemented }

// SetOpaque returns ErrNotImplemented.
func SetOpaque(string) error { return ErrNotImplemented }

// IsWhiteout is false off Linux.
func IsWhiteout(string) bool { return false }

// IsOpaque is false off Linux.
func IsOpaque(string) bool { return false }

// ConvertOCIToOverlay returns ErrNotImplemented.
func ConvertOCIToOverlay(string, ...ConvertOption) error { return ErrNotImplemented }

// ConvertOverlayToOCI returns ErrNotImplemented.
func ConvertOverlayToOCI(string, ...ConvertOption) error { return ErrNotImplemented }

// RunDemo returns ErrNotImplemented.
func RunDemo(context.Context, DemoOptions, func(DemoStep) error) (*DemoResult, error) {
	return nil, ErrNotImplemented
}
