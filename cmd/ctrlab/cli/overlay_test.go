package cli

import (
	"errors"
	"reflect"
	"testing"
)

func TestOverlayMountFlags(t *testing.T) {
	app, _, _ := testApp()
	var got *overlayMountOptions
	cmd := newOverlayMountCmd(app, func(o *overlayMountOptions) error { got = o; return nil })
	if err := runCmd(cmd, "--lower", "/a:/b", "--upper", "/u", "--work", "/w", "-o", "ro,userxattr", "/m"); err != nil {
		t.Fatal(err)
	}
	s := got.spec()
	if !reflect.DeepEqual(s.Lowers, []string{"/a", "/b"}) || s.Upper != "/u" || s.Work != "/w" || s.Target != "/m" ||
		!reflect.DeepEqual(s.Options, []string{"ro", "userxattr"}) {
		t.Fatalf("spec = %+v", s)
	}
	for _, bad := range [][]string{
		{"/m"},                                   // no --lower
		{"--lower", "/a::/b", "/m"},              // empty layer
		{"--lower", "/a", "--upper", "/u", "/m"}, // upper without work
		{"--lower", "/a"},                        // no MERGED
	} {
		cmd := newOverlayMountCmd(app, func(*overlayMountOptions) error { t.Fatalf("runF called for %v", bad); return nil })
		err := runCmd(cmd, bad...)
		var fe *FlagError
		if err == nil || (!errors.As(err, &fe) && !isCobraUsage(err)) {
			t.Errorf("args %v: err = %v, want a usage error", bad, err)
		}
	}
}

func TestOverlaySubcommandArgs(t *testing.T) {
	app, _, _ := testApp()
	var demo *overlayDemoOptions
	if err := runCmd(newOverlayDemoCmd(app, func(o *overlayDemoOptions) error { demo = o; return nil }), "--keep", "--json"); err != nil || !demo.Keep || !demo.JSON {
		t.Fatalf("demo flags: %+v, %v", demo, err)
	}
	var layers *overlayLayersOptions
	if err := runCmd(newOverlayLayersCmd(app, func(o *overlayLayersOptions) error { layers = o; return nil }), "/m", "--json"); err != nil || layers.Merged != "/m" || !layers.JSON {
		t.Fatalf("layers flags: %+v, %v", layers, err)
	}
	var diff *overlayDiffOptions
	if err := runCmd(newOverlayDiffCmd(app, func(o *overlayDiffOptions) error { diff = o; return nil }), "/u", "--lower", "/a:/b"); err != nil || diff.Upper != "/u" || diff.Lower != "/a:/b" {
		t.Fatalf("diff flags: %+v, %v", diff, err)
	}
	var um *overlayUmountOptions
	if err := runCmd(newOverlayUmountCmd(app, func(o *overlayUmountOptions) error { um = o; return nil }), "/m"); err != nil || um.Merged != "/m" {
		t.Fatalf("umount args: %+v, %v", um, err)
	}
	if err := runCmd(newOverlayLayersCmd(app, nil)); err == nil || !isCobraUsage(err) {
		t.Fatalf("layers without MERGED: %v", err)
	}
	names := map[string]bool{}
	for _, c := range newOverlayCmd(app).Commands() {
		names[c.Name()] = true
	}
	for _, n := range []string{"demo", "mount", "layers", "diff", "umount"} {
		if !names[n] {
			t.Errorf("overlay has no %q subcommand", n)
		}
	}
}
