package chroot

import (
	"strings"
	"testing"
)

func TestShellJoin(t *testing.T) {
	if got := shellJoin([]string{"sh", "-c", "echo it's"}); got != `sh -c 'echo it'\''s'` {
		t.Fatalf("shellJoin = %s", got)
	}
}

func TestRunReportMarksRoot(t *testing.T) {
	rep := runReport(&Result{Root: "/srv/r", RootBefore: "/", RootAfter: "/srv/r", CwdBefore: "/home", CwdAfter: "/srv/r",
		ListBefore: []string{"bin", "etc"}, ListAfter: []string{"bin"}, Command: []string{"ls"}})
	if !rep.Rows[0].Changed || rep.Rows[0].After != "/srv/r" {
		t.Fatalf("root row = %+v", rep.Rows[0])
	}
	if len(rep.Equivalent) != 1 || rep.Equivalent[0] != "chroot /srv/r ls" {
		t.Fatalf("equivalent = %q", rep.Equivalent)
	}
	if !strings.Contains(strings.Join(rep.Notes, " "), "pivot_root") {
		t.Fatal("notes do not mention pivot_root")
	}
}
