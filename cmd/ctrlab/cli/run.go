package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ctrlab/ctrlab/pkg/container"
	"github.com/ctrlab/ctrlab/pkg/explain"
	"github.com/ctrlab/ctrlab/pkg/ns"
)

type runOptions struct {
	Root        string
	Rootfs      string
	Name        string
	Rm          bool
	Interactive bool
	TTY         bool
	Detach      bool
	Env         []string
	EnvFiles    []string
	Volumes     []string
	Workdir     string
	User        string
	Hostname    string
	ReadOnly    bool
	Entrypoint  string
	CapAdd      []string
	CapDrop     []string
	Init        bool
	Explain     bool
	Network     string
	Publish     []string
	Limits      runLimits
	Args        []string

	memory string
}

// runLimits are the cgroup limits of -m/--cpus/--pids-limit. PENDING
// WIRING: parsed and validated here; pkg/cgroup applies them once merged
// (see wireRun).
type runLimits struct {
	MemoryBytes int64   `json:"memoryBytes,omitempty"`
	CPUs        float64 `json:"cpus,omitempty"`
	Pids        int64   `json:"pids,omitempty"`
}

func newRunCmd(app *App, runF func(*runOptions) error) *cobra.Command {
	opts := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run --rootfs DIR [flags] [CMD [ARG...]]",
		Short: "Run a command in a new container, built like runc builds one",
		Long: `Run a command in a new container: every piece the steps built by hand, at once.

ctrlab re-executes itself as "ctrlab-init" with clone(2) flags for new mount,
PID, UTS, IPC, network and cgroup namespaces. The init makes / a slave mount,
bind-mounts the rootfs onto itself, mounts /proc, a tmpfs /dev with only
null zero full random urandom tty (+ /dev/pts, /dev/shm, /dev/mqueue), /sys
read-only and /sys/fs/cgroup, hides the paths runc hides (/proc/kcore,
/proc/keys, /sys/firmware, ...) and makes /proc/sys and friends read-only.
Then pivot_root(2) into the rootfs (not chroot: the old root is unmounted,
so there is no way back up), sethostname(2), the user (-u), capabilities
reduced to runc's default 14 (prctl PR_CAPBSET_DROP, capset(2)),
no_new_privs, and execve(2) of CMD, found in the container's PATH.

--explain narrates each step with the kernel state it produced: namespace
inodes host vs container, the mountinfo lines, capabilities kept and dropped.

The exit status of ctrlab run is the container process's (128+N if killed
by signal N). Signals sent to ctrlab are forwarded to the container's PID 1;
note that a PID 1 ignores signals it has no handler for (use --init).

Pending wiring (accepted, validated, not yet applied): --memory, --cpus,
--pids-limit (pkg/cgroup), --network bridge and -p (pkg/netsetup). Today
--network none (default: an empty network namespace, only lo) and
--network host (no network namespace) work.`,
		Example: `  sudo ctrlab run --rootfs /tmp/busybox --rm sh -c 'echo $$; hostname'
  sudo ctrlab run --rootfs /tmp/busybox --rm -it sh
  sudo ctrlab run --rootfs /tmp/busybox --rm --explain true
  sudo ctrlab run --rootfs /tmp/busybox -d --name web httpd -f -p 8080
  sudo ctrlab run --rootfs /tmp/busybox --rm --cap-drop ALL -u nobody -v /srv:/data:ro ls /data`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Args = args
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runRun(cmd, app, opts)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false) // flags after CMD belong to CMD
	addRootFlag(cmd, &opts.Root)
	f.StringVar(&opts.Rootfs, "rootfs", "", "directory to use as the container's root filesystem (required)")
	f.StringVar(&opts.Name, "name", "", "container name (default ctrlab-<id>)")
	f.BoolVar(&opts.Rm, "rm", false, "remove the container when it exits")
	f.BoolVarP(&opts.Interactive, "interactive", "i", false, "keep stdin open")
	f.BoolVarP(&opts.TTY, "tty", "t", false, "allocate a pseudo-terminal")
	f.BoolVarP(&opts.Detach, "detach", "d", false, "run in the background; print the container ID")
	f.StringArrayVarP(&opts.Env, "env", "e", nil, "set an environment variable KEY=VALUE (KEY alone: from the host)")
	f.StringArrayVar(&opts.EnvFiles, "env-file", nil, "read environment variables from a file")
	f.StringArrayVarP(&opts.Volumes, "volume", "v", nil, "bind-mount a volume HOST:CONTAINER[:ro]")
	f.StringVarP(&opts.Workdir, "workdir", "w", "", "working directory inside the container")
	f.StringVarP(&opts.User, "user", "u", "", "user: uid[:gid] or name[:group] from the rootfs /etc/passwd")
	f.StringVar(&opts.Hostname, "hostname", "", "container hostname (default: the short ID)")
	f.BoolVar(&opts.ReadOnly, "read-only", false, "mount the root filesystem read-only")
	f.StringVar(&opts.Entrypoint, "entrypoint", "", "command to run, with CMD as its arguments")
	f.StringArrayVar(&opts.CapAdd, "cap-add", nil, "add a capability (e.g. NET_ADMIN, or ALL)")
	f.StringArrayVar(&opts.CapDrop, "cap-drop", nil, "drop a capability (e.g. CHOWN, or ALL)")
	f.BoolVar(&opts.Init, "init", false, "run a tiny init as PID 1 that forwards signals and reaps zombies")
	f.BoolVar(&opts.Explain, "explain", false, "narrate each step with the kernel state it produced (to stderr)")
	f.StringVar(&opts.Network, "network", "none", "network: none (new empty netns), host (no netns); bridge: pending")
	f.StringArrayVarP(&opts.Publish, "publish", "p", nil, "publish a port HOST:CONTAINER (pending: needs --network bridge)")
	f.StringVarP(&opts.memory, "memory", "m", "", "memory limit, e.g. 64m (pending cgroup wiring)")
	f.Float64Var(&opts.Limits.CPUs, "cpus", 0, "CPU limit, e.g. 0.5 (pending cgroup wiring)")
	f.Int64Var(&opts.Limits.Pids, "pids-limit", 0, "maximum number of processes (pending cgroup wiring)")
	return cmd
}

func (o *runOptions) validate() error {
	if o.Rootfs == "" {
		return flagErrorf("--rootfs DIR is required (images come with the images step)")
	}
	if o.Detach && o.TTY {
		return flagErrorf("-t with -d is not supported: there is no attach to come back to the terminal")
	}
	if o.Detach && o.Explain {
		return flagErrorf("--explain with -d is not supported: the narration needs the foreground")
	}
	switch o.Network {
	case "none", "host":
	case "bridge":
		return flagErrorf("--network bridge is not wired yet: use none or host")
	default:
		return flagErrorf("--network %q: want none or host", o.Network)
	}
	if len(o.Publish) > 0 {
		return flagErrorf("-p needs --network bridge, which is not wired yet")
	}
	if o.memory != "" {
		n, err := parseBytes(o.memory)
		if err != nil {
			return flagErrorf("--memory %q: %v", o.memory, err)
		}
		o.Limits.MemoryBytes = n
	}
	if o.Limits.CPUs < 0 || o.Limits.Pids < 0 {
		return flagErrorf("--cpus and --pids-limit must not be negative")
	}
	for _, v := range o.Volumes {
		if _, err := container.ParseVolume(v); err != nil {
			return flagErrorf("-v: %v", err)
		}
	}
	if _, err := container.AdjustCaps(container.DefaultCapabilities, o.CapAdd, o.CapDrop); err != nil {
		return flagErrorf("%v", err)
	}
	return nil
}

// parseBytes parses docker's sizes: 64m, 1g, 512k, 1048576.
func parseBytes(s string) (int64, error) {
	mult := int64(1)
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "b")
	if t != "" {
		switch t[len(t)-1] {
		case 'k':
			mult, t = 1<<10, t[:len(t)-1]
		case 'm':
			mult, t = 1<<20, t[:len(t)-1]
		case 'g':
			mult, t = 1<<30, t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, errors.New("want a positive size like 64m or 1g")
	}
	return n * mult, nil
}

// buildConfig turns flags into a container.Config.
func (o *runOptions) buildConfig() (*container.Config, error) {
	args := o.Args
	if o.Entrypoint != "" {
		args = append([]string{o.Entrypoint}, args...)
	}
	if len(args) == 0 {
		args = []string{"/bin/sh"} // the image's entrypoint/cmd, once images are wired
	}
	cfg := container.NewConfig(o.Rootfs, args...)
	cfg.Name, cfg.Hostname, cfg.User, cfg.ReadOnlyRootfs = o.Name, o.Hostname, o.User, o.ReadOnly
	cfg.Terminal, cfg.Init = o.TTY, o.Init
	if o.Workdir != "" {
		cfg.Cwd = o.Workdir
	}
	var env []string
	if o.TTY {
		env = append(env, "TERM=xterm")
	}
	for _, p := range o.EnvFiles {
		f, err := os.Open(p)
		if err != nil {
			return nil, flagErrorf("--env-file: %v", err)
		}
		lines, err := container.ParseEnvFile(f)
		f.Close()
		if err != nil {
			return nil, flagErrorf("--env-file %s: %v", p, err)
		}
		env = append(env, lines...)
	}
	env = append(env, o.Env...)
	var resolved []string
	for _, kv := range env {
		if !strings.Contains(kv, "=") {
			v, ok := os.LookupEnv(kv)
			if !ok {
				continue // as docker: an unset KEY is left out
			}
			kv += "=" + v
		}
		resolved = append(resolved, kv)
	}
	cfg.Env = container.MergeEnv(cfg.Env, resolved)
	for _, v := range o.Volumes {
		m, _ := container.ParseVolume(v)
		cfg.Mounts = append(cfg.Mounts, m)
	}
	caps, _ := container.AdjustCaps(container.DefaultCapabilities, o.CapAdd, o.CapDrop)
	cfg.Capabilities = caps
	if o.Network == "host" {
		var kinds []ns.Kind
		for _, k := range cfg.Namespaces {
			if k != ns.Net {
				kinds = append(kinds, k)
			}
		}
		cfg.Namespaces = kinds
	}
	if err := cfg.Validate(); err != nil {
		return nil, flagErrorf("%v", err)
	}
	return cfg, nil
}

// wireRun is where the other steps plug into `ctrlab run` (the lead wires
// them after merging): it may add Resources to cfg (recorded before they
// are made, released by rm/ps even after a crash) and return start options.
//
//   - image (pkg/image): resolve IMAGE, pull if absent, apply its config
//     (entrypoint, cmd, env, workdir, user) to cfg before buildConfig's defaults.
//   - overlay (pkg/overlay): mount lower=layers, upper/work per container;
//     set cfg.Rootfs to the merged dir; Resource{Kind:"mount", Path: merged}
//     (+ Resource{Kind:"dir"} for upper/work).
//   - cgroup (pkg/cgroup): create ctrlab/<id>, Set(o.Limits); Resource{Kind:
//     "cgroup"} with an Attach handler doing AddPID (v1), or
//     container.WithCgroupFD(fd) on v2 (in-process runs only).
//   - network (pkg/netsetup): Resource{Kind:"veth"} + {Kind:"lease"} with an
//     Attach handler that moves the peer into /proc/PID/ns/net; -p rules as
//     Resource{Kind:"portmap"}.
func wireRun(app *App, o *runOptions, cfg *container.Config) ([]container.Option, error) {
	if o.Limits != (runLimits{}) {
		fmt.Fprintln(app.ErrOut, "ctrlab: --memory/--cpus/--pids-limit are not wired to cgroups yet; the container runs without limits")
	}
	return nil, nil
}

func runRun(cmd *cobra.Command, app *App, o *runOptions) error {
	if err := requireRoot("ctrlab run"); err != nil {
		return err
	}
	cfg, err := o.buildConfig()
	if err != nil {
		return err
	}
	extra, err := wireRun(app, o, cfg)
	if err != nil {
		return err
	}
	store := container.NewStore(o.Root)
	ctx := cmd.Context()
	if o.Detach {
		st, err := store.RunDetached(ctx, cfg, container.RunOptions{AutoRemove: o.Rm})
		if err != nil {
			return err
		}
		fmt.Fprintln(app.Out, st.ID)
		return nil
	}
	var stdin io.Reader
	if o.Interactive {
		stdin = app.In
	}
	opts := append(extra, container.WithStdio(stdin, app.Out, app.ErrOut))
	if o.Explain {
		opts = append(opts, container.WithExplain(func(r *explain.Report) {
			_ = renderStep(app.ErrOut, r)
			fmt.Fprintln(app.ErrOut)
		}))
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH)
	defer signal.Stop(sigs)
	ro := container.RunOptions{AutoRemove: o.Rm, Signals: sigs}
	var restore func()
	if o.TTY {
		if f, ok := app.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			fd := int(f.Fd())
			ro.TerminalFD = fd
			ro.OnStarted = func(*container.Container) {
				if o.Interactive {
					if old, err := term.MakeRaw(fd); err == nil {
						restore = func() { _ = term.Restore(fd, old) }
					}
				}
			}
		}
	}
	code, err := store.Run(ctx, cfg, ro, opts...)
	if restore != nil {
		restore()
	}
	if err != nil {
		return err
	}
	if code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}
