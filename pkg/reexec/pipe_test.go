//go:build unix

package reexec

import (
	"errors"
	"io"
	"os"
	"syscall"
	"testing"
)

type pipeMsg struct {
	Echo string `json:"echo,omitempty"`
	Err  string `json:"error,omitempty"`
}

func init() {
	Register("ctrlab-test-pipe", func() {
		p := OpenChildPipes()
		var cfg struct{ Word, Exec string }
		if err := p.ReadConfig(&cfg); err != nil {
			p.Send(pipeMsg{Err: err.Error()})
			os.Exit(1)
		}
		p.Send(pipeMsg{Echo: cfg.Word})
		if !p.WaitGo() {
			os.Exit(1)
		}
		p.CloseOnExec()
		err := syscall.Exec(cfg.Exec, []string{cfg.Exec}, os.Environ())
		p.Send(pipeMsg{Err: err.Error()})
		os.Exit(126)
	})
}

// TestChildProtocol runs the whole protocol: config, a message back, the
// go byte, then EOF on a successful exec or an error message on a failed one.
func TestChildProtocol(t *testing.T) {
	for _, tc := range []struct {
		exec     string
		wantCode int
		wantErr  bool
	}{{"/bin/true", 0, false}, {"/nonexistent/ctrlab", 126, true}} {
		c, err := NewChild("ctrlab-test-pipe")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(nil); err != nil {
			t.Fatalf("Start: %v", err)
		}
		defer c.Close()
		if err := c.Send(map[string]string{"Word": "hello", "Exec": tc.exec}); err != nil {
			t.Fatalf("Send: %v", err)
		}
		var m pipeMsg
		if err := c.Recv(&m); err != nil || m.Echo != "hello" {
			t.Fatalf("Recv = %+v, %v; want echo hello", m, err)
		}
		if err := c.Go(); err != nil {
			t.Fatalf("Go: %v", err)
		}
		var done pipeMsg
		rerr := c.Recv(&done)
		werr := c.Wait()
		if tc.wantErr != (done.Err != "") || (!tc.wantErr && !errors.Is(rerr, io.EOF)) {
			t.Errorf("%s: after go: %+v, %v", tc.exec, done, rerr)
		}
		if got := ExitStatus(werr); got != tc.wantCode || ExitStatus(c.Wait()) != got {
			t.Errorf("%s: exit %d, want %d", tc.exec, got, tc.wantCode)
		}
	}
}

func TestReadConfigDecodeError(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w.WriteString("{not json\ng")
	w.Close()
	var ce *ConfigError
	var v struct{}
	p := &ChildPipes{In: r}
	if err := p.ReadConfig(&v); !errors.As(err, &ce) || ce.Op != "decoding config" {
		t.Fatalf("ReadConfig = %v, want a decoding config error", err)
	}
	if !p.WaitGo() {
		t.Fatal("the go byte after the config line was swallowed")
	}
}
