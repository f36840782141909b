package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ctrlab/ctrlab/pkg/assemble"
	"github.com/ctrlab/ctrlab/pkg/cgroup"
	"github.com/ctrlab/ctrlab/pkg/container"
	"github.com/ctrlab/ctrlab/pkg/explain"
	"github.com/ctrlab/ctrlab/pkg/image"
	"github.com/ctrlab/ctrlab/pkg/netsetup"
	"github.com/ctrlab/ctrlab/pkg/ns"
)

type runOptions struct {
	Root        string
	Rootfs      string
	Image       string
	Platform    string
	Insecure    bool
	Bridge      string
	Subnet      string
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
	Args        []string // the command (after IMAGE)

	memory string
	ports  []netsetup.PortMapping
}

// runLimits are the cgroup limits of -m/--cpus/--pids-limit.
type runLimits struct {
	MemoryBytes int64   `json:"memoryBytes,omitempty"`
	CPUs        float64 `json:"cpus,omitempty"`
	Pids        int64   `json:"pids,omitempty"`
}

func newRunCmd(app *App, runF func(*runOptions) error) *cobra.Command {
	opts := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run [flags] [IMAGE] [CMD [ARG...]]",
		Short: "Run a command in a new container from an image, built like runc builds one",
		Long: `Run a command in a new container: every piece the steps built by hand, at once.

The image (default ctrlab/self, built from this very binary; others are
pulled when absent) gives the layers and the config. Its unpacked layers
become the lower layers of an overlay mount with a per-container upper under
ROOT/containers/ID, and that merged directory is the container's rootfs.
A cgroup ctrlab/ctrlab-ID gets the --memory, --cpus and --pids-limit
limits. With --network bridge (the default, as docker's) a veth pair joins
the container's network namespace to the ctrlab0 bridge, with an address
from 10.88.0.0/24 and a default route; -p HOST:CTR adds a DNAT rule.

ctrlab re-executes itself as "ctrlab-init" with clone(2) flags for new mount,
PID, UTS, IPC, network and cgroup namespaces. The init makes / a slave mount,
bind-mounts the rootfs onto itself, mounts /proc, a tmpfs /dev with only
null zero full random urandom tty (+ /dev/pts, /dev/shm, /dev/mqueue), /sys
read-only and /sys/fs/cgroup, hides the paths runc hides (/proc/kcore,
/proc/keys, /sys/firmware, ...) and makes /proc/sys and friends read-only.
Then pivot_root(2) into the rootfs (not chroot: the old root is unmounted,
so there is no way back up), sethostname(2), the user (-u), capabilities
reduced to runc's default 14 (prctl PR_CAPBSET_DROP, capset(2)),
no_new_privs, and execve(2) of the command, found in the container's PATH.

The command is docker's: the image's Entrypoint followed by CMD (or the
image's Cmd when no CMD is given); --entrypoint replaces the Entrypoint and
drops the image's Cmd. The image's Env, WorkingDir and User apply unless
-e, -w or -u say otherwise. --rootfs DIR (expert) runs a plain directory
instead of an image; then every argument is the command.

--explain narrates each step with the kernel state it produced: the image's
digests and layers, the overlay's mountinfo line, namespace inodes host vs
container, the cgroup files written and read back, the veth and address,
capabilities kept and dropped, masked and read-only paths.

Every object is recorded in ROOT/containers/ID/state.json before it is made
and released when the container exits, when a step fails, or - after ctrlab
itself was killed - by 'ctrlab rm -f' or 'ctrlab ps'.

The exit status of ctrlab run is the container process's (128+N if killed
by signal N). Signals sent to ctrlab are forwarded to the container's PID 1;
note that a PID 1 ignores signals it has no handler for (use --init).`,
		Example: `  sudo ctrlab run --rm --explain
  sudo ctrlab run --rm 127.0.0.1:5000/busybox sh -c 'echo $$; hostname; ip addr'
  sudo ctrlab run --rm -it busybox sh
  sudo ctrlab run --rm -m 64m --pids-limit 20 busybox sh
  sudo ctrlab run -d --name web -p 8080:80 busybox httpd -f -p 80
  sudo ctrlab run --rm --platform linux/arm64 busybox uname -m
  sudo ctrlab run --rootfs /tmp/busybox --rm --cap-drop ALL -u nobody -v /srv:/data:ro ls /data`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Rootfs == "" && len(args) > 0 {
				opts.Image, args = args[0], args[1:]
			}
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
	f.StringVar(&opts.Rootfs, "rootfs", "", "run a plain directory as the rootfs instead of an image (expert; every argument is then the command)")
	f.StringVar(&opts.Platform, "platform", "", "pull the image for this platform, e.g. linux/arm64 (needs binfmt_misc to run it)")
	f.BoolVar(&opts.Insecure, "insecure", false, "pull over plain HTTP (allowed for 127.0.0.1/localhost registries)")
	f.StringVar(&opts.Bridge, "bridge", envOr("CTRLAB_BRIDGE", ""), "bridge for --network bridge (default ctrlab0; env CTRLAB_BRIDGE)")
	f.StringVar(&opts.Subnet, "subnet", envOr("CTRLAB_SUBNET", ""), "subnet of a new bridge (default 10.88.0.0/24; env CTRLAB_SUBNET)")
	_ = f.MarkHidden("bridge")
	_ = f.MarkHidden("subnet")
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
	f.StringVar(&opts.Network, "network", "bridge", "network: bridge (veth on the ctrlab bridge), none (only lo), host (no netns)")
	f.StringArrayVarP(&opts.Publish, "publish", "p", nil, "publish a port HOST:CONTAINER[/tcp|/udp] (needs --network bridge)")
	f.StringVarP(&opts.memory, "memory", "m", "", "memory limit, e.g. 64m (cgroup memory.max / memory.limit_in_bytes)")
	f.Float64Var(&opts.Limits.CPUs, "cpus", 0, "CPU limit, e.g. 0.5 (cgroup cpu.max / cpu.cfs_quota_us)")
	f.Int64Var(&opts.Limits.Pids, "pids-limit", 0, "maximum number of processes (cgroup pids.max)")
	return cmd
}

func (o *runOptions) validate() error {
	if o.Rootfs != "" && (o.Platform != "" || o.Insecure) {
		return flagErrorf("--platform and --insecure choose an image: not with --rootfs")
	}
	if o.Detach && o.TTY {
		return flagErrorf("-t with -d is not supported: there is no attach to come back to the terminal")
	}
	if o.Detach && o.Explain {
		return flagErrorf("--explain with -d is not supported: the narration needs the foreground")
	}
	switch o.Network {
	case "none", "host", "bridge":
	default:
		return flagErrorf("--network %q: want bridge, none or host", o.Network)
	}
	if len(o.Publish) > 0 && o.Network != "bridge" {
		return flagErrorf("-p needs --network bridge")
	}
	o.ports = nil
	for _, p := range o.Publish {
		pm, err := netsetup.ParsePortSpec(p)
		if err != nil {
			return flagErrorf("-p: %v", err)
		}
		o.ports = append(o.ports, pm)
	}
	if o.Bridge != "" {
		if err := netsetup.ValidateBridgeName(o.Bridge); err != nil {
			return flagErrorf("--bridge: %v", err)
		}
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

// buildConfig turns flags and the image's config (nil with --rootfs) into
// a container.Config, with docker's rules for the command: --entrypoint
// replaces the image's Entrypoint and drops its Cmd; CMD replaces the Cmd.
func (o *runOptions) buildConfig(img *image.ImageConfig) (*container.Config, error) {
	if img == nil {
		img = &image.ImageConfig{Cmd: []string{"/bin/sh"}}
	}
	entry, cmdArgs := img.Entrypoint, img.Cmd
	if o.Entrypoint != "" {
		entry, cmdArgs = []string{o.Entrypoint}, nil
	}
	if len(o.Args) > 0 {
		cmdArgs = o.Args
	}
	args := append(append([]string{}, entry...), cmdArgs...)
	if len(args) == 0 {
		return nil, flagErrorf("no command: the image has no Entrypoint or Cmd; give one after the image name")
	}
	rootfs := o.Rootfs
	if rootfs != "" {
		abs, err := filepath.Abs(rootfs)
		if err != nil {
			return nil, err
		}
		rootfs = abs
	}
	cfg := container.NewConfig(rootfs, args...)
	cfg.Env = container.MergeEnv(cfg.Env, img.Env)
	if img.WorkingDir != "" {
		cfg.Cwd = img.WorkingDir
	}
	user := img.User
	if o.User != "" {
		user = o.User
	}
	cfg.Name, cfg.Hostname, cfg.User, cfg.ReadOnlyRootfs = o.Name, o.Hostname, user, o.ReadOnly
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
	if cfg.Rootfs == "" {
		return cfg, nil // the image's overlay: assemble.Plan sets it
	}
	if err := cfg.Validate(); err != nil {
		return nil, flagErrorf("%v", err)
	}
	return cfg, nil
}

// prepare resolves the image (pulling or building it if absent), builds
// the Config and records in it every resource the container will own: the
// overlay rootfs, the cgroup, the veth. Nothing exists yet; the store's Run
// creates them after writing the state, and releases them whatever happens.
func (o *runOptions) prepare(ctx context.Context, app *App, narrate func(*explain.Report)) (*container.Config, error) {
	root := rootOf(o.Root)
	var img *assemble.Image
	var icfg *image.ImageConfig
	if o.Rootfs == "" {
		s, err := image.Open(root)
		if err != nil {
			return nil, err
		}
		var popts []image.Option
		if o.Insecure {
			popts = append(popts, image.WithInsecure())
		}
		popts = append(popts, image.WithProgress(func(p image.Progress) {
			if p.Complete && !p.Cached {
				fmt.Fprintf(app.ErrOut, "ctrlab: pulled layer %s\n", shortDigest(p.Digest))
			}
		}))
		img, err = assemble.ResolveImage(ctx, s, o.Image, o.Platform, popts...)
		if err != nil {
			return nil, err
		}
		icfg = &img.Info.Config
		if narrate != nil {
			narrate(img.Report())
		}
	}
	cfg, err := o.buildConfig(icfg)
	if err != nil {
		return nil, err
	}
	var layers []string
	if img != nil {
		layers = img.LayerDirs
	}
	err = assemble.Plan(cfg, layers, assemble.Options{
		Root:    root,
		Limits:  cgroup.Resources{MemoryMax: o.Limits.MemoryBytes, CPUs: o.Limits.CPUs, PidsMax: o.Limits.Pids},
		Network: o.Network,
		Bridge:  netsetup.BridgeOptions{Name: o.Bridge, Subnet: o.Subnet},
		Ports:   o.ports,
	})
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func runRun(cmd *cobra.Command, app *App, o *runOptions) error {
	if err := requireRoot("ctrlab run"); err != nil {
		return err
	}
	// A closed stdout/stderr (ctrlab run ... | head) must not kill ctrlab
	// with SIGPIPE before it releases the container's resources. A handler
	// (not SIG_IGN) so the container's process still gets the default.
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	defer signal.Stop(pipe)
	var narrate func(*explain.Report)
	if o.Explain {
		narrate = func(r *explain.Report) {
			_ = renderStep(app.ErrOut, r)
			fmt.Fprintln(app.ErrOut)
		}
	}
	ctx := cmd.Context()
	cfg, err := o.prepare(ctx, app, narrate)
	if err != nil {
		return err
	}
	store := containerStore(o.Root)
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
	opts := []container.Option{container.WithStdio(stdin, app.Out, app.ErrOut)}
	if narrate != nil {
		opts = append(opts, container.WithExplain(narrate))
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
