package overlay

// The types of this file are the package's reports, the same on every
// system (the Linux build fills them; other systems return ErrNotImplemented).

// Entry is one path of an overlay stack and the layer that serves it.
type Entry struct {
	// Path inside the merged view, "/etc/motd".
	Path string `json:"path"`
	// Type: "file", "dir", "symlink", "whiteout", "char", "block", "fifo", "socket".
	Type string `json:"type"`
	// Layer serving the path ("upper", "lower1" = top lower, ...). For a
	// whiteout, the layer holding the whiteout.
	Layer string `json:"layer"`
	// LayerIndex is -1 for upper, 0.. for Lowers[i].
	LayerIndex int `json:"layerIndex"`
	// LayerDir is the directory of that layer.
	LayerDir string `json:"layerDir"`
	Size     int64  `json:"size"`
	Inode    uint64 `json:"inode"`
	// Whiteout: the path is deleted; it is absent from the merged view.
	Whiteout bool `json:"whiteout,omitempty"`
	// Opaque: a directory whose lower-layer contents are hidden.
	Opaque bool `json:"opaque,omitempty"`
	// Below lists the lower layers that also hold this path: hidden for a
	// file or whiteout, merged into the view for a directory.
	Below []string `json:"below,omitempty"`
}

// Change is one difference an upper directory holds against its lowers.
type Change struct {
	Kind string `json:"kind"` // "A", "C" or "D"
	Path string `json:"path"`
	// Whiteout: the delete comes from a whiteout in upper.
	Whiteout bool `json:"whiteout,omitempty"`
	// Opaque: a directory replaced whole (its lower contents hidden).
	Opaque bool `json:"opaque,omitempty"`
	// Dir: the path is a directory in upper.
	Dir bool `json:"dir,omitempty"`
}

func (c Change) String() string { return c.Kind + " " + c.Path }

// DemoOptions configure RunDemo.
type DemoOptions struct {
	// Dir is where the ctrlab-overlay-demo-* workspace is made (default: os.TempDir()).
	Dir string
	// Keep leaves the workspace mounted at the end (it is still removed on error).
	Keep bool
}

// Fact is one observation a demo step makes from the filesystem.
type Fact struct {
	Item  string `json:"item"`
	Value string `json:"value"`
}

// DemoStep is one action of the demo and what the layers show after it.
type DemoStep struct {
	Title string `json:"title"`
	// Action is the shell command the step performed in the merged view.
	Action    string   `json:"action"`
	Explain   []string `json:"explain"`
	Facts     []Fact   `json:"facts"`
	Layers    []Entry  `json:"layers"`
	Mountinfo string   `json:"mountinfo"`
}

// DemoResult is the whole demo: the stack, every step, and the final diff.
type DemoResult struct {
	Workspace  string     `json:"workspace"`
	Spec       Spec       `json:"spec"`
	LayerNames []string   `json:"layerNames"`
	Equivalent string     `json:"equivalent"`
	Steps      []DemoStep `json:"steps"`
	Diff       []Change   `json:"diff"`
	Kept       bool       `json:"kept"`
}
