package cli

import "testing"

func TestIsSelfRef(t *testing.T) {
	for ref, want := range map[string]bool{
		"ctrlab/self": true, "ctrlab/self:latest": true, "docker.io/ctrlab/self": true,
		"ctrlab/self:v2": false, "busybox": false, "127.0.0.1:5000/ctrlab/self": false, "::bad": false,
	} {
		if got := isSelfRef(ref); got != want {
			t.Errorf("isSelfRef(%q) = %v, want %v", ref, got, want)
		}
	}
}
