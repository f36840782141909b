package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestCheckFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr bool
		format  string
		watch   bool
	}{
		{[]string{"pid-uts"}, false, "text", false},
		{[]string{"pid-uts", "--format", "junit", "--watch"}, false, "junit", true},
		{[]string{"pid-uts", "--format", "xml"}, true, "", false},
		{[]string{}, true, "", false},
	} {
		app, _, _ := testApp()
		var got *checkOptions
		cmd := newCheckCmd(app, func(o *checkOptions) error { got = o; return nil })
		cmd.SetArgs(tc.args)
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		err := cmd.Execute()
		if tc.wantErr {
			if err == nil {
				t.Errorf("%v: no error", tc.args)
			}
			continue
		}
		if err != nil || got == nil || got.Format != tc.format || got.Watch != tc.watch || got.Name != "pid-uts" {
			t.Errorf("%v: err %v, opts %+v", tc.args, err, got)
		}
	}
}

func TestCheckBadFormatIsUsageError(t *testing.T) {
	app, _, _ := testApp()
	cmd := newCheckCmd(app, func(*checkOptions) error { return nil })
	cmd.SetArgs([]string{"pid-uts", "--format", "xml"})
	err := cmd.Execute()
	var fe *FlagError
	if !errors.As(err, &fe) || ExitCode(app, err) != ExitUsage {
		t.Fatalf("err = %v (exit %d), want a usage error", err, ExitCode(app, err))
	}
}

func TestLabListJSON(t *testing.T) {
	app, out, _ := testApp()
	root := New(app)
	root.SetArgs([]string{"lab", "list", "--json"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{`"name": "chroot-jail"`, `"name": "container-by-hand"`} {
		if !strings.Contains(out.String(), name) {
			t.Errorf("lab list --json lacks %s", name)
		}
	}
}
