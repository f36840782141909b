package overlay

import "testing"

func TestParseOCIWhiteout(t *testing.T) {
	for _, tc := range []struct {
		in         string
		target     string
		opaque, ok bool
	}{
		{".wh.foo", "foo", false, true},
		{".wh..wh..opq", "", true, true},
		{"foo", "", false, false},
		{".wh.", "", false, false},
		{".wh...", "", false, false},
	} {
		target, opaque, ok := ParseOCIWhiteout(tc.in)
		if target != tc.target || opaque != tc.opaque || ok != tc.ok {
			t.Errorf("ParseOCIWhiteout(%q) = %q,%v,%v; want %q,%v,%v", tc.in, target, opaque, ok, tc.target, tc.opaque, tc.ok)
		}
	}
	if got := OCIWhiteoutName("etc"); got != ".wh.etc" {
		t.Errorf("OCIWhiteoutName = %q", got)
	}
}
