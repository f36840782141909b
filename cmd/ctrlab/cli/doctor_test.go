package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ctrlab/ctrlab/pkg/doctor"
)

func TestDoctorFlags(t *testing.T) {
	for _, tt := range []struct {
		args     []string
		json     bool
		wantFlag bool
	}{
		{args: nil},
		{args: []string{"--json"}, json: true},
		{args: []string{"extra"}, wantFlag: true},
		{args: []string{"--nope"}, wantFlag: true},
	} {
		app, _, _ := lookTestApp()
		var got *doctorOptions
		cmd := newDoctorCmd(app, func(o *doctorOptions) error { got = o; return nil })
		cmd.SetArgs(tt.args)
		cmd.SetOut(app.Out)
		cmd.SetErr(app.ErrOut)
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		err := cmd.Execute()
		if tt.wantFlag {
			if err == nil || ExitCode(app, err) != ExitUsage {
				t.Errorf("%v: err = %v, want usage error", tt.args, err)
			}
			continue
		}
		if err != nil || got.JSON != tt.json {
			t.Errorf("%v: err %v options %+v", tt.args, err, got)
		}
	}
}

func TestDoctorExitStatus(t *testing.T) {
	ok := &doctor.Report{Checks: []doctor.Check{{Name: "a", Status: doctor.OK}, {Name: "b", Status: doctor.Warn, Fix: "do b"}}}
	bad := &doctor.Report{Checks: []doctor.Check{{Name: "a", Status: doctor.OK}, {Name: "c", Status: doctor.Fail, Fix: "do c"}}}

	app, out, _ := lookTestApp()
	if err := doctorRun(app, &doctorOptions{}, ok); err != nil {
		t.Fatalf("WARN only: err = %v", err)
	}
	if !strings.Contains(out.String(), "do b") || !strings.Contains(out.String(), "STATUS") {
		t.Errorf("table:\n%s", out)
	}

	app, out, _ = lookTestApp()
	err := doctorRun(app, &doctorOptions{}, bad)
	if code := ExitCode(app, err); code != ExitFailure {
		t.Fatalf("FAIL row: exit %d (err %v)", code, err)
	}
	if !strings.Contains(out.String(), "FAIL") || !strings.Contains(out.String(), "do c") {
		t.Errorf("table printed before exiting must show the FAIL row:\n%s", out)
	}

	app, out, _ = lookTestApp()
	err = doctorRun(app, &doctorOptions{JSON: true}, bad)
	var back doctor.Report
	if jerr := json.Unmarshal(out.Bytes(), &back); jerr != nil || len(back.Checks) != 2 || ExitCode(app, err) != ExitFailure {
		t.Errorf("--json: %v %v exit %d", jerr, back, ExitCode(app, err))
	}
}

func TestDoctorLive(t *testing.T) {
	app, out, _ := lookTestApp()
	err := doctorRun(app, &doctorOptions{JSON: true}, doctor.Run())
	var r doctor.Report
	if jerr := json.Unmarshal(out.Bytes(), &r); jerr != nil {
		t.Fatal(jerr)
	}
	if (err != nil) != r.Failed() {
		t.Errorf("exit error %v but Failed() = %v", err, r.Failed())
	}
}
