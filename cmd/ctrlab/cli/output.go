package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/ctrlab/ctrlab/pkg/explain"
)

// writeJSON writes v as indented JSON: the --json form of every report.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table is a thin wrapper over tablewriter v1 with ctrlab's look:
// UPPERCASE headers, no auto-formatting of cell text.
type table struct{ t *tablewriter.Table }

func newTable(w io.Writer, headers ...string) *table {
	t := tablewriter.NewTable(w,
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
	)
	h := make([]any, len(headers))
	for i, s := range headers {
		h[i] = strings.ToUpper(s)
	}
	t.Header(h...)
	return &table{t: t}
}

// row appends one row; cells are formatted with %v.
func (t *table) row(cells ...any) error {
	s := make([]string, len(cells))
	for i, c := range cells {
		s[i] = fmt.Sprint(c)
	}
	return t.t.Append(s)
}

func (t *table) render() error { return t.t.Render() }

// renderStep prints a step's before/after view: a title, a table of what the
// step changed (host value, new value, changed rows marked with *), notes,
// and the command a learner could type instead.
func renderStep(w io.Writer, r *explain.Report) error {
	if r.Title != "" {
		fmt.Fprintf(w, "== %s\n", r.Title)
	}
	if len(r.Rows) > 0 {
		t := newTable(w, "", "what", "host (before)", "new (after)")
		for _, row := range r.Rows {
			mark := ""
			if row.Changed {
				mark = "*"
			}
			if err := t.row(mark, row.Item, row.Before, row.After); err != nil {
				return err
			}
		}
		if err := t.render(); err != nil {
			return err
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  - %s\n", n)
	}
	for _, eq := range r.Equivalent {
		fmt.Fprintf(w, "Equivalent to: %s\n", eq)
	}
	return nil
}
