//go:build !linux

package overlay

import "context"

// Entry is one path of an overlay stack (see the Linux build).
type Entry struct {
	Path       string   `json:"path"`
	Type       string   `json:"type"`
	Layer      string   `json:"layer"`
	LayerIndex int      `json:"layerIndex"`
	LayerDir   string   `json:"layerDir"`
	Size       int64    `json:"size"`
	Inode      uint64   `json:"inode"`
	Whiteout   bool     `json:"whiteout,omitempty"`
	Opaque     bool     `json:"opaque,omitempty"`
	Below      []string `json:"below,omitempty"`
}

// Change is one difference an upper directory holds (see the Linux build).
type Change struct {
	Kind     string `json:"kind"`
	Path     string `json:"path"`
	Whiteout bool   `json:"whiteout,omitempty"`
	Opaque   bool   `json:"opaque,omitempty"`
	Dir      bool   `json:"dir,omitempty"`
}

func (c Change) String() string { return c.Kind + " " + c.Path }

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

// DemoOptions configure RunDemo (see the Linux build).
type DemoOptions struct {
	Dir  string
	Keep bool
}

// Fact is one observation of a demo step.
type Fact struct {
	Item  string `json:"item"`
	Value string `json:"value"`
}

// DemoStep is one action of the demo (see the Linux build).
type DemoStep struct {
	Title     string   `json:"title"`
	Action    string   `json:"action"`
	Explain   []string `json:"explain"`
	Facts     []Fact   `json:"facts"`
	Layers    []Entry  `json:"layers"`
	Mountinfo string   `json:"mountinfo"`
}

// DemoResult is the whole demo (see the Linux build).
type DemoResult struct {
	Workspace  string     `json:"workspace"`
	Spec       Spec       `json:"spec"`
	LayerNames []string   `json:"layerNames"`
	Equivalent string     `json:"equivalent"`
	Steps      []DemoStep `json:"steps"`
	Diff       []Change   `json:"diff"`
	Kept       bool       `json:"kept"`
}

// RunDemo returns ErrNotImplemented.
func RunDemo(context.Context, DemoOptions, func(DemoStep) error) (*DemoResult, error) {
	return nil, ErrNotImplemented
}
