package explain

import "testing"

func TestAddMarksChanged(t *testing.T) {
	var r Report
	r.Add("uts ns", "4026531838", "4026532200")
	r.Add("hostname", "box", "box")
	if !r.Rows[0].Changed || r.Rows[1].Changed {
		t.Fatalf("changed flags = %v, %v; want true, false", r.Rows[0].Changed, r.Rows[1].Changed)
	}
}
