package cli

import (
	"bytes"
	"errors"
	"testing"

	"github.com/spf13/cobra"

	"github.com/ctrlab/ctrlab/pkg/cgroup"
)

func runCgroupRunFlags(t *testing.T, args ...string) (*cgroupRunOptions, error) {
	t.Helper()
	var got *cgroupRunOptions
	app := &App{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}, In: &bytes.Buffer{}}
	cmd := newCgroupRunCmd(app, func(o *cgroupRunOptions) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(app.Out)
	cmd.SetErr(app.ErrOut)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &FlagError{Err: err} })
	err := cmd.Execute()
	return got, err
}

func TestCgroupRunFlags(t *testing.T) {
	o, err := runCgroupRunFlags(t, "--memory", "64M", "--cpus", "0.5", "--pids", "20", "--cpu-weight", "50", "--cpuset", "0", "--name", "web", "--", "sh", "-c", "echo hi")
	if err != nil {
		t.Fatal(err)
	}
	r := o.Resources
	if r.MemoryMax != 67108864 || r.CPUQuota != 50000 || r.CPUPeriod != 100000 || r.PidsMax != 20 || r.CPUWeight != 50 || r.Cpuset != "0" {
		t.Errorf("resources = %+v", r)
	}
	if o.Name != "web" || len(o.Argv) != 3 || o.Argv[0] != "sh" || o.Argv[2] != "echo hi" {
		t.Errorf("name %q argv %q", o.Name, o.Argv)
	}
	// Flags after CMD belong to CMD.
	o, err = runCgroupRunFlags(t, "--pids", "max", "ls", "--memory", "x")
	if err != nil {
		t.Fatal(err)
	}
	if o.Resources.PidsMax != cgroup.Unlimited || len(o.Argv) != 3 || o.Argv[1] != "--memory" {
		t.Errorf("pids %d argv %q", o.Resources.PidsMax, o.Argv)
	}
	if o.Name == "" {
		t.Error("no default name")
	}
}

func TestCgroupRunRejectsGarbage(t *testing.T) {
	for _, args := range [][]string{
		{"--memory", "64X", "--", "true"},
		{"--memory", "-3", "--", "true"},
		{"--cpus", "abc", "--", "true"},
		{"--cpus", "0.0001", "--", "true"},
		{"--pids", "0", "--", "true"},
		{"--pids", "many", "--", "true"},
		{"--cpu-weight", "20000", "--", "true"},
		{"--cpuset", "a-b", "--", "true"},
		{"--name", "a/b", "--", "true"},
	} {
		_, err := runCgroupRunFlags(t, args...)
		var fe *FlagError
		if !errors.As(err, &fe) {
			t.Errorf("%q: err = %v, want a usage error", args, err)
		}
	}
	if _, err := runCgroupRunFlags(t); err == nil {
		t.Error("no CMD: want an error")
	}
}

func TestCgroupDemoKinds(t *testing.T) {
	for _, k := range []string{"memory", "cpu", "pids"} {
		var got *cgroupDemoOptions
		cmd := newCgroupDemoCmd(&App{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, func(o *cgroupDemoOptions) error { got = o; return nil })
		cmd.SetArgs([]string{k})
		if err := cmd.Execute(); err != nil || string(got.Kind) != k {
			t.Errorf("demo %s: %v %+v", k, err, got)
		}
	}
	cmd := newCgroupDemoCmd(&App{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, func(o *cgroupDemoOptions) error { return nil })
	cmd.SetArgs([]string{"disk"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	var fe *FlagError
	if err := cmd.Execute(); !errors.As(err, &fe) {
		t.Errorf("demo disk: %v, want a usage error", err)
	}
}
