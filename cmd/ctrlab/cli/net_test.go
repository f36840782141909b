package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func runNet(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	app := &App{Out: &out, ErrOut: &errb, In: strings.NewReader(""), IsTTY: func() bool { return false }, StdinTTY: func() bool { return false }}
	root := New(app)
	root.SetArgs(append([]string{"net"}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String() + errb.String(), err
}

// Bad input is a usage error (exit 2) caught before any kernel work or
// root check.
func TestNetUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"publish", "red", "80"},
		{"publish", "red", "0:80"},
		{"publish", "red", "8080:80/sctp"},
		{"bridge", "sideways"},
		{"bridge", "up", "--name", "br0"},
		{"ns", "add"},
		{"ns", "frobnicate", "x"},
		{"ns", "add", "a/b"},
		{"connect"},
		{"connect", "red", "--pid", "1"},
		{"demo", "--host-port", "70000"},
	} {
		_, err := runNet(t, args...)
		var fe *FlagError
		if !errors.As(err, &fe) {
			t.Errorf("net %v: err = %v, want a FlagError", args, err)
		}
	}
}

func TestNetHelpTeaches(t *testing.T) {
	out, err := runNet(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"veth", "bridge", "MASQUERADE", "DNAT", "ip link add"} {
		if !strings.Contains(out, want) {
			t.Errorf("net --help lacks %q", want)
		}
	}
}
