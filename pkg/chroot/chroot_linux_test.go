package chroot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ctrlab/ctrlab/pkg/reexec"
	"github.com/ctrlab/ctrlab/pkg/testutil"
)

func init() {
	reexec.Register("ctrlab-chroot-test-run", func() {
		_, err := Run(context.Background(), Config{Root: os.Args[1], Args: []string{"/bin/true"}}, Stdio{})
		fmt.Printf("eperm=%v %v\n", errors.Is(err, unix.EPERM), err)
		os.Exit(0)
	})
}

func TestMain(m *testing.M) {
	if reexec.Init() {
		return
	}
	os.Exit(m.Run())
}

func requireBusybox(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs /bin/busybox (apt-get install busybox-static)")
	}
}

func TestHasShell(t *testing.T) {
	requireBusybox(t)
	dir := t.TempDir()
	if HasShell(dir) {
		t.Fatal("HasShell on an empty dir")
	}
	if err := MakeBusyboxRootfs(dir, ""); err != nil {
		t.Fatal(err)
	}
	if !HasShell(dir) {
		t.Fatal("HasShell false on a busybox rootfs")
	}
}

// treeSnapshot lists every path under dir, to prove a run leaves it unchanged.
func treeSnapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		b.WriteString(p + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestRunChangesRoot(t *testing.T) {
	testutil.RequireRoot(t)
	requireBusybox(t)
	root := t.TempDir()
	if err := MakeBusyboxRootfs(root, ""); err != nil {
		t.Fatal(err)
	}
	// A file only inside the rootfs, and one only outside it.
	if err := os.WriteFile(filepath.Join(root, "etc", "inside"), []byte("in\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := treeSnapshot(t, root)
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, Config{Root: root, Args: []string{"/bin/sh", "-c", "cat /etc/inside; ls /; test -e " + root + " || echo no-host-path"}},
		Stdio{Out: &out, Err: &out})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	if res.ExitCode != 0 {
		t.Fatalf("exit %d\n%s", res.ExitCode, out.String())
	}
	if res.RootBefore != "/" || res.RootAfter != root || res.CwdAfter != root {
		t.Errorf("root %q -> %q, cwd %q; want / -> %s, cwd %s", res.RootBefore, res.RootAfter, res.CwdAfter, root, root)
	}
	got := out.String()
	if !strings.HasPrefix(got, "in\n") || !strings.Contains(got, "no-host-path") || strings.Contains(got, "proc\nsys") {
		t.Errorf("inside output:\n%s", got)
	}
	if after := treeSnapshot(t, root); after != before {
		t.Errorf("rootfs changed by the run:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestRunBuiltinView(t *testing.T) {
	testutil.RequireRoot(t)
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "ctrlab-only-here"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := treeSnapshot(t, root)
	var out bytes.Buffer
	res, err := Run(context.Background(), Config{Root: root}, Stdio{Out: &out})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Run: %v, %+v", err, res)
	}
	if got := out.String(); got != "inside the chroot: pwd /\nls /:\n  ctrlab-only-here\n" {
		t.Errorf("built-in view:\n%s", got)
	}
	if strings.Join(res.ListAfter, " ") != "ctrlab-only-here" {
		t.Errorf("ListAfter = %v", res.ListAfter)
	}
	if after := treeSnapshot(t, root); after != before {
		t.Errorf("rootfs changed: %s vs %s", before, after)
	}
}

func TestRunMissingCommand(t *testing.T) {
	testutil.RequireRoot(t)
	res, err := Run(context.Background(), Config{Root: t.TempDir(), Args: []string{"/bin/sh"}}, Stdio{})
	if !errors.Is(err, ErrCommandNotFound) || res == nil || res.ExitCode != 127 {
		t.Fatalf("res=%+v err=%v; want ErrCommandNotFound, exit 127", res, err)
	}
	if _, err := Run(context.Background(), Config{Root: "/etc/hostname"}, Stdio{}); !errors.Is(err, ErrNotDir) {
		t.Fatalf("err = %v, want ErrNotDir", err)
	}
}

func TestRunUnprivilegedIsRefused(t *testing.T) {
	testutil.RequireRoot(t)
	// chroot(2) needs CAP_SYS_CHROOT: run Run as uid 65534 in a child.
	cmd := reexec.Command("ctrlab-chroot-test-run", "/")
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 65534, Gid: 65534}
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("running as uid 65534: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); !strings.HasPrefix(got, "eperm=true ") || !strings.Contains(got, "chroot /: operation not permitted") {
		t.Fatalf("unprivileged chroot: %q; want EPERM from chroot", got)
	}
}

func TestEscapeDemoEscapes(t *testing.T) {
	testutil.RequireRoot(t)
	requireBusybox(t)
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := EscapeDemo(ctx, WithTempDir(tmp))
	if err != nil {
		t.Fatal(err)
	}
	if res.MarkerInside {
		t.Error("the marker was readable inside the chroot before the escape")
	}
	if res.ChrootRoot == res.HostRoot {
		t.Errorf("chroot did not change / (%s)", res.ChrootRoot)
	}
	if !res.Escaped || res.EscapedRoot != res.HostRoot || !strings.HasPrefix(res.MarkerRead, "ctrlab outside marker ") {
		t.Errorf("no escape: %+v", res)
	}
	// The throw-away rootfs is gone.
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("left behind in %s: %v", tmp, ents)
	}
}
