package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctrlab/ctrlab/pkg/ns"
	"github.com/ctrlab/ctrlab/pkg/testutil"
)

func unshareTestApp() (*App, *bytes.Buffer, *bytes.Buffer) {
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	return &App{In: strings.NewReader(""), Out: out, ErrOut: errOut,
		IsTTY: func() bool { return false }, StdinTTY: func() bool { return false }}, out, errOut
}

func parseUnshare(t *testing.T, args ...string) (*unshareOptions, error) {
	t.Helper()
	app, _, _ := unshareTestApp()
	var got *unshareOptions
	cmd := newUnshareCmd(app, func(o *unshareOptions) error { got = o; return nil })
	cmd.SetArgs(append([]string{}, args...)) // never nil: cobra would read os.Args
	cmd.SetOut(app.Out)
	cmd.SetErr(app.ErrOut)
	err := cmd.Execute()
	return got, err
}

func TestUnshareFlags(t *testing.T) {
	o, err := parseUnshare(t, "uts", "pid", "--hostname", "box", "--", "sh", "-c", "hostname")
	if err != nil {
		t.Fatal(err)
	}
	if kindList(o.kinds) != "pid uts" || o.Hostname != "box" || strings.Join(o.Command, " ") != "sh -c hostname" {
		t.Fatalf("parsed %+v", o)
	}
	o, err = parseUnshare(t, "--all", "--", "true")
	if err != nil || len(o.kinds) != len(ns.All) {
		t.Fatalf("--all: %+v %v", o, err)
	}
	o, err = parseUnshare(t, "time")
	if err != nil || o.BoottimeOffset != defaultTimeOffset {
		t.Fatalf("time default offset: %+v %v", o, err)
	}
	o, err = parseUnshare(t, "time", "--monotonic-offset", "90s")
	if err != nil || o.MonotonicOffset != 90*time.Second || o.BoottimeOffset != 0 {
		t.Fatalf("time offsets: %+v %v", o, err)
	}
}

func TestUnshareUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"bogus"},
		{},
		{"--all", "pid"},
		{"pid", "--hostname", "x"},
		{"uts", "--boottime-offset", "1h"},
	} {
		_, err := parseUnshare(t, args...)
		var fe *FlagError
		if !errors.As(err, &fe) {
			t.Errorf("%v: err = %v, want a FlagError", args, err)
			continue
		}
		app, _, errOut := unshareTestApp()
		if code := ExitCode(app, err); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, ExitUsage)
		}
		if len(args) > 0 && args[0] == "bogus" && !strings.Contains(errOut.String(), ns.ValidNames()) {
			t.Errorf("unknown namespace error does not list the valid ones: %s", errOut.String())
		}
	}
}

// TestUnshareNotRoot runs `ctrlab unshare pid` as uid 65534 (this test
// binary, re-run with a helper flag) and expects the one-line needs-root
// error and exit status 1, before any namespace is created.
func TestUnshareNotRoot(t *testing.T) {
	if os.Getenv("CTRLAB_CLI_HELPER") == "unshare-pid" {
		app, _, errOut := unshareTestApp()
		cmd := New(app)
		cmd.SetArgs([]string{"unshare", "pid", "--", "true"})
		code := ExitCode(app, cmd.Execute())
		os.Stdout.WriteString(errOut.String())
		os.Exit(code)
	}
	testutil.RequireRoot(t)
	c := exec.Command("/proc/self/exe", "-test.run=^TestUnshareNotRoot$")
	c.Env = append(os.Environ(), "CTRLAB_CLI_HELPER=unshare-pid")
	c.Dir = "/"
	c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := c.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitFailure {
		t.Fatalf("exit = %v, want status %d; output:\n%s", err, ExitFailure, out)
	}
	if !strings.Contains(string(out), "ctrlab unshare pid: this command needs root") || !strings.Contains(string(out), "sudo") {
		t.Fatalf("output:\n%s", out)
	}
}
