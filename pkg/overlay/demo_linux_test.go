package overlay

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/ctrlab/ctrlab/pkg/testutil"
)

func TestRunDemo(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	parent := tempDir(t)
	var titles []string
	res, err := RunDemo(context.Background(), DemoOptions{Dir: parent}, func(s DemoStep) error {
		titles = append(titles, s.Title)
		if !strings.Contains(s.Mountinfo, " - overlay ") {
			t.Errorf("step %q: mountinfo line %q is not an overlay", s.Title, s.Mountinfo)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(titles) != 6 || len(res.Steps) != 6 {
		t.Fatalf("steps = %v", titles)
	}
	// The layer tables tell the story: after the delete step /etc/motd is a whiteout.
	if e, ok := findEntry(res.Steps[4].Layers, "/etc/motd"); !ok || !e.Whiteout || e.Layer != "upper" {
		t.Errorf("after delete, /etc/motd = %+v", e)
	}
	if e, ok := findEntry(res.Steps[5].Layers, "/app/static"); !ok || !e.Opaque {
		t.Errorf("after replace, /app/static = %+v", e)
	}
	if _, ok := findEntry(res.Steps[5].Layers, "/app/static/style.css"); ok {
		t.Error("style.css still listed under the opaque dir")
	}
	var diff []string
	for _, c := range res.Diff {
		diff = append(diff, c.String())
	}
	for _, want := range []string{"A /app/notes.txt", "C /usr/share/dict/words", "D /etc/motd", "C /app/static", "D /app/static/style.css"} {
		if !strings.Contains(strings.Join(diff, "\n")+"\n", want+"\n") {
			t.Errorf("diff lacks %q: %v", want, diff)
		}
	}
	// Not kept: unmounted and removed.
	if _, err := os.Stat(res.Workspace); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("workspace %s left behind: %v", res.Workspace, err)
	}
	if _, err := FindMount(res.Spec.Target); !errors.Is(err, ErrNotMounted) {
		t.Fatalf("demo overlay still mounted: %v", err)
	}
}

// Cancelling (ctrl-C) mid-demo unmounts and removes the workspace, even with Keep.
func TestRunDemoCancelCleansUp(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	parent := tempDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	res, err := RunDemo(ctx, DemoOptions{Dir: parent, Keep: true}, func(DemoStep) error {
		if n++; n == 2 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("RunDemo after cancel = %v, want context.Canceled", err)
	}
	if _, err := os.Stat(res.Workspace); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("workspace %s left behind after cancel: %v", res.Workspace, err)
	}
	if _, err := FindMount(res.Spec.Target); !errors.Is(err, ErrNotMounted) {
		t.Fatalf("overlay still mounted after cancel: %v", err)
	}
}
