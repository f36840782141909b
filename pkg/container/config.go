package container

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/ctrlab/ctrlab/pkg/ns"
)

// Config describes one container. It is plain data: it is written to
// state.json and sent as JSON to the re-executed init over its pipe.
type Config struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Rootfs is an already prepared directory (a plain directory, or the
	// merged directory of an overlay mount).
	Rootfs   string   `json:"rootfs"`
	Args     []string `json:"args"`
	Env      []string `json:"env,omitempty"`
	Cwd      string   `json:"cwd,omitempty"`
	User     string   `json:"user,omitempty"` // uid[:gid] or name[:group], resolved in the rootfs
	Hostname string   `json:"hostname,omitempty"`
	// Namespaces to create. User is honoured only with UserNS and mappings.
	Namespaces  []ns.Kind `json:"namespaces"`
	UserNS      bool      `json:"userns,omitempty"`
	UIDMappings []IDMap   `json:"uidMappings,omitempty"`
	GIDMappings []IDMap   `json:"gidMappings,omitempty"`
	// Mounts are bind mounts (volumes), made after the system mounts.
	Mounts         []Mount `json:"mounts,omitempty"`
	ReadOnlyRootfs bool    `json:"readOnlyRootfs,omitempty"`
	// Capabilities is the final set (bounding, effective, permitted,
	// inheritable), as names like "CAP_CHOWN".
	Capabilities    []string `json:"capabilities"`
	NoNewPrivileges bool     `json:"noNewPrivileges"`
	MaskedPaths     []string `json:"maskedPaths,omitempty"`
	ReadonlyPaths   []string `json:"readonlyPaths,omitempty"`
	Terminal        bool     `json:"terminal,omitempty"`
	// Init runs a tiny reaper as PID 1 that forwards signals to the process.
	Init bool `json:"init,omitempty"`
	// Resources are the kernel objects this container owns, recorded before
	// they are made so they can be released even after a crash.
	Resources []Resource `json:"resources,omitempty"`

	// Set by Start, not by callers.
	Explain bool `json:"explain,omitempty"`
}

// IDMap is one line of /proc/PID/uid_map or gid_map.
type IDMap struct {
	ContainerID int `json:"containerID"`
	HostID      int `json:"hostID"`
	Size        int `json:"size"`
}

// Mount is a bind mount of a host path into the container (a volume).
type Mount struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	ReadOnly    bool   `json:"readOnly,omitempty"`
}

// DefaultNamespaces are the namespaces a container gets: all but user
// (opt-in) and time.
var DefaultNamespaces = []ns.Kind{ns.Mount, ns.PID, ns.Net, ns.IPC, ns.UTS, ns.Cgroup}

// DefaultCapabilities is runc's (and Docker's) default capability set.
var DefaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// DefaultMaskedPaths are hidden from the container (runc/Docker defaults):
// /dev/null is bind-mounted over files, an empty read-only tmpfs over dirs.
var DefaultMaskedPaths = []string{
	"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
	"/sys/firmware", "/sys/devices/virtual/powercap",
}

// DefaultReadonlyPaths are bind-remounted read-only (runc/Docker defaults).
var DefaultReadonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

// DefaultPath is the PATH a container gets when its Env sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// NewConfig returns a Config with runc's secure defaults for rootfs and args.
func NewConfig(rootfs string, args ...string) *Config {
	return &Config{
		Rootfs:          rootfs,
		Args:            args,
		Env:             []string{"PATH=" + DefaultPath},
		Cwd:             "/",
		Namespaces:      append([]ns.Kind(nil), DefaultNamespaces...),
		Capabilities:    append([]string(nil), DefaultCapabilities...),
		NoNewPrivileges: true,
		MaskedPaths:     append([]string(nil), DefaultMaskedPaths...),
		ReadonlyPaths:   append([]string(nil), DefaultReadonlyPaths...),
	}
}

// HasNS reports whether the config creates a namespace of kind k.
func (c *Config) HasNS(k ns.Kind) bool {
	for _, n := range c.Namespaces {
		if n == k {
			return true
		}
	}
	return false
}

// Validate checks the config before anything is made.
func (c *Config) Validate() error {
	if c.Rootfs == "" || !filepath.IsAbs(c.Rootfs) {
		return fmt.Errorf("rootfs %q: must be an absolute path", c.Rootfs)
	}
	if len(c.Args) == 0 || c.Args[0] == "" {
		return errors.New("no command to run")
	}
	if c.Cwd != "" && !filepath.IsAbs(c.Cwd) {
		return fmt.Errorf("working directory %q: must be absolute", c.Cwd)
	}
	for _, m := range c.Mounts {
		if !filepath.IsAbs(m.Source) || !filepath.IsAbs(m.Destination) {
			return fmt.Errorf("volume %s:%s: both paths must be absolute", m.Source, m.Destination)
		}
	}
	if _, err := CapMask(c.Capabilities); err != nil {
		return err
	}
	if c.HasNS(ns.User) && !c.UserNS {
		return errors.New("a user namespace needs UserNS and uid/gid mappings")
	}
	return nil
}

// ParseVolume parses docker's -v HOST:CTR[:ro|rw].
func ParseVolume(s string) (Mount, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Mount{}, fmt.Errorf("volume %q: want HOST:CONTAINER[:ro]", s)
	}
	m := Mount{Source: filepath.Clean(parts[0]), Destination: filepath.Clean(parts[1])}
	if len(parts) == 3 {
		switch parts[2] {
		case "ro":
			m.ReadOnly = true
		case "rw":
		default:
			return Mount{}, fmt.Errorf("volume %q: mode %q is not ro or rw", s, parts[2])
		}
	}
	if !filepath.IsAbs(m.Source) || !filepath.IsAbs(m.Destination) {
		return Mount{}, fmt.Errorf("volume %q: both paths must be absolute", s)
	}
	return m, nil
}

// ParseEnvFile reads KEY=VALUE lines (docker --env-file): blank lines and
// lines starting with # are skipped; a bare KEY is returned as is and the
// caller takes its value from the host environment.
func ParseEnvFile(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "=") {
			return nil, fmt.Errorf("env file line %d: %q has no variable name", n, line)
		}
		out = append(out, line)
	}
	return out, sc.Err()
}

// MergeEnv returns base with each KEY=VALUE of over replacing the same key.
func MergeEnv(base, over []string) []string {
	idx := map[string]int{}
	out := append([]string(nil), base...)
	for i, kv := range out {
		idx[envKey(kv)] = i
	}
	for _, kv := range over {
		if i, ok := idx[envKey(kv)]; ok {
			out[i] = kv
			continue
		}
		idx[envKey(kv)] = len(out)
		out = append(out, kv)
	}
	return out
}

func envKey(kv string) string {
	k, _, _ := strings.Cut(kv, "=")
	return k
}

// getenv returns the value of key in env.
func getenv(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}
