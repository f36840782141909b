package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ctrlab/ctrlab/pkg/ns"
	"github.com/ctrlab/ctrlab/pkg/reexec"
)

// ExecConfig is what the "ctrlab-nsenter" child needs to run a process in
// a running container. It crosses the re-exec boundary as JSON.
type ExecConfig struct {
	Pid             int      `json:"pid"`
	Args            []string `json:"args"`
	Env             []string `json:"env"`
	Cwd             string   `json:"cwd"`
	User            string   `json:"user,omitempty"`
	Terminal        bool     `json:"terminal,omitempty"`
	Capabilities    []string `json:"capabilities"`
	NoNewPrivileges bool     `json:"noNewPrivileges"`
}

// nsOrder is the order setns(2) joins namespaces: mount last, since after
// it the host's /proc and /sys are out of reach (the fds are opened first).
var nsOrder = []ns.Kind{ns.IPC, ns.UTS, ns.Net, ns.PID, ns.Cgroup, ns.Mount}

// Exec runs args in the running container name: a re-executed
// "ctrlab-nsenter" joins the container's cgroup (writes itself to
// cgroup.procs), then each of its namespaces with setns(2) (mount last),
// drops to the container's capabilities and no_new_privs, and forks the
// process (a PID namespace is entered only by children). It returns the
// process's exit code. Equivalent to: `nsenter --all --target PID CMD`.
func (s *Store) Exec(ctx context.Context, name string, args []string, eo ExecOptions, opts ...Option) (int, error) {
	if len(args) == 0 {
		return -1, errors.New("no command to run")
	}
	st, err := s.running(name)
	if err != nil {
		return -1, err
	}
	if st.Config.UserNS {
		return -1, errors.New("exec into a container with a user namespace is not supported: setns(CLONE_NEWUSER) needs a single-threaded process")
	}
	o := newOptions(opts)
	cwd := eo.Cwd
	if cwd == "" {
		cwd = st.Config.Cwd
	}
	ec := ExecConfig{
		Pid: st.Pid, Args: args, Env: MergeEnv(st.Config.Env, eo.Env), Cwd: cwd,
		User: eo.User, Terminal: eo.Terminal,
		Capabilities: st.Config.Capabilities, NoNewPrivileges: st.Config.NoNewPrivileges,
	}
	if ec.User == "" {
		ec.User = st.Config.User
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("creating the exec pipe: %w", err)
	}
	parent, child := os.NewFile(uintptr(fds[0]), "execpipe"), os.NewFile(uintptr(fds[1]), "execpipe-child")
	defer parent.Close()
	defer child.Close()
	cmd := reexec.Command(NsenterEntrypoint)
	cmd.ExtraFiles = []*os.File{child}
	cmd.Env = []string{InitPipeEnv + "=3"}
	cmd.SysProcAttr.Setsid = true
	// With -t the pty is made inside the container (its own devpts, so
	// `tty` names it) and its master comes back over a second socketpair
	// with SCM_RIGHTS, as runc's console socket.
	var conParent, conChild *os.File
	if eo.Terminal {
		cfds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return -1, fmt.Errorf("creating the console socket: %w", err)
		}
		conParent, conChild = os.NewFile(uintptr(cfds[0]), "console"), os.NewFile(uintptr(cfds[1]), "console-child")
		defer conParent.Close()
		defer conChild.Close()
		cmd.ExtraFiles = append(cmd.ExtraFiles, conChild)
	} else {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = o.stdin, o.stdout, o.stderr
	}
	if err := cmd.Start(); err != nil {
		return -1, fmt.Errorf("starting %s: %w", NsenterEntrypoint, err)
	}
	child.Close()
	if conChild != nil {
		conChild.Close()
	}
	if err := json.NewEncoder(parent).Encode(ec); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return -1, err
	}
	var m message
	if err := json.NewDecoder(parent).Decode(&m); err == nil && m.Type == "error" && m.Err != nil {
		_ = cmd.Wait()
		return -1, m.Err
	}
	var console *os.File
	if conParent != nil {
		console, err = recvFile(conParent)
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return -1, fmt.Errorf("receiving the container's pty: %w", err)
		}
		defer console.Close()
	}
	copied := make(chan struct{})
	if console != nil {
		if eo.TerminalFD > 0 {
			_ = ResizeConsole(console, eo.TerminalFD)
		}
		if o.stdin != nil {
			go func() { _, _ = io.Copy(console, o.stdin) }()
		}
		go func() {
			out := o.stdout
			if out == nil {
				out = io.Discard
			}
			_, _ = io.Copy(out, console)
			close(copied)
		}()
	} else {
		close(copied)
	}
	done := make(chan struct{})
	var ps *os.ProcessState
	var werr error
	go func() {
		if console != nil {
			ps, werr = cmd.Process.Wait()
			<-copied
		} else {
			werr = cmd.Wait()
			ps = cmd.ProcessState
		}
		close(done)
	}()
	for {
		select {
		case <-done:
			return exitCode(ps, werr)
		case sig := <-eo.Signals:
			if sig == syscall.SIGWINCH {
				if console != nil && eo.TerminalFD > 0 {
					_ = ResizeConsole(console, eo.TerminalFD)
				}
				continue
			}
			_ = cmd.Process.Signal(sig)
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
			return exitCode(ps, werr)
		}
	}
}

// nsenterMain is the entrypoint "ctrlab-nsenter".
func nsenterMain() {
	runtime.LockOSThread()
	pipe := os.NewFile(3, "execpipe")
	unix.CloseOnExec(3)
	enc := json.NewEncoder(pipe)
	fail := func(se *StepError) {
		_ = enc.Encode(message{Type: "error", Err: se})
		os.Exit(126)
	}
	var ec ExecConfig
	if err := json.NewDecoder(pipe).Decode(&ec); err != nil {
		fail(stepErr("reading the exec config", "", err))
	}
	pid := strconv.Itoa(ec.Pid)
	// Open every namespace first: after joining the mount namespace the
	// host's /proc is gone.
	type nsFD struct {
		k  ns.Kind
		fd int
	}
	var fds []nsFD
	for _, k := range nsOrder {
		theirs, err := ns.Inode(pid, k)
		if err != nil {
			continue
		}
		if ours, _ := ns.Inode("self", k); ours == theirs {
			continue // not a namespace of its own (e.g. --network host)
		}
		fd, err := unix.Open(ns.Path(pid, k), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			fail(stepErr("opening namespace", ns.Path(pid, k), err))
		}
		fds = append(fds, nsFD{k, fd})
	}
	paths, err := cgroupPaths(ec.Pid)
	if err != nil {
		fail(stepErr("reading cgroups", "/proc/"+pid+"/cgroup", err))
	}
	for _, p := range paths {
		f := p + "/cgroup.procs"
		if err := os.WriteFile(f, []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // a hierarchy the host does not mount under /sys/fs/cgroup
			}
			fail(stepErr("joining cgroup", f, err))
		}
	}
	// setns(CLONE_NEWNS) refuses a thread that shares its fs_struct (root,
	// cwd) with other threads: give this thread its own first.
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		fail(stepErr("unshare(CLONE_FS)", "", err))
	}
	for _, n := range fds {
		if err := unix.Setns(n.fd, int(n.k.CloneFlag())); err != nil {
			fail(stepErr("setns", ns.Path(pid, n.k), err))
		}
		unix.Close(n.fd)
	}
	user, err := ResolveUser(ec.User, "/etc/passwd", "/etc/group")
	if err != nil {
		fail(stepErr("resolving user", ec.User, err))
	}
	env := ec.Env
	if getenv(env, "HOME") == "" {
		env = append(env, "HOME="+user.Home)
	}
	path, err := lookPath(ec.Args[0], getenv(env, "PATH"))
	if err != nil {
		fail(stepErr("looking up the command", ec.Args[0], err))
	}
	cfg := &Config{Capabilities: ec.Capabilities}
	if err := setUserAndCaps(cfg, user); err != nil {
		fail(asStep(err))
	}
	if ec.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			fail(stepErr("prctl(PR_SET_NO_NEW_PRIVS)", "", err))
		}
	}
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	attr := &syscall.ProcAttr{
		Dir: ec.Cwd, Env: env, Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{Setpgid: true},
	}
	if ec.Terminal {
		// A pty of the container's own devpts: open it now that we are in
		// its mount namespace, hand the master to the parent.
		master, slave, err := openPTY()
		if err != nil {
			fail(stepErr("opening a pty", "/dev/ptmx", err))
		}
		con := os.NewFile(4, "console")
		if err := sendFile(con, master); err != nil {
			fail(stepErr("sending the pty", "", err))
		}
		master.Close()
		con.Close()
		defer slave.Close()
		fd := slave.Fd()
		attr.Files = []uintptr{fd, fd, fd}
		attr.Sys = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	}
	// ForkExec clones from this (locked) thread: the child inherits its
	// namespaces, root, credentials and capabilities.
	child, err := syscall.ForkExec(path, ec.Args, attr)
	if err != nil {
		fail(stepErr("exec", path, err))
	}
	pipe.Close()
	os.Exit(superviseChild(child, sigs))
}

// sendFile passes f over the unix socket sock (SCM_RIGHTS).
func sendFile(sock, f *os.File) error {
	return unix.Sendmsg(int(sock.Fd()), []byte{'c'}, unix.UnixRights(int(f.Fd())), nil, 0)
}

// recvFile receives one file sent by sendFile.
func recvFile(sock *os.File) (*os.File, error) {
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("no file received (%v)", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("no file received (%v)", err)
	}
	return os.NewFile(uintptr(fds[0]), "pty-master"), nil
}

// superviseChild forwards signals to pid and reaps children until pid exits;
// it returns pid's exit code (128+N if killed by signal N).
func superviseChild(pid int, sigs chan os.Signal) int {
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			if sig != syscall.SIGURG { // the Go runtime's preemption signal
				_ = syscall.Kill(pid, sig.(syscall.Signal))
			}
			continue
		}
		for {
			var ws syscall.WaitStatus
			wpid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if err != nil || wpid <= 0 {
				break
			}
			if wpid == pid {
				if ws.Signaled() {
					return 128 + int(ws.Signal())
				}
				return ws.ExitStatus()
			}
		}
	}
	return 1
}

// reaperMain is "ctrlab-reaper", PID 1 with --init: it starts the process in
// its own process group, forwards every signal to it and reaps every zombie
// (orphans are re-parented to PID 1), then exits with the process's code.
func reaperMain() {
	if len(os.Args) < 3 {
		os.Exit(2)
	}
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	tty := os.Getenv("_CTRLAB_REAPER_TTY") != ""
	var env []string
	for _, kv := range os.Environ() {
		if envKey(kv) != "_CTRLAB_REAPER_TTY" {
			env = append(env, kv)
		}
	}
	pid, err := syscall.ForkExec(os.Args[1], os.Args[2:], &syscall.ProcAttr{
		Env: env, Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{Setpgid: true, Foreground: tty},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "ctrlab-reaper: exec %s: %v\n", os.Args[1], err)
		os.Exit(127)
	}
	os.Exit(superviseChild(pid, sigs))
}
