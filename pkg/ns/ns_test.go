package ns

import (
	"errors"
	"os"
	"strconv"
	"testing"
)

func TestParseListOrdersAndDedupes(t *testing.T) {
	got, err := ParseList([]string{"uts", "mnt,pid", "uts"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Kind{Mount, PID, UTS}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestParseUnknown(t *testing.T) {
	_, err := Parse("bogus")
	if !errors.Is(err, ErrUnknownKind) {
		t.Fatalf("err = %v, want ErrUnknownKind", err)
	}
}

func TestFlagString(t *testing.T) {
	if got := FlagString(Flags([]Kind{UTS, PID})); got != "CLONE_NEWPID|CLONE_NEWUTS" {
		t.Fatalf("FlagString = %q", got)
	}
}

func TestParseLink(t *testing.T) {
	n, err := ParseLink("net:[4026531840]")
	if err != nil || n != 4026531840 {
		t.Fatalf("ParseLink = %d, %v", n, err)
	}
	if _, err := ParseLink("garbage"); err == nil {
		t.Fatal("ParseLink accepted garbage")
	}
}

func TestInodeMatchesProcLink(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	for _, k := range []Kind{Net, UTS, Mount} {
		link, err := os.Readlink("/proc/" + pid + "/ns/" + k.ProcName())
		if err != nil {
			t.Skipf("no /proc ns links here: %v", err)
		}
		want, _ := ParseLink(link)
		got, err := Inode("self", k)
		if err != nil || got != want {
			t.Fatalf("Inode(self, %s) = %d, %v; want %d", k, got, err, want)
		}
	}
}

func TestHostPIDIsReadable(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to read another process's namespaces")
	}
	ref, err := HostPID()
	if err != nil {
		t.Fatal(err)
	}
	if ref != "1" && ref != "2" {
		t.Fatalf("HostPID = %q, want 1 or 2", ref)
	}
	if _, err := Inode(ref, Net); err != nil {
		t.Fatalf("the reference's net namespace is unreadable: %v", err)
	}
}
