package container

import "testing"

func TestParseStatStart(t *testing.T) {
	// comm may contain spaces and parentheses.
	stat := "1234 (a b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100"
	got, err := parseStatStart(stat)
	if err != nil || got != 987654 {
		t.Errorf("got %d, %v; want 987654", got, err)
	}
}
