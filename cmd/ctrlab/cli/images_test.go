package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ctrlab/ctrlab/pkg/image"
)

func imagesTestApp() (*App, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return &App{In: strings.NewReader(""), Out: &out, ErrOut: &errOut,
		IsTTY: func() bool { return false }, StdinTTY: func() bool { return false }}, &out, &errOut
}

func TestPullFlags(t *testing.T) {
	app, _, _ := imagesTestApp()
	var got *pullOptions
	cmd := newPullCmd(app, func(o *pullOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--platform", "linux/arm/v7", "--insecure", "--root", "/tmp/x", "busybox"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Ref != "busybox" || got.Platform != "linux/arm/v7" || !got.Insecure || got.Root != "/tmp/x" {
		t.Errorf("options = %+v", got)
	}
	cmd = newPullCmd(app, func(*pullOptions) error { return nil })
	cmd.SetArgs([]string{"--platform", "arm64", "busybox"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	var fe *FlagError
	if err := cmd.Execute(); !errors.As(err, &fe) {
		t.Errorf("bad --platform: err = %v, want a FlagError", err)
	}
}

// TestPullImagesInspectRm drives the commands against an in-process
// registry and a temporary store, reading the JSON they print.
func TestPullImagesInspectRm(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	ref := strings.TrimPrefix(srv.URL, "http://") + "/cli:1"
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		app, out, errOut := imagesTestApp()
		c := New(app)
		c.SetArgs(append(args, "--root", root))
		if err := c.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("ctrlab %v: %v (stderr %s)", args, err, errOut)
		}
		return out.String()
	}
	var pr image.PullResult
	if err := json.Unmarshal([]byte(run("pull", "--json", ref)), &pr); err != nil {
		t.Fatal(err)
	}
	id, _ := img.ConfigName()
	if pr.ConfigDigest != id.String() || len(pr.Layers) != 2 {
		t.Fatalf("pull result = %+v", pr)
	}
	if out := run("pull", ref); !strings.Contains(out, "already stored") || !strings.Contains(out, "IMAGE ID") {
		t.Errorf("second pull output:\n%s", out)
	}
	if out := run("images"); !strings.Contains(out, id.Hex[:12]) {
		t.Errorf("images output lacks the ID:\n%s", out)
	}
	if out := run("image", "inspect", ref); !strings.Contains(out, "image id") {
		t.Errorf("inspect output:\n%s", out)
	}
	if out := run("image", "rm", ref); !strings.Contains(out, "deleted   blob "+id.String()) {
		t.Errorf("rm output:\n%s", out)
	}
	var list []image.Summary
	if err := json.Unmarshal([]byte(run("images", "--json")), &list); err != nil || len(list) != 0 {
		t.Errorf("images after rm = %v, %v", list, err)
	}
}
