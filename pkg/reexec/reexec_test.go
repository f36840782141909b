package reexec

import (
	"os"
	"strings"
	"testing"
)

func init() {
	Register("ctrlab-test-echo", func() {
		os.Stdout.WriteString("echo:" + strings.Join(os.Args[1:], ",") + "\n")
		os.Exit(0)
	})
}

func TestMain(m *testing.M) {
	if Init() {
		return
	}
	os.Exit(m.Run())
}

func TestCommandRunsEntrypoint(t *testing.T) {
	out, err := Command("ctrlab-test-echo", "a", "b").Output()
	if err != nil {
		t.Fatalf("running entrypoint: %v", err)
	}
	if got := string(out); got != "echo:a,b\n" {
		t.Fatalf("output = %q, want %q", got, "echo:a,b\n")
	}
}

func TestRegisterDuplicatePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("second Register of the same name did not panic")
		}
	}()
	Register("ctrlab-test-echo", func() {})
}
