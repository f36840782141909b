package testutil

import (
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// RequireCgroup2 skips unless /sys/fs/cgroup is a pure cgroup-v2 mount.
func RequireCgroup2(t testing.TB) {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		t.Skip("needs a pure cgroup-v2 host: run `make test-cgroup2` (boots one under QEMU)")
	}
}

// RequireUserNS skips unless this process may create a user namespace.
func RequireUserNS(t testing.TB) {
	t.Helper()
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && strings.TrimSpace(string(b)) == "0" {
		t.Skip("user namespaces are disabled (user.max_user_namespaces=0)")
	}
	if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && strings.TrimSpace(string(b)) == "0" && os.Geteuid() != 0 {
		t.Skip("unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone=0)")
	}
}

// RequireKernel skips unless the running kernel is at least major.minor.
func RequireKernel(t testing.TB, major, minor int) {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Skipf("uname: %v", err)
	}
	rel := unix.ByteSliceToString(u.Release[:])
	var ma, mi int
	for i, part := range strings.SplitN(rel, ".", 3)[:2] {
		n := 0
		for _, c := range part {
			if c < '0' || c > '9' {
				break
			}
			n = n*10 + int(c-'0')
		}
		if i == 0 {
			ma = n
		} else {
			mi = n
		}
	}
	if ma < major || (ma == major && mi < minor) {
		t.Skipf("needs kernel %d.%d or newer (running %s)", major, minor, rel)
	}
}

// NewNetNS creates a fresh network namespace and returns a handle to it,
// without switching the calling thread into it. The namespace disappears
// when the handle is closed at cleanup (nothing pins it). Tests build their
// "host" side (bridges, iptables rules) inside it, so the machine's own
// interfaces are never touched.
func NewNetNS(t testing.TB) netns.NsHandle {
	t.Helper()
	RequireRoot(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatalf("getting current netns: %v", err)
	}
	defer orig.Close()
	h, err := netns.New() // switches this thread into the new namespace
	if err != nil {
		t.Fatalf("creating netns: %v", err)
	}
	if err := netns.Set(orig); err != nil {
		t.Fatalf("restoring netns: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}
