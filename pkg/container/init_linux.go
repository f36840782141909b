package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ctrlab/ctrlab/pkg/explain"
	"github.com/ctrlab/ctrlab/pkg/ns"
	"github.com/ctrlab/ctrlab/pkg/reexec"
)

// Entrypoint names (argv[0] of the re-executed ctrlab).
const (
	InitEntrypoint    = "ctrlab-init"
	ReaperEntrypoint  = "ctrlab-reaper"
	ShimEntrypoint    = "ctrlab-shim"
	NsenterEntrypoint = "ctrlab-nsenter"
	// InitPipeEnv names the fd of the init pipe in the child.
	InitPipeEnv = "_CTRLAB_INITPIPE"
)

func init() {
	reexec.Register(InitEntrypoint, Init)
	reexec.Register(ReaperEntrypoint, reaperMain)
	reexec.Register(ShimEntrypoint, shimMain)
	reexec.Register(NsenterEntrypoint, nsenterMain)
}

// message is what the child sends back over the init pipe.
type message struct {
	Type   string          `json:"type"` // "ready", "step", "error"
	Report *explain.Report `json:"report,omitempty"`
	Err    *StepError      `json:"error,omitempty"`
}

// goMessage releases the child once the parent's attach hooks are done.
type goMessage struct {
	Go bool `json:"go"`
	// CgroupDirs are cgroup v1 directories the init joins itself (see
	// JoinCgroupFromInit) before anything else.
	CgroupDirs []string `json:"cgroupDirs,omitempty"`
}

// Init is the container's init, the entrypoint "ctrlab-init" run by Start
// in the new namespaces. It reads the Config from the init pipe, tells the
// parent it exists, waits for "go", builds the container's filesystem,
// pivots into it, drops privileges and execs the process. It never returns:
// on failure it reports a StepError over the pipe and exits 1.
func Init() {
	// Everything below that is per-thread in the kernel (capabilities,
	// no_new_privs, the cgroup namespace) is done on this thread, and exec
	// from this thread keeps exactly that.
	runtime.LockOSThread()
	fd, err := strconv.Atoi(os.Getenv(InitPipeEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "ctrlab-init: not started by ctrlab (no "+InitPipeEnv+")")
		os.Exit(1)
	}
	unix.CloseOnExec(fd)
	unix.CloseOnExec(fd + 1) // the console socket, with a terminal
	pipe := os.NewFile(uintptr(fd), "initpipe")
	enc, dec := json.NewEncoder(pipe), json.NewDecoder(pipe)
	fail := func(se *StepError) {
		_ = enc.Encode(message{Type: "error", Err: se})
		os.Exit(1)
	}
	defer func() {
		if r := recover(); r != nil { // a bug: still one clear line, no stack trace
			fail(&StepError{Step: "ctrlab-init", Msg: fmt.Sprint("internal error: ", r)})
		}
	}()
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		fail(stepErr("reading the config from the init pipe", "", err))
	}
	if err := enc.Encode(message{Type: "ready"}); err != nil {
		os.Exit(1)
	}
	var g goMessage
	if err := dec.Decode(&g); err != nil || !g.Go {
		os.Exit(1) // the parent gave up (its attach hooks failed)
	}
	for _, dir := range g.CgroupDirs {
		if err := joinCgroupTasks(dir); err != nil {
			fail(stepErr("joining cgroup (echo 0 > tasks)", dir, err))
		}
	}
	step := func(r *explain.Report) { _ = enc.Encode(message{Type: "step", Report: r}) }
	// With --explain, wait until the parent has printed the narration so the
	// process's own output comes after it.
	shown := func() {
		_ = enc.Encode(message{Type: "explained"})
		var g goMessage
		_ = dec.Decode(&g)
	}
	sendConsole := func(master *os.File) error {
		if err := enc.Encode(message{Type: "console"}); err != nil {
			return err
		}
		return sendFile(os.NewFile(uintptr(fd+1), "console"), master)
	}
	se := setupAndExec(&cfg, step, shown, sendConsole)
	fail(se)
}

// joinCgroupTasks moves the calling thread (the one that execs the user's
// process: Init runs locked to it) into the cgroup v1 directory dir.
// Equivalent to: `echo 0 > DIR/tasks`.
func joinCgroupTasks(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, "tasks"), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString("0")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// snapshot is the kernel state the explain view compares.
type snapshot struct {
	hostname string
	mounts   map[string]string // mount point -> summary
	status   string
}

func takeSnapshot(points []string) snapshot {
	var s snapshot
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		s.hostname = unix.ByteSliceToString(u.Nodename[:])
	}
	s.mounts = map[string]string{}
	if b, err := os.ReadFile("/proc/thread-self/mountinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 5 {
				continue
			}
			for _, p := range points {
				if f[4] == p {
					s.mounts[p] = MountSummary(line)
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/thread-self/status"); err == nil {
		s.status = string(b)
	}
	return s
}

// MountSummary shortens a mountinfo line to "FSTYPE SOURCE root=ROOT OPTIONS".
func MountSummary(line string) string {
	f := strings.Fields(line)
	i := 0
	for i = 6; i < len(f) && f[i] != "-"; i++ {
	}
	if i+2 >= len(f) {
		return line
	}
	return fmt.Sprintf("%s %s root=%s %s", f[i+1], f[i+2], f[3], f[5])
}

var explainPoints = []string{"/", "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"}

func setupAndExec(cfg *Config, step func(*explain.Report), shown func(), sendConsole func(*os.File) error) *StepError {
	var before snapshot
	var cgBefore uint64
	if cfg.Explain {
		before = takeSnapshot(explainPoints)
		cgBefore, _ = ns.Inode("thread-self", ns.Cgroup)
	}
	if cfg.HasNS(ns.Cgroup) {
		// Unshared here, after the parent put us in our cgroup, so the
		// namespace's root is the container's cgroup (what runc does).
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return stepErr("unshare(CLONE_NEWCGROUP)", "", err)
		}
	}
	if err := setupRootfs(cfg); err != nil {
		return asStep(err)
	}
	if err := pivotRoot(cfg.Rootfs); err != nil {
		return asStep(err)
	}
	if cfg.Terminal {
		if err := setupConsole(sendConsole); err != nil {
			return asStep(err)
		}
	}
	absent := map[string]bool{}
	for _, p := range cfg.MaskedPaths {
		ok, err := maskPath(p)
		if err != nil {
			return stepErr("masking path", p, err)
		}
		absent[p] = !ok
	}
	for _, p := range cfg.ReadonlyPaths {
		ok, err := readonlyPath(p)
		if err != nil {
			return stepErr("making path read-only", p, err)
		}
		absent[p] = !ok
	}
	if cfg.ReadOnlyRootfs {
		if err := remountRO("/"); err != nil {
			return stepErr("remounting the rootfs read-only", "/", err)
		}
	}
	if cfg.HasNS(ns.UTS) && cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
			return stepErr("sethostname", cfg.Hostname, err)
		}
	}
	user, err := ResolveUser(cfg.User, "/etc/passwd", "/etc/group")
	if err != nil {
		return stepErr("resolving user", cfg.User, err)
	}
	env := cfg.Env
	if getenv(env, "HOME") == "" {
		env = append(env, "HOME="+user.Home)
	}
	path, err := lookPath(cfg.Args[0], getenv(env, "PATH"))
	if err != nil {
		return stepErr("looking up the command", cfg.Args[0], err)
	}
	if err := setUserAndCaps(cfg, user); err != nil {
		return asStep(err)
	}
	if cfg.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return stepErr("prctl(PR_SET_NO_NEW_PRIVS)", "", err)
		}
	}
	cwd := cfg.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if err := unix.Chdir(cwd); err != nil {
		return stepErr("changing to the working directory", cwd, err)
	}
	if cfg.Explain {
		after := takeSnapshot(explainPoints)
		cgAfter, _ := ns.Inode("thread-self", ns.Cgroup)
		for _, r := range initReports(cfg, user, path, before, after, cgBefore, cgAfter, absent) {
			step(r)
		}
		shown()
	}
	unix.Umask(0o022)
	argv0, argv := path, cfg.Args
	if cfg.Init {
		// A tiny reaper as PID 1: ctrlab itself, re-executed.
		argv0, argv = "/proc/self/exe", append([]string{ReaperEntrypoint, path}, cfg.Args...)
		if cfg.Terminal {
			env = append(env, "_CTRLAB_REAPER_TTY=1")
		}
	}
	err = unix.Exec(argv0, argv, env)
	return stepErr("exec", path, err)
}

func asStep(err error) *StepError {
	var se *StepError
	if errors.As(err, &se) {
		return se
	}
	return stepErr("setting up", "", err)
}

// lookPath finds file in the container's PATH (we are already pivoted).
func lookPath(file, path string) (string, error) {
	if path == "" {
		path = DefaultPath
	}
	if strings.Contains(file, "/") {
		if err := isExecutable(file); err != nil {
			return "", err
		}
		return file, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if isExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q: %w", file, ErrExecutableNotFound)
}

func isExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return ErrExecutableNotFound
		}
		return err
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return unix.EACCES
	}
	return nil
}

// capLastCap is the highest capability this kernel knows.
func capLastCap() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 40
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 40
	}
	return n
}

// setUserAndCaps does what runc's finalizeNamespace does: drop the
// bounding set, keep capabilities across setuid, switch user and groups,
// then set effective/permitted (inheritable empty, ambient cleared).
func setUserAndCaps(cfg *Config, u *ExecUser) error {
	mask, err := CapMask(cfg.Capabilities)
	if err != nil {
		return stepErr("parsing capabilities", "", err)
	}
	last := capLastCap()
	for i := 0; i <= last; i++ {
		if mask&(1<<uint(i)) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(i), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return stepErr("prctl(PR_CAPBSET_DROP, "+CapName(i)+")", "", err)
		}
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return stepErr("prctl(PR_SET_KEEPCAPS)", "", err)
	}
	groups := u.Groups
	if groups == nil {
		groups = []int{}
	}
	if err := unix.Setgroups(groups); err != nil {
		return stepErr("setgroups", "", err)
	}
	// Go's setresgid/setresuid change every thread of the process
	// (AllThreadsSyscall: a signal to each of the init's ~5 threads, ~1 ms).
	// When the real, effective and saved ids already are the target (root
	// running as root, the default) the calls would change nothing, so
	// they are skipped; any other case switches as before.
	if !idsAre(unix.Getresgid, u.GID) {
		if err := unix.Setresgid(u.GID, u.GID, u.GID); err != nil {
			return stepErr("setresgid", strconv.Itoa(u.GID), err)
		}
	}
	if !idsAre(unix.Getresuid, u.UID) {
		if err := unix.Setresuid(u.UID, u.UID, u.UID); err != nil {
			return stepErr("setresuid", strconv.Itoa(u.UID), err)
		}
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return stepErr("prctl(PR_SET_KEEPCAPS)", "", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for i := 0; i < 2; i++ {
		v := uint32(mask >> (32 * uint(i)))
		data[i].Effective, data[i].Permitted = v, v
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return stepErr("capset", "", err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return stepErr("prctl(PR_CAP_AMBIENT_CLEAR_ALL)", "", err)
	}
	return nil
}

// idsAre reports whether the real, effective and saved ids that get
// returns are all id.
func idsAre(get func() (int, int, int), id int) bool {
	r, e, sv := get()
	return r == id && e == id && sv == id
}
