package unshare

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ctrlab/ctrlab/pkg/ns"
	"github.com/ctrlab/ctrlab/pkg/reexec"
)

// Entrypoint names (argv[0] of re-executed ctrlab).
const (
	initName = "ctrlab-unshare-init"
	showName = "ctrlab-unshare-show"
)

// Environment shared between parent and init (and reexec's pipe fds). The
// init strips every _CTRLAB_ variable before it execs the command.
const (
	envStage  = "_CTRLAB_UNSHARE_STAGE"
	envConfig = "_CTRLAB_UNSHARE_CONFIG"
	envQuiet  = "_CTRLAB_UNSHARE_QUIET"
)

// initConfig is what crosses the re-exec boundary.
type initConfig struct {
	Config
	DemoMount string `json:"demoMount,omitempty"`
	MsgKey    int    `json:"msgKey,omitempty"`
	// UnsharePID asks the init to make the PID namespace together with the
	// time namespace (the parent leaves CLONE_NEWPID out of its clone).
	UnsharePID bool `json:"unsharePid,omitempty"`
	// TimeNS is the inode of the new time namespace, for the forked init
	// to check it is inside.
	TimeNS uint64 `json:"timeNs,omitempty"`
}

// message is one JSON line on the evidence pipe.
type message struct {
	View  *View      `json:"view,omitempty"`
	Err   *InitError `json:"error,omitempty"`
	Child int        `json:"childPid,omitempty"` // the forked init's PID (time namespace)
}

func init() {
	// A time namespace is entered through the thread group leader's
	// /proc/self/timens_offsets, so the init must run on the main thread:
	// locking in init() keeps main on the main OS thread (as runc's init).
	if filepath.Base(os.Args[0]) == initName {
		runtime.LockOSThread()
	}
	reexec.Register(initName, initMain)
	reexec.Register(showName, showMain)
}

func (c *initConfig) has(k ns.Kind) bool {
	for _, x := range c.Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// initMain runs as PID 1 of the new namespaces (when pid is among them):
// it sets each namespace up, reports what it sees, waits for the parent's
// go-ahead and execs the command. With a time namespace it runs twice: the
// first init makes the namespace and forks the second one into it
// (relayMain). It never returns.
func initMain() {
	runtime.LockOSThread()
	p := reexec.OpenChildPipes()
	p.Fail = func(code int, op, target string, err error) {
		ie := &InitError{Op: op, Target: target, Msg: err.Error()}
		var errno unix.Errno
		if errors.As(err, &errno) {
			ie.Errno = errno
		}
		p.Send(message{Err: ie})
		os.Exit(code)
	}

	var cfg initConfig
	stage2 := os.Getenv(envStage) == "2"
	if stage2 {
		if err := json.Unmarshal([]byte(os.Getenv(envConfig)), &cfg); err != nil {
			p.Fail(1, "decoding config", "", err)
		}
	} else {
		p.ReadConfig(&cfg)
	}

	if cfg.has(ns.Time) && !stage2 {
		// clone(CLONE_NEWTIME) would enter the namespace at once and freeze
		// its offsets at 0. unshare(2) only sets time_for_children (of this
		// thread: hence the lock); offsets are written while nobody is
		// inside; a forked child is the first process in it. PID comes here
		// too, so that child is also PID 1 (`unshare --pid --time --fork`).
		flags := unix.CLONE_NEWTIME
		op := "unshare(CLONE_NEWTIME)"
		if cfg.UnsharePID {
			flags |= unix.CLONE_NEWPID
			op = "unshare(CLONE_NEWTIME|CLONE_NEWPID)"
		}
		if err := unix.Unshare(flags); err != nil {
			p.Fail(1, op, "", err)
		}
		offs := fmt.Sprintf("monotonic %s\nboottime %s\n", secNsec(cfg.MonotonicOffset), secNsec(cfg.BoottimeOffset))
		if err := writeFile("/proc/self/timens_offsets", offs); err != nil {
			p.Fail(1, "writing time offsets to", "/proc/self/timens_offsets", err)
		}
		link, err := os.Readlink("/proc/self/ns/time_for_children")
		if err != nil {
			p.Fail(1, "reading", "/proc/self/ns/time_for_children", err)
		}
		if cfg.TimeNS, err = ns.ParseLink(link); err != nil {
			p.Fail(1, "reading", "/proc/self/ns/time_for_children", err)
		}
		relayMain(&cfg, p)
	}
	if cfg.has(ns.Time) {
		cur, err := ns.Inode("self", ns.Time)
		if err != nil || cur != cfg.TimeNS {
			p.Fail(1, "entering the time namespace", "", fmt.Errorf(
				"the forked init is in time:[%d], not the new time:[%d] (%v)", cur, cfg.TimeNS, err))
		}
	}
	if cfg.has(ns.Mount) {
		// Stop mount events from travelling back to the host: the same as
		// `mount --make-rprivate /`.
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			p.Fail(1, "mount(MS_REC|MS_PRIVATE)", "/", err)
		}
	}
	if cfg.has(ns.PID) {
		// A fresh procfs shows only the processes of the new PID namespace.
		if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			p.Fail(1, "mounting proc on", "/proc", err)
		}
	}
	if cfg.has(ns.Mount) && cfg.DemoMount != "" {
		if err := unix.Mount("ctrlab-demo", cfg.DemoMount, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=64k,mode=0755"); err != nil {
			p.Fail(1, "mounting tmpfs on", cfg.DemoMount, err)
		}
	}
	if cfg.has(ns.UTS) {
		h := cfg.Hostname
		if h == "" {
			h = DefaultHostname
		}
		if err := unix.Sethostname([]byte(h)); err != nil {
			p.Fail(1, "sethostname", h, err)
		}
	}
	if cfg.has(ns.IPC) && cfg.MsgKey != 0 {
		if _, _, e := unix.Syscall(unix.SYS_MSGGET, uintptr(cfg.MsgKey), uintptr(unix.IPC_CREAT|unix.IPC_EXCL|0o600), 0); e != 0 {
			p.Fail(1, "msgget", fmt.Sprintf("0x%08x", cfg.MsgKey), e)
		}
	}

	v := readView("self")
	if cfg.DemoMount != "" {
		for _, l := range lines("/proc/self/mountinfo") {
			if f := strings.Fields(l); len(f) > 4 && f[4] == cfg.DemoMount {
				v.DemoMount = l
			}
		}
	}
	p.Send(message{View: &v})

	// Wait until the parent has looked at us from outside.
	if !p.WaitGo() {
		os.Exit(1)
	}

	path, args := reexec.Self, []string{showName}
	env := reexec.CleanEnv(os.Environ())
	if len(cfg.Args) > 0 {
		args = cfg.Args
		lp, err := exec.LookPath(args[0])
		if err != nil {
			var ee *exec.Error
			if errors.As(err, &ee) {
				err = ee.Err
			}
			if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
				p.Fail(127, "looking up command", args[0], errors.New("not found in $PATH"))
			}
			p.Fail(126, "looking up command", args[0], err)
		}
		path = lp
	} else if cfg.Quiet {
		env = append(env, envQuiet+"=1")
	}
	if err := unix.Exec(path, args, env); err != nil {
		p.Fail(126, "executing", path, err)
	}
}

// relayMain forks the init that goes on in the new time (and PID)
// namespace, reports its PID to the parent, and exits with its status.
// It never returns.
func relayMain(cfg *initConfig, p *reexec.ChildPipes) {
	b, _ := json.Marshal(cfg)
	env := append(os.Environ(), envStage+"=2", envConfig+"="+string(b))
	path, err := syscall.BytePtrFromString(reexec.Self)
	if err != nil {
		p.Fail(1, "preparing the fork of", reexec.Self, err)
	}
	argv, err := syscall.SlicePtrFromStrings([]string{initName})
	if err != nil {
		p.Fail(1, "preparing the fork of", reexec.Self, err)
	}
	envv, err := syscall.SlicePtrFromStrings(env)
	if err != nil {
		p.Fail(1, "preparing the fork of", reexec.Self, err)
	}
	var syncP, errP [2]int
	if err := unix.Pipe2(syncP[:], unix.O_CLOEXEC); err != nil {
		p.Fail(1, "creating the fork pipes", "", err)
	}
	if err := unix.Pipe2(errP[:], unix.O_CLOEXEC); err != nil {
		p.Fail(1, "creating the fork pipes", "", err)
	}
	spec := &forkSpec{path: path, argv: &argv[0], envv: &envv[0],
		syncR: uintptr(syncP[0]), syncW: uintptr(syncP[1]), errR: uintptr(errP[0]), errW: uintptr(errP[1])}
	if !cfg.UnsharePID {
		spec.ppid = uintptr(os.Getpid()) // in a new PID namespace getppid() is 0
	}
	pid, errno := forkExec(spec)
	runtime.KeepAlive(argv)
	runtime.KeepAlive(envv)
	if errno != 0 {
		p.Fail(1, "fork(2) into the new time namespace", "", fmt.Errorf(
			"%w (a plain fork needs Linux 5.6 or newer for time namespaces, running %s)", errno, kernelRelease()))
	}
	unix.Close(syncP[0])
	unix.Close(errP[1])
	// Like a shell waiting for its job: the terminal's ^C and ^\ reach the
	// child directly (same process group); others are passed on.
	signal.Ignore(unix.SIGINT, unix.SIGQUIT)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGHUP, unix.SIGUSR1, unix.SIGUSR2)
	go func() {
		for s := range sigs {
			_ = unix.Kill(pid, s.(syscall.Signal))
		}
	}()

	// Our PID namespace is the parent's: this PID is the one it sees.
	p.Send(message{Child: pid})
	if _, err := unix.Write(syncP[1], []byte{'g'}); err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		wait(pid)
		p.Fail(1, "starting the forked init", "", err)
	}
	unix.Close(syncP[1])
	var eb [4]byte
	n, _ := io.ReadFull(os.NewFile(uintptr(errP[0]), "execerr"), eb[:])
	if n == len(eb) {
		wait(pid)
		p.Fail(1, "executing the forked init", reexec.Self, syscall.Errno(binary.NativeEndian.Uint32(eb[:])))
	}
	// The forked init holds the pipes now; the parent must see EOF when
	// it execs the command.
	p.In.Close()
	p.Out.Close()
	os.Exit(wait(pid))
}

// wait reaps pid and returns its exit status the way a shell reports it.
func wait(pid int) int {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 1
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}

// showMain is the default command: the inside view as `ps` and `id` would
// print it. It runs as PID 1 when a PID namespace was created.
func showMain() {
	if os.Getenv(envQuiet) != "" {
		os.Exit(0)
	}
	fmt.Fprintf(os.Stdout, "inside: pid %d, hostname %s, uid %d, gid %d\n", os.Getpid(), hostname(), os.Getuid(), os.Getgid())
	fmt.Fprintln(os.Stdout, "  PID COMMAND")
	for _, p := range procPIDs() {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline")
		cmd := strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
		fmt.Fprintf(os.Stdout, "%5d %s\n", p, cmd)
	}
	os.Exit(0)
}

func writeFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
