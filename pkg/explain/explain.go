// Package explain holds the before/after view every step command prints:
// the host's value and the new value side by side, changed rows marked,
// plus the shell command a learner could type instead ("Equivalent to:").
//
// Libraries fill a Report; the cmd layer renders it as a table or JSON.
package explain

// Row is one observed item: its value on the host (before the step) and in
// the new context (after the step).
type Row struct {
	Item    string `json:"item"`
	Before  string `json:"before"`
	After   string `json:"after"`
	Changed bool   `json:"changed"`
}

// Report is a step's before/after view.
type Report struct {
	Title      string   `json:"title"`
	Rows       []Row    `json:"rows"`
	Notes      []string `json:"notes,omitempty"`
	Equivalent []string `json:"equivalent,omitempty"`
}

// Add appends a row; Changed is set when before and after differ.
func (r *Report) Add(item, before, after string) {
	r.Rows = append(r.Rows, Row{Item: item, Before: before, After: after, Changed: before != after})
}

// Note appends a line of explanation.
func (r *Report) Note(s string) { r.Notes = append(r.Notes, s) }

// Equiv appends a shell command equivalent to the step.
func (r *Report) Equiv(cmd string) { r.Equivalent = append(r.Equivalent, cmd) }
