//go:build unix

package reexec

import (
	"context"
	"os"
	"syscall"
	"testing"
)

func init() {
	Register("ctrlab-test-pipe", func() {
		p := OpenChildPipes()
		p.Fail = func(code int, op, _ string, err error) { p.Send(op + ": " + err.Error()); os.Exit(code) }
		var exe string
		if p.ReadConfig(&exe); p.WaitGo() {
			p.Send("go " + exe)
			p.Fail(126, "executing", exe, syscall.Exec(exe, []string{exe}, nil))
		}
	})
}

// TestChildProtocol: config, go, a message, then EOF (exec) or an error.
func TestChildProtocol(t *testing.T) {
	for exe, want := range map[string]int{"/bin/true": 0, "/nonexistent/ctrlab": 126} {
		c, err := Start(context.Background(), "ctrlab-test-pipe", nil)
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		defer c.Close()
		var m, done string
		if c.Send(exe) != nil || c.Go(func() error { return nil }) != nil || c.Recv(&m) != nil || m != "go "+exe {
			t.Fatalf("%s: Send, Go, Recv: message %q", exe, m)
		}
		if status, err := c.Finish(&done); status != want || err != nil || (done != "") != (want != 0) {
			t.Errorf("%s: Finish = %d, %v, message %q; want status %d", exe, status, err, done, want)
		}
	}
}
