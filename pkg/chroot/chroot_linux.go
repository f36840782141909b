package chroot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ctrlab/ctrlab/pkg/explain"
	"github.com/ctrlab/ctrlab/pkg/reexec"
)

const (
	initName   = "ctrlab-chroot-init"
	escapeName = "ctrlab-chroot-escape"
	envIn      = "_CTRLAB_INITPIPE"
	envOut     = "_CTRLAB_EVIDENCEPIPE"
)

func init() {
	reexec.Register(initName, initMain)
	reexec.Register(escapeName, escapeMain)
}

// message is one JSON line from the child.
type message struct {
	Ready  bool          `json:"ready,omitempty"`
	List   []string      `json:"list,omitempty"`
	Err    *ChildError   `json:"error,omitempty"`
	Escape *EscapeResult `json:"escape,omitempty"`
}

// HasShell reports whether root has an executable /bin/sh (a symlink to
// busybox counts; it is resolved inside root).
func HasShell(root string) bool {
	p := filepath.Join(root, "bin", "sh")
	for i := 0; i < 16; i++ {
		st, err := os.Lstat(p)
		if err != nil {
			return false
		}
		if st.Mode()&os.ModeSymlink == 0 {
			return st.Mode().IsRegular() && st.Mode()&0o111 != 0
		}
		t, err := os.Readlink(p)
		if err != nil {
			return false
		}
		if filepath.IsAbs(t) {
			p = filepath.Join(root, t)
		} else {
			p = filepath.Join(filepath.Dir(p), t)
		}
	}
	return false
}

// Run starts cfg.Args with its root directory changed to cfg.Root and
// returns what the host saw: the root and cwd of the process before and
// after (readlink /proc/PID/root), and the command's exit status.
//
// Equivalent to: `chroot ROOTFS CMD`; syscalls chroot(2), chdir(2), execve(2).
func Run(ctx context.Context, cfg Config, stdio Stdio, opts ...Option) (*Result, error) {
	o := options{ready: func(*Result) error { return nil }}
	for _, opt := range opts {
		opt(&o)
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("resolving %q: %w", cfg.Root, err)
	}
	if st, err := os.Stat(root); err != nil {
		return nil, fmt.Errorf("opening new root %q: %w", root, err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("%q: %w", root, ErrNotDir)
	}
	cfg.Root = root
	res := &Result{Root: root, Command: cfg.Args}
	res.RootBefore, _ = os.Readlink("/proc/self/root")
	res.CwdBefore, _ = os.Getwd()
	res.ListBefore = listDir("/")

	c, err := startChild(ctx, initName, stdio)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.Send(cfg); err != nil {
		return nil, fmt.Errorf("sending config to the child: %w", err)
	}
	var m message
	if err = c.Recv(&m); err != nil || !m.Ready {
		werr := c.Wait()
		if m.Err != nil {
			return nil, m.Err
		}
		return nil, fmt.Errorf("waiting for the chrooted child: %v (child: %v)", err, werr)
	}
	res.HostPID = c.Cmd.Process.Pid
	res.RootAfter, _ = os.Readlink(fmt.Sprintf("/proc/%d/root", res.HostPID))
	res.CwdAfter, _ = os.Readlink(fmt.Sprintf("/proc/%d/cwd", res.HostPID))
	res.ListAfter = m.List
	res.Report = runReport(res)
	if err := c.Go(func() error { return o.ready(res) }); err != nil {
		return nil, err
	}
	var done message
	if res.ExitCode, err = c.Finish(&done); done.Err != nil {
		return res, done.Err
	}
	return res, err
}

// startChild starts the entrypoint name with its pipes (reexec.Child).
func startChild(ctx context.Context, name string, stdio Stdio) (*reexec.Child, error) {
	c, err := reexec.Start(ctx, name, func(cmd *exec.Cmd) error {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.In, stdio.Out, stdio.Err
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	return c, nil
}

// openChildSide opens the init's end of the pipes; Fail sends a ChildError.
func openChildSide() *reexec.ChildPipes {
	s := reexec.OpenChildPipes()
	s.Fail = func(code int, op, target string, err error) {
		ce := &ChildError{Op: op, Target: target, Msg: err.Error()}
		var errno unix.Errno
		if errors.As(err, &errno) {
			ce.Errno = errno
		}
		if errors.Is(err, exec.ErrNotFound) || (op == "looking up command" && errors.Is(err, os.ErrNotExist)) {
			ce.NotFound = true
		}
		s.Send(message{Err: ce})
		os.Exit(code)
	}
	return s
}

// initMain: chroot, chdir, report, wait for the go-ahead, exec.
func initMain() {
	s := openChildSide()
	var cfg Config
	s.ReadConfig(&cfg)
	if err := unix.Chroot(cfg.Root); err != nil {
		s.Fail(1, "chroot", cfg.Root, err)
	}
	// Without chdir the working directory would still be outside the root.
	if err := unix.Chdir("/"); err != nil {
		s.Fail(1, "chdir", "/", err)
	}
	s.Send(message{Ready: true, List: listDir("/")})
	if !s.WaitGo() {
		os.Exit(1)
	}
	if len(cfg.Args) == 0 {
		// The built-in view: this process is ctrlab, loaded before chroot.
		wd, _ := os.Getwd()
		fmt.Fprintf(os.Stdout, "inside the chroot: pwd %s\nls /:\n", wd)
		for _, n := range listDir("/") {
			fmt.Fprintln(os.Stdout, "  "+n)
		}
		os.Exit(0)
	}
	path, err := exec.LookPath(cfg.Args[0])
	if err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			err = ee.Err
		}
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			s.Fail(127, "looking up command", cfg.Args[0]+" inside "+cfg.Root, exec.ErrNotFound)
		}
		s.Fail(126, "looking up command", cfg.Args[0]+" inside "+cfg.Root, err)
	}
	if err := unix.Exec(path, cfg.Args, reexec.CleanEnv(os.Environ())); err != nil {
		s.Fail(126, "executing", path, err)
	}
}

func listDir(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// MakeBusyboxRootfs builds a minimal rootfs in dir: bin/busybox copied from
// busybox (a static binary) and applet symlinks (bin/sh -> busybox, ...).
//
// Equivalent to: `mkdir -p DIR/bin && cp /bin/busybox DIR/bin/ && for a in sh ls ...; do ln -s busybox DIR/bin/$a; done`.
func MakeBusyboxRootfs(dir, busybox string) error {
	if busybox == "" {
		busybox = "/bin/busybox"
	}
	src, err := os.Open(busybox)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoBusybox, err)
	}
	defer src.Close()
	for _, d := range []string{"bin", "tmp", "proc", "etc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", d, err)
		}
	}
	dst, err := os.OpenFile(filepath.Join(dir, "bin", "busybox"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return fmt.Errorf("copying busybox: %w", err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return fmt.Errorf("copying busybox: %w", err)
	}
	if err := dst.Close(); err != nil {
		return fmt.Errorf("copying busybox: %w", err)
	}
	for _, a := range Applets {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil && !os.IsExist(err) {
			return fmt.Errorf("linking applet %s: %w", a, err)
		}
	}
	return nil
}

// EscapeDemo builds a throw-away busybox rootfs next to a marker file that
// exists only outside it, starts a root process chrooted into the rootfs,
// and has it escape the classic way: mkdir x; chroot x (the working
// directory is now outside the root); chdir("..") until the real "/";
// chroot("."). The process then reads the marker: it is on the host's "/".
// Everything is removed afterwards.
func EscapeDemo(ctx context.Context, opts ...EscapeOption) (*EscapeResult, error) {
	o := escapeOptions{busybox: "/bin/busybox"}
	for _, opt := range opts {
		opt(&o)
	}
	dir, err := os.MkdirTemp(o.dir, "ctrlab-escape-")
	if err != nil {
		return nil, fmt.Errorf("creating the throw-away rootfs: %w", err)
	}
	defer os.RemoveAll(dir)
	dir, _ = filepath.Abs(dir)
	res := &EscapeResult{Dir: dir, Rootfs: filepath.Join(dir, "rootfs"), Marker: filepath.Join(dir, "outside-marker")}
	if err := MakeBusyboxRootfs(res.Rootfs, o.busybox); err != nil {
		return nil, err
	}
	token := make([]byte, 8)
	_, _ = rand.Read(token)
	want := "ctrlab outside marker " + hex.EncodeToString(token)
	if err := os.WriteFile(res.Marker, []byte(want+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("writing the marker: %w", err)
	}
	res.HostRoot = devIno("/")

	c, err := startChild(ctx, escapeName, Stdio{})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.Send(res); err != nil {
		return nil, fmt.Errorf("sending config to the child: %w", err)
	}
	var m message
	rerr := c.Recv(&m)
	werr := c.Wait()
	if m.Err != nil {
		return nil, m.Err
	}
	if m.Escape == nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("reading the escape result: %v (child: %v)", rerr, werr)
	}
	e := m.Escape
	res.ChrootRoot, res.EscapedRoot = e.ChrootRoot, e.EscapedRoot
	res.MarkerInside, res.MarkerRead, res.Steps = e.MarkerInside, strings.TrimSpace(e.MarkerRead), e.Steps
	res.Escaped = res.MarkerRead == want && res.EscapedRoot == res.HostRoot
	res.Report = escapeReport(res)
	return res, nil
}

func escapeReport(r *EscapeResult) *explain.Report {
	rep := &explain.Report{Title: "chroot escape: a root process walks out of " + r.Rootfs}
	rep.Add(`"/" (dev:inode)`, r.HostRoot+" (host)", r.ChrootRoot+" (in chroot)")
	rep.Add(`"/" after the escape`, r.HostRoot+" (host)", r.EscapedRoot)
	inside := "not found"
	if r.MarkerInside {
		inside = "readable"
	}
	after := "not found"
	if r.MarkerRead != "" {
		after = "read: " + r.MarkerRead
	}
	rep.Add(r.Marker+" in chroot", "exists (host)", inside)
	rep.Add(r.Marker+" after escape", "exists (host)", after)
	for _, s := range r.Steps {
		rep.Note(s)
	}
	if r.Escaped {
		rep.Note("ESCAPED: the process is back at the host's / — chroot is not a security boundary for root")
	} else {
		rep.Note("the escape did not reach the host's / on this system")
	}
	rep.Note("why it works: chroot(2) moves the root but not the working directory; with cwd outside the root, \"..\" is never clamped")
	rep.Note("runtimes instead: unshare(CLONE_NEWNS), pivot_root(new, old), umount2(old, MNT_DETACH): the host's / is no longer in the mount namespace, so no path leads back; they also drop CAP_SYS_CHROOT")
	rep.Note("the shell cannot do this: coreutils chroot(1) always calls chdir(\"/\") after chroot(2); the escape needs a program that makes the syscalls itself (here: ctrlab, re-executed)")
	rep.Equiv("chroot " + r.Rootfs + " /bin/sh   # then, as root inside, a program running: mkdir(\"x\"); chroot(\"x\"); chdir(\"..\") x N; chroot(\".\")")
	return rep
}

// escapeMain runs in the child: chroot into the rootfs, then escape.
func escapeMain() {
	s := openChildSide()
	var cfg EscapeResult
	s.ReadConfig(&cfg)
	r := &EscapeResult{}
	step := func(f string, a ...any) { r.Steps = append(r.Steps, fmt.Sprintf(f, a...)) }
	if err := unix.Chroot(cfg.Rootfs); err != nil {
		s.Fail(1, "chroot", cfg.Rootfs, err)
	}
	if err := unix.Chdir("/"); err != nil {
		s.Fail(1, "chdir", "/", err)
	}
	step("chroot(%q); chdir(\"/\"): the process is jailed", cfg.Rootfs)
	r.ChrootRoot = devIno("/")
	_, err := os.ReadFile(cfg.Marker)
	r.MarkerInside = err == nil
	step("open(%q) inside: %v", cfg.Marker, errString(err))

	if err := os.Mkdir("/ctrlab-escape", 0o700); err != nil && !os.IsExist(err) {
		s.Fail(1, "mkdir", "/ctrlab-escape", err)
	}
	if err := unix.Chroot("/ctrlab-escape"); err != nil {
		s.Fail(1, "chroot", "/ctrlab-escape", err)
	}
	step(`mkdir("/ctrlab-escape"); chroot("/ctrlab-escape") without chdir: cwd is now outside the root`)
	n := 0
	for ; n < 256; n++ {
		before := devIno(".")
		if err := unix.Chdir(".."); err != nil {
			s.Fail(1, "chdir", "..", err)
		}
		if devIno(".") == before { // ".." of the real / is itself
			break
		}
	}
	step(`chdir("..") %d times, until ".." is "." (the real /)`, n+1)
	if err := unix.Chroot("."); err != nil {
		s.Fail(1, "chroot", ".", err)
	}
	step(`chroot("."): the root is the host's / again`)
	r.EscapedRoot = devIno("/")
	b, err := os.ReadFile(cfg.Marker)
	if err == nil {
		r.MarkerRead = string(b)
	}
	step("open(%q) after the escape: %v", cfg.Marker, errString(err))
	s.Send(message{Escape: r})
	os.Exit(0)
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func devIno(path string) string {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return "?"
	}
	return fmt.Sprintf("%d:%d", uint64(st.Dev), uint64(st.Ino))
}
