package quiz_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ctrlab/ctrlab/pkg/quiz"
)

func TestLiveGenerators(t *testing.T) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	if got, err := quiz.LiveAnswer("kernel-release"); err != nil || got != unix.ByteSliceToString(u.Release[:]) {
		t.Errorf("kernel-release = %q, %v", got, err)
	}
	mode, err := quiz.CgroupMode()
	if err != nil || (mode != "v1" && mode != "hybrid" && mode != "v2") {
		t.Errorf("cgroup mode %q %v", mode, err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err == nil && int64(st.Type) == unix.CGROUP2_SUPER_MAGIC && mode != "v2" {
		t.Errorf("cgroup2fs at /sys/fs/cgroup but mode %q", mode)
	}
	if d, err := quiz.LiveAnswer("nspid-depth"); err != nil || d == "" || d == "0" {
		t.Errorf("nspid-depth %q %v", d, err)
	}
	// PID 1 may be unreadable even for root (a protected init): then the
	// answer compares with kthreadd (PID 2), in the same initial namespaces.
	self, _ := os.Readlink("/proc/self/ns/uts")
	ref := "/proc/1/ns/uts"
	if _, err := os.Readlink(ref); err != nil {
		ref = "/proc/2/ns/uts"
	}
	if one, err := os.Readlink(ref); err == nil {
		n, err := quiz.LiveAnswer("ns-shared-with-pid1")
		if err != nil || n == "" {
			t.Errorf("ns-shared-with-pid1 %q %v", n, err)
		}
		if one == self && n == "0" {
			t.Error("shares uts with PID 1 but counted 0 shared")
		}
		if one != self && n == "8" {
			t.Error("a uts namespace of its own but counted all 8 shared")
		}
	}
	for _, g := range quiz.Generators() {
		if strings.HasPrefix(g, "test-") {
			continue
		}
		if _, err := quiz.LiveAnswer(g); err != nil && !errors.Is(err, quiz.ErrUnavailable) {
			t.Errorf("%s: %v", g, err)
		}
	}
}
