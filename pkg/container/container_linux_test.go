package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ctrlab/ctrlab/pkg/ns"
	"github.com/ctrlab/ctrlab/pkg/testutil"
)

func TestRunPID1AndNamespaces(t *testing.T) {
	testutil.RequireRoot(t)
	s := newStore(t)
	cfg := NewConfig(busyboxRootfs(t), "/bin/sh", "-c",
		`echo $$; for n in mnt pid net ipc uts cgroup; do readlink /proc/self/ns/$n; done`)
	out, code := run(t, s, cfg)
	if code != 0 {
		t.Fatalf("exit %d, output %q", code, out)
	}
	lines := strings.Fields(out)
	if len(lines) != 7 || lines[0] != "1" {
		t.Fatalf("want PID 1 then 6 namespace links, got %q", out)
	}
	host, err := ns.Inodes("self")
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range []ns.Kind{ns.Mount, ns.PID, ns.Net, ns.IPC, ns.UTS, ns.Cgroup} {
		got, err := ns.ParseLink(lines[i+1])
		if err != nil {
			t.Fatal(err)
		}
		if got == host[k] {
			t.Errorf("%s namespace inode %d is the host's", k, got)
		}
	}
}

func TestRootfsIsPivotedAndEscapeFails(t *testing.T) {
	testutil.RequireRoot(t)
	s := newStore(t)
	rootfs := busyboxRootfs(t)
	marker := filepath.Join(filepath.Dir(rootfs), "host-marker-"+testutil.Name(""))
	write(t, marker, "host")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if !selfIsStatic() {
		t.Skip("the test binary is dynamically linked: build it with CGO_ENABLED=0 to copy it into a rootfs")
	}
	copyFile(t, self, filepath.Join(rootfs, "bin/escape"), 0o755)
	if err := os.Symlink("escape", filepath.Join(rootfs, "bin/ctrlab-test-escape")); err != nil {
		t.Fatal(err)
	}

	// Positive control: with chroot(2) alone, the escape works.
	ctl := exec_(t, "chroot", rootfs, "/bin/ctrlab-test-escape", marker)
	if !strings.Contains(ctl, "ESCAPED") {
		t.Fatalf("control: the escape should work from a plain chroot, got %q", ctl)
	}

	cfg := NewConfig(rootfs, "/bin/sh", "-c",
		`cat /proc/self/mountinfo; echo ---; ctrlab-test-escape `+marker+`; cat `+marker+` 2>&1 || true`)
	out, code := run(t, s, cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	mi, rest, _ := strings.Cut(out, "---")
	// Exactly one mount at "/", and its root is the rootfs directory.
	var roots []string
	for _, line := range strings.Split(mi, "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[4] == "/" {
			roots = append(roots, f[3])
		}
	}
	if len(roots) != 1 || !strings.HasSuffix(rootfs, roots[0]) {
		t.Errorf("mounts at / inside: roots %q, want one ending the rootfs %q\n%s", roots, rootfs, mi)
	}
	if strings.Contains(mi, filepath.Dir(rootfs)+" ") {
		t.Errorf("the host's tree is still mounted inside:\n%s", mi)
	}
	if !strings.Contains(rest, "contained") || strings.Contains(rest, "ESCAPED") || strings.Contains(rest, "host\n") {
		t.Errorf("escape attempt: %q", rest)
	}
}

// exec_ runs a host command and returns its combined output.
func exec_(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := osexec(name, args...)
	if err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
	return out
}

func TestCapabilitiesAndNoNewPrivs(t *testing.T) {
	testutil.RequireRoot(t)
	s := newStore(t)
	out, code := run(t, s, NewConfig(busyboxRootfs(t), "cat", "/proc/self/status"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	want, _ := CapMask(DefaultCapabilities)
	for _, f := range []string{"CapEff", "CapPrm", "CapBnd"} {
		got, err := ParseStatusCaps(out, f)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s = %016x %v, want %016x", f, got, CapNames(got), want)
		}
	}
	for _, f := range []string{"CapInh", "CapAmb"} {
		if got, _ := ParseStatusCaps(out, f); got != 0 {
			t.Errorf("%s = %016x, want 0", f, got)
		}
	}
	if v := statusField(out, "NoNewPrivs"); v != "1" {
		t.Errorf("NoNewPrivs = %q, want 1", v)
	}

	// --cap-drop ALL --cap-add NET_ADMIN, as a non-root user: no caps at all.
	cfg := NewConfig(busyboxRootfs(t), "cat", "/proc/self/status")
	cfg.Capabilities, _ = AdjustCaps(DefaultCapabilities, []string{"NET_ADMIN"}, []string{"ALL"})
	cfg.User = "nobody"
	out, _ = run(t, s, cfg)
	if got, _ := ParseStatusCaps(out, "CapBnd"); got != 1<<12 {
		t.Errorf("CapBnd = %016x, want only CAP_NET_ADMIN", got)
	}
	if got, _ := ParseStatusCaps(out, "CapEff"); got != 0 {
		t.Errorf("nobody's CapEff = %016x, want 0", got)
	}
	if v := statusField(out, "Uid"); !strings.HasPrefix(v, "65534") {
		t.Errorf("Uid = %q, want 65534", v)
	}
}

func TestMaskedAndReadonlyPaths(t *testing.T) {
	testutil.RequireRoot(t)
	s := newStore(t)
	// Check every default masked path this kernel has, and that the host
	// really shows something there (so the test can fail).
	var script strings.Builder
	var checked []string
	for _, p := range DefaultMaskedPaths {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if fi.IsDir() {
			ents, _ := os.ReadDir(p)
			if len(ents) == 0 {
				continue
			}
			fmt.Fprintf(&script, "echo %s=$(ls -A %s | wc -l)\n", p, p)
		} else {
			// Read a little only: /proc/kcore claims a size of 128 TiB.
			f, err := os.Open(p)
			if err != nil {
				continue
			}
			n, _ := f.Read(make([]byte, 64))
			f.Close()
			if n == 0 {
				continue
			}
			fmt.Fprintf(&script, "echo %s=$(cat %s | wc -c)\n", p, p)
		}
		checked = append(checked, p)
	}
	if len(checked) == 0 {
		t.Fatal("no default masked path has content on this host: nothing to check")
	}
	script.WriteString("echo 3 > /proc/sys/vm/drop_caches; echo sys=$?\n")
	script.WriteString("echo x > /proc/sys/kernel/hostname\n")
	script.WriteString("touch /sys/ctrlab 2>&1\n")
	out, _ := run(t, s, NewConfig(busyboxRootfs(t), "/bin/sh", "-c", script.String()))
	for _, p := range checked {
		if !strings.Contains(out, p+"=0\n") {
			t.Errorf("masked %s is readable inside:\n%s", p, out)
		}
	}
	if !strings.Contains(out, "sys=1\n") {
		t.Errorf("writing /proc/sys/vm/drop_caches succeeded:\n%s", out)
	}
	if n := strings.Count(out, "Read-only file system"); n != 3 {
		t.Errorf("want 3 writes refused with EROFS (/proc/sys twice, /sys), got %d:\n%s", n, out)
	}
}

func TestExitCodeAndNotFound(t *testing.T) {
	testutil.RequireRoot(t)
	s := newStore(t)
	rootfs := busyboxRootfs(t)
	if out, code := run(t, s, NewConfig(rootfs, "sh", "-c", "exit 42")); code != 42 {
		t.Errorf("exit code %d, want 42 (%s)", code, out)
	}
	// PID 1 is immune to signals sent from inside its namespace, even
	// SIGKILL: kill the process under the --init reaper instead.
	if selfIsStatic() {
		killed := NewConfig(rootfs, "sh", "-c", "kill -9 $$")
		killed.Init = true
		if out, code := run(t, s, killed); code != 137 {
			t.Errorf("exit code %d, want 137 (%s)", code, out)
		}
	}
	cfg := NewConfig(rootfs, "no-such-binary")
	cfg.Name = testutil.Name("c")
	_, err := s.Run(context.Background(), cfg, RunOptions{AutoRemove: true})
	if !errors.Is(err, ErrExecutableNotFound) || !strings.Contains(err.Error(), "no-such-binary") {
		t.Errorf("err = %v, want executable not found naming the binary", err)
	}
	if _, err := os.Stat(s.Dir(cfg.ID)); !os.IsNotExist(err) {
		t.Errorf("a failed start left its state dir: %v", err)
	}
}

func TestInitReaper(t *testing.T) {
	testutil.RequireRoot(t)
	s := newStore(t)
	if !selfIsStatic() {
		t.Skip("--init needs a static binary: build the test with CGO_ENABLED=0")
	}
	cfg := NewConfig(busyboxRootfs(t), "sh", "-c", "echo $$; cat /proc/1/cmdline | tr '\\0' ' '; exit 5")
	cfg.Init = true
	out, code := run(t, s, cfg)
	if code != 5 {
		t.Errorf("exit %d, want 5: %s", code, out)
	}
	if f := strings.Fields(out); len(f) < 2 || f[0] == "1" || f[1] != ReaperEntrypoint {
		t.Errorf("want the process not PID 1 and PID 1 the reaper, got %q", out)
	}
}

func pidStr(p int) string { return strconv.Itoa(p) }

var _ = fmt.Sprint

func TestDevVolumesReadOnlyRootfs(t *testing.T) {
	testutil.RequireRoot(t)
	s := newStore(t)
	rw, ro := t.TempDir(), t.TempDir()
	write(t, filepath.Join(ro, "in-ro"), "ro-content")
	cfg := NewConfig(busyboxRootfs(t), "sh", "-c", `
stat -c '%n %F %t:%T' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty
ls /dev | tr '\n' ' '; echo
for l in ptmx fd stdin; do readlink /dev/$l; done
touch /rootfs-write 2>&1
echo hello > /rw/out
cat /ro/in-ro; echo
touch /ro/nope 2>&1
echo > /dev/shm/ok && echo shm-ok
hostname`)
	cfg.Hostname = "ctrlab-dev"
	cfg.ReadOnlyRootfs = true
	cfg.Mounts = []Mount{{Source: rw, Destination: "/rw"}, {Source: ro, Destination: "/ro", ReadOnly: true}}
	out, code := run(t, s, cfg)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{
		"/dev/null character special file 1:3", "/dev/zero character special file 1:5",
		"/dev/full character special file 1:7", "/dev/random character special file 1:8",
		"/dev/urandom character special file 1:9", "/dev/tty character special file 5:0",
		"pts/ptmx\n/proc/self/fd\n/proc/self/fd/0\n",
		"touch: /rootfs-write: Read-only file system", "ro-content\n", "touch: /ro/nope: Read-only file system",
		"shm-ok\n", "ctrlab-dev\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("want %q in:\n%s", want, out)
		}
	}
	// Only the default devices: no disk, no kmsg, no mem.
	for _, f := range strings.Fields(strings.Split(out, "\n")[6]) {
		switch f {
		case "null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm", "mqueue",
			"fd", "stdin", "stdout", "stderr", "core":
		default:
			t.Errorf("unexpected /dev entry %q", f)
		}
	}
	if b, err := os.ReadFile(filepath.Join(rw, "out")); err != nil || string(b) != "hello\n" {
		t.Errorf("rw volume: %q, %v", b, err)
	}
}

func TestUserNamespace(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireUserNS(t)
	s := newStore(t)
	rootfs := busyboxRootfs(t)
	// The rootfs must be traversable by the mapped root (host uid 100000).
	for _, d := range []string{filepath.Dir(rootfs), filepath.Dir(filepath.Dir(rootfs))} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := NewConfig(rootfs, "sh", "-c", `cat /proc/self/uid_map; id -u; readlink /proc/self/ns/user`)
	cfg.UserNS = true
	cfg.Namespaces = append(cfg.Namespaces, ns.User)
	cfg.UIDMappings = []IDMap{{ContainerID: 0, HostID: 100000, Size: 65536}}
	cfg.GIDMappings = []IDMap{{ContainerID: 0, HostID: 100000, Size: 65536}}
	out, code := run(t, s, cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	f := strings.Fields(out)
	if len(f) != 5 || f[0] != "0" || f[1] != "100000" || f[3] != "0" {
		t.Fatalf("uid_map/id: %q", out)
	}
	host, _ := ns.Inode("self", ns.User)
	if got, _ := ns.ParseLink(f[4]); got == host {
		t.Errorf("user namespace is the host's")
	}
}

func TestTerminal(t *testing.T) {
	testutil.RequireRoot(t)
	s := newStore(t)
	cfg := NewConfig(busyboxRootfs(t), "sh", "-c", `tty; stat -c %t:%T /dev/console "$(tty)"; exit 3`)
	cfg.Terminal = true
	out, code := run(t, s, cfg)
	if code != 3 {
		t.Fatalf("exit %d: %q", code, out)
	}
	f := strings.Fields(out)
	// The pty is the container's own (/dev/pts/N of its devpts), and
	// /dev/console is the same device.
	if len(f) != 3 || !strings.HasPrefix(f[0], "/dev/pts/") || f[1] != f[2] {
		t.Errorf("tty output %q", out)
	}
}
