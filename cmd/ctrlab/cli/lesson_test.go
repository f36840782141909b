package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLessonFlags(t *testing.T) {
	var got *lessonOptions
	app, _, _ := testAppIn("")
	for _, tc := range []struct {
		args  []string
		usage bool
	}{
		{[]string{"pid-namespace", "--auto", "--from", "2"}, false},
		{[]string{"--auto"}, true},
		{[]string{"x", "--from", "-1"}, true},
		{[]string{"x", "--json"}, true},
	} {
		cmd := newLessonCmd(app, func(o *lessonOptions) error { got = o; return nil })
		cmd.SetArgs(tc.args)
		err := cmd.Execute()
		var fe *FlagError
		if tc.usage != errors.As(err, &fe) {
			t.Errorf("%v: err %v, usage error wanted %v", tc.args, err, tc.usage)
		}
	}
	if got == nil || got.Name != "pid-namespace" || !got.Auto || got.From != 2 {
		t.Fatalf("options %+v", got)
	}
}

// TestLessonListAndQuiz runs the real commands on the embedded content.
func TestLessonListAndQuiz(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("SUDO_UID", "")
	app, out, _ := testAppIn("")
	cmd := newLessonCmd(app, nil)
	cmd.SetArgs([]string{"--json"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"name": "containers-vs-vms"`) {
		t.Fatalf("list: %s", out.String())
	}

	ans := filepath.Join(t.TempDir(), "a.yaml")
	if err := os.WriteFile(ans, []byte("shared-kernel: a\nvm-own-kernel: true\nwhat-isolates-view: b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	app, out, _ = testAppIn("")
	q := newQuizCmd(app, nil)
	q.SetArgs([]string{"containers", "--answers", ans, "--json", "--pass", "90"})
	err := q.Execute()
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != ExitCheckFails {
		t.Fatalf("want exit 3 below --pass, got %v", err)
	}
	if !strings.Contains(out.String(), `"score": 2`) {
		t.Fatalf("result: %s", out.String())
	}
}
