package cli

import (
	"errors"
	"strings"
	"testing"
)

func TestChrootFlags(t *testing.T) {
	app, _, _ := unshareTestApp()
	var got *chrootOptions
	run := func(args ...string) error {
		got = nil
		cmd := newChrootCmd(app, func(o *chrootOptions) error { got = o; return nil })
		cmd.SetArgs(append([]string{}, args...))
		return cmd.Execute()
	}
	if err := run("/srv/r", "--", "ls", "-l"); err != nil || got.Root != "/srv/r" || strings.Join(got.Command, " ") != "ls -l" {
		t.Fatalf("parsed %+v, %v", got, err)
	}
	if err := run("--escape-demo"); err != nil || !got.EscapeDemo {
		t.Fatalf("--escape-demo: %+v %v", got, err)
	}
	for _, args := range [][]string{{}, {"a", "b"}, {"--escape-demo", "/srv/r"}} {
		var fe *FlagError
		if err := run(args...); !errors.As(err, &fe) {
			t.Errorf("%v: err = %v, want a FlagError", args, err)
		}
	}
}
