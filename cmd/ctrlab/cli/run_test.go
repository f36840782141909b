package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/ctrlab/ctrlab/pkg/container"
	"github.com/ctrlab/ctrlab/pkg/image"
	"github.com/ctrlab/ctrlab/pkg/ns"
)

// parseRun runs `ctrlab run ARGS` through the runF hook and returns the options.
func parseRun(t *testing.T, args ...string) (*runOptions, error) {
	t.Helper()
	var got *runOptions
	cmd := newRunCmd(testAppOnly(), func(o *runOptions) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.Execute()
	return got, err
}

func TestRunFlags(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(envFile, []byte("# comment\nA=from-file\nB=b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CTRLAB_FROM_HOST", "hostval")
	o, err := parseRun(t, "--rootfs", "/r", "--name", "web", "--rm", "-e", "A=flag", "-e", "CTRLAB_FROM_HOST",
		"-e", "CTRLAB_UNSET_VAR", "--env-file", envFile, "-v", "/src:/dst:ro", "-w", "/tmp", "-u", "nobody",
		"--hostname", "h", "--read-only", "--cap-drop", "ALL", "--cap-add", "chown", "--network", "host",
		"-m", "64m", "--pids-limit", "10", "--entrypoint", "/bin/echo", "hello", "-n", "x")
	if err != nil {
		t.Fatal(err)
	}
	if o.Limits.MemoryBytes != 64<<20 || o.Limits.Pids != 10 {
		t.Errorf("limits %+v", o.Limits)
	}
	cfg, err := o.buildConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/bin/echo", "hello", "-n", "x"}; !reflect.DeepEqual(cfg.Args, want) {
		t.Errorf("args %q, want %q (flags after CMD belong to CMD)", cfg.Args, want)
	}
	env := strings.Join(cfg.Env, " ")
	for _, want := range []string{"A=flag", "B=b", "CTRLAB_FROM_HOST=hostval", "PATH="} {
		if !strings.Contains(env, want) {
			t.Errorf("env %q lacks %q", env, want)
		}
	}
	if strings.Contains(env, "A=from-file") || strings.Contains(env, "CTRLAB_UNSET_VAR") {
		t.Errorf("env %q: -e must override the file, an unset KEY is dropped", env)
	}
	if !reflect.DeepEqual(cfg.Mounts, []container.Mount{{Source: "/src", Destination: "/dst", ReadOnly: true}}) {
		t.Errorf("mounts %+v", cfg.Mounts)
	}
	if !reflect.DeepEqual(cfg.Capabilities, []string{"CAP_CHOWN"}) {
		t.Errorf("caps %q", cfg.Capabilities)
	}
	if cfg.HasNS(ns.Net) {
		t.Error("--network host must not create a network namespace")
	}
	if cfg.Cwd != "/tmp" || cfg.User != "nobody" || cfg.Hostname != "h" || !cfg.ReadOnlyRootfs || cfg.Name != "web" {
		t.Errorf("cfg %+v", cfg)
	}
}

func TestRunFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--rootfs", "/r", "-d", "-t", "sh"},
		{"--rootfs", "/r", "--network", "wat", "sh"},
		{"--rootfs", "/r", "--network", "none", "-p", "8080:80", "sh"},
		{"-p", "80", "busybox"},
		{"--bridge", "br0", "busybox"},
		{"--rootfs", "/r", "--platform", "linux/arm64", "sh"},
		{"--rootfs", "/r", "-m", "lots", "sh"},
		{"--rootfs", "/r", "-v", "relative:/x", "sh"},
		{"--rootfs", "/r", "--cap-add", "CAP_NOPE", "sh"},
	} {
		_, err := parseRun(t, args...)
		var fe *FlagError
		if !errors.As(err, &fe) {
			t.Errorf("run %q: err %v, want a usage error", args, err)
		}
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{"KILL": syscall.SIGKILL, "sigterm": syscall.SIGTERM, "hup": syscall.SIGHUP, "15": syscall.SIGTERM} {
		got, err := parseSignal(in)
		if err != nil || got != want {
			t.Errorf("parseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseSignal("NOPE"); err == nil {
		t.Error("parseSignal(NOPE) succeeded")
	}
}

func TestContainerCmdsParse(t *testing.T) {
	var got []string
	cmd := newExecCmd(testAppOnly(), func(o *execOptions) error { got = append([]string{o.Name}, o.Args...); return nil })
	cmd.SetArgs([]string{"-t", "web", "ls", "-l"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []string{"web", "ls", "-l"}) {
		t.Errorf("exec parsed %q", got)
	}
	var stop *stopOptions
	sc := newStopCmd(testAppOnly(), func(o *stopOptions) error { stop = o; return nil })
	sc.SetArgs([]string{"-t", "3", "a", "b"})
	if err := sc.Execute(); err != nil {
		t.Fatal(err)
	}
	if stop.Timeout != 3 || len(stop.Names) != 2 {
		t.Errorf("stop parsed %+v", stop)
	}
}

func TestRunImageArgs(t *testing.T) {
	img := &image.ImageConfig{Entrypoint: []string{"/ep"}, Cmd: []string{"default"}, Env: []string{"A=img", "B=img"},
		WorkingDir: "/srv", User: "daemon"}
	for _, tc := range []struct {
		args      []string
		wantImage string
		wantArgs  []string
	}{
		{nil, "", []string{"/ep", "default"}},
		{[]string{"busybox"}, "busybox", []string{"/ep", "default"}},
		{[]string{"busybox", "x", "-n"}, "busybox", []string{"/ep", "x", "-n"}},
		{[]string{"--entrypoint", "/bin/sh", "busybox"}, "busybox", []string{"/bin/sh"}},
		{[]string{"--entrypoint", "/bin/sh", "busybox", "-c", "true"}, "busybox", []string{"/bin/sh", "-c", "true"}},
	} {
		o, err := parseRun(t, tc.args...)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if o.Image != tc.wantImage {
			t.Errorf("%q: image %q, want %q", tc.args, o.Image, tc.wantImage)
		}
		cfg, err := o.buildConfig(img)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(cfg.Args, tc.wantArgs) {
			t.Errorf("%q: args %q, want %q", tc.args, cfg.Args, tc.wantArgs)
		}
		if cfg.Cwd != "/srv" || cfg.User != "daemon" {
			t.Errorf("%q: cwd %q user %q: the image's WorkingDir and User must apply", tc.args, cfg.Cwd, cfg.User)
		}
	}
	o, err := parseRun(t, "-e", "A=flag", "-w", "/w", "-u", "1:2", "busybox")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := o.buildConfig(img)
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Join(cfg.Env, " ")
	if !strings.Contains(env, "A=flag") || !strings.Contains(env, "B=img") || strings.Contains(env, "A=img") {
		t.Errorf("env %q: -e overrides the image's Env, which is kept otherwise", env)
	}
	if cfg.Cwd != "/w" || cfg.User != "1:2" {
		t.Errorf("-w/-u must override the image: cwd %q user %q", cfg.Cwd, cfg.User)
	}
	if _, err := (&runOptions{Image: "x"}).buildConfig(&image.ImageConfig{}); err == nil {
		t.Error("an image with no Entrypoint/Cmd and no CMD must be an error")
	}
	if o.Network != "bridge" {
		t.Errorf("default network %q, want bridge (as docker)", o.Network)
	}
}
