package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/ctrlab/ctrlab/pkg/inspect"
)

// lookTestApp is an App writing to buffers, for the inspect and doctor tests.
func lookTestApp() (*App, *bytes.Buffer, *bytes.Buffer) {
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	return &App{In: strings.NewReader(""), Out: out, ErrOut: errOut,
		IsTTY: func() bool { return false }, StdinTTY: func() bool { return false }}, out, errOut
}

func TestInspectFlags(t *testing.T) {
	tests := []struct {
		args     []string
		wantPID  string
		mounts   bool
		json     bool
		wantFlag bool // a usage error (exit 2)
	}{
		{args: []string{"self"}, wantPID: "self"},
		{args: []string{"1", "--mounts"}, wantPID: "1", mounts: true},
		{args: []string{"4242", "--json"}, wantPID: "4242", json: true},
		{args: []string{"0"}, wantFlag: true},
		{args: []string{"no-such-container"}, wantFlag: true},
		{args: []string{}, wantFlag: true},
		{args: []string{"1", "2"}, wantFlag: true},
		{args: []string{"self", "--bogus"}, wantFlag: true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			app, _, _ := lookTestApp()
			var got *inspectOptions
			cmd := newInspectCmd(app, func(o *inspectOptions) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(app.Out)
			cmd.SetErr(app.ErrOut)
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			err := cmd.Execute()
			if tt.wantFlag {
				if err == nil || ExitCode(app, err) != ExitUsage {
					t.Fatalf("err = %v, want a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.PID != tt.wantPID || got.Mounts != tt.mounts || got.JSON != tt.json {
				t.Errorf("options = %+v", got)
			}
		})
	}
}

func TestInspectSelfJSONAndTable(t *testing.T) {
	app, out, _ := lookTestApp()
	if err := inspectRun(app, &inspectOptions{PID: "self", JSON: true}); err != nil {
		t.Fatal(err)
	}
	var p inspect.Process
	if err := json.Unmarshal(out.Bytes(), &p); err != nil {
		t.Fatalf("--json output is not a Process: %v\n%s", err, out)
	}
	if p.PID != os.Getpid() || len(p.Namespaces) == 0 || p.MountCount == 0 || p.Mounts != nil {
		t.Errorf("pid %d namespaces %d mounts %d/%d", p.PID, len(p.Namespaces), p.MountCount, len(p.Mounts))
	}

	out.Reset()
	if err := inspectRun(app, &inspectOptions{PID: "self", Mounts: true}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SHARED WITH HOST", "NoNewPrivs", "CONTROLLERS", "effective", "ADDRESSES", "MOUNT POINT"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table output lacks %q:\n%s", want, out)
		}
	}
}

func TestInspectMissingPID(t *testing.T) {
	app, _, _ := lookTestApp()
	err := inspectRun(app, &inspectOptions{PID: "99999999"})
	if !errors.Is(err, inspect.ErrNoProcess) || ExitCode(app, err) != ExitFailure {
		t.Fatalf("err = %v", err)
	}
}

func TestCapText(t *testing.T) {
	if got := capText(0); got != "(none)" {
		t.Errorf("capText(0) = %q", got)
	}
	if got := capText(inspect.AllCaps &^ (1 << 24)); got != "all 41 but:\nSYS_RESOURCE" {
		t.Errorf("capText(all but 24) = %q", got)
	}
	if got := capText(0x1f); got != "CHOWN, DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER,\nFSETID" {
		t.Errorf("capText(0x1f) = %q", got)
	}
}
