package assemble

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ctrlab/ctrlab/pkg/cgroup"
	"github.com/ctrlab/ctrlab/pkg/container"
	"github.com/ctrlab/ctrlab/pkg/explain"
	"github.com/ctrlab/ctrlab/pkg/netsetup"
	"github.com/ctrlab/ctrlab/pkg/overlay"
)

// Resource kinds this package handles.
const (
	KindOverlay = "overlay" // Path: merged dir; Data: lowers (top first, one per line), upper, work
	KindCgroup  = "cgroup"  // Name: cgroup name; Data: the limits as JSON
	KindVeth    = "veth"    // Name: attachment label (container ID); Data: stateDir, bridge, subnet, ports
)

func init() {
	container.RegisterKind(KindOverlay, container.Handler{Create: createOverlay, Release: releaseOverlay})
	container.RegisterKind(KindCgroup, container.Handler{Create: createCgroup, Attach: attachCgroup, Release: releaseCgroup})
	container.RegisterKind(KindVeth, container.Handler{Attach: attachVeth, Release: releaseVeth})
}

// Options say which pieces Plan adds to a container.
type Options struct {
	// Root is the store root R (containers under R/containers, net state
	// under R/net).
	Root string
	// Limits for the container's cgroup (zero fields: no limit).
	Limits cgroup.Resources
	// Network is "bridge", "host" or "none".
	Network string
	// Bridge names the bridge and its subnet (defaults: ctrlab0, 10.88.0.0/24).
	Bridge netsetup.BridgeOptions
	// Ports are published from the host to the container (bridge only).
	Ports []netsetup.PortMapping
}

// Plan records in cfg.Resources every piece the container needs, before
// any of it exists: the overlay rootfs over layerDirs (bottom first, as
// image.LayerDirs returns them; none when cfg.Rootfs is a plain directory),
// the cgroup, and with bridge networking the veth. It sets cfg.ID (when
// empty) and, with layers, cfg.Rootfs to the merged directory. The store's
// Run then creates them in order, attaches them to the init, and releases
// them in reverse.
func Plan(cfg *container.Config, layerDirs []string, o Options) error {
	if cfg.ID == "" {
		cfg.ID = NewID()
	}
	dir := filepath.Join(ContainersDir(o.Root), cfg.ID)
	if len(layerDirs) > 0 {
		lowers := make([]string, len(layerDirs))
		for i, d := range layerDirs {
			lowers[len(layerDirs)-1-i] = d // overlay wants the top layer first
		}
		merged := filepath.Join(dir, "rootfs")
		cfg.Rootfs = merged
		cfg.Resources = append(cfg.Resources, container.Resource{Kind: KindOverlay, Path: merged, Data: map[string]string{
			"lowers": strings.Join(lowers, "\n"),
			"upper":  filepath.Join(dir, "upper"),
			"work":   filepath.Join(dir, "work"),
		}})
	}
	lim, err := json.Marshal(o.Limits)
	if err != nil {
		return err
	}
	cfg.Resources = append(cfg.Resources, container.Resource{Kind: KindCgroup, Name: CgroupName(cfg.ID),
		Data: map[string]string{"limits": string(lim)}})
	switch o.Network {
	case "bridge":
		var ports []string
		for _, p := range o.Ports {
			ports = append(ports, p.String())
		}
		cfg.Resources = append(cfg.Resources, container.Resource{Kind: KindVeth, Name: cfg.ID, Data: map[string]string{
			"stateDir": NetDir(o.Root), "bridge": o.Bridge.Name, "subnet": o.Bridge.Subnet, "ports": strings.Join(ports, ","),
		}})
	case "host", "none", "":
		if len(o.Ports) > 0 {
			return errors.New("publishing ports needs --network bridge")
		}
	default:
		return fmt.Errorf("network %q: want bridge, host or none", o.Network)
	}
	return nil
}

// --- overlay ---

func overlaySpec(r container.Resource) overlay.Spec {
	return overlay.Spec{Lowers: strings.Split(r.Data["lowers"], "\n"), Upper: r.Data["upper"], Work: r.Data["work"], Target: r.Path}
}

// createOverlay makes upper, work and the mount point, and mounts the
// overlay. Equivalent to: `mkdir upper work rootfs; mount -t overlay ...`.
func createOverlay(ctx context.Context, r container.Resource) error {
	s := overlaySpec(r)
	for _, d := range []string{s.Upper, s.Work, s.Target} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("creating %q: %w", d, err)
		}
	}
	if err := overlay.Mount(ctx, s); err != nil {
		return err
	}
	if container.Narrating(ctx) {
		rep := &explain.Report{Title: "rootfs: overlay of the image layers + a per-container upper"}
		for i, l := range s.Lowers {
			rep.Add(overlay.LayerName(i), "", l)
		}
		rep.Add("upper", "", s.Upper)
		line, err := overlay.MountinfoLine(s.Target)
		if err != nil {
			line = err.Error()
		}
		rep.Add("mountinfo", "(not mounted)", line)
		rep.Note("writes land in upper; the layers stay shared and untouched; the init makes this its / with pivot_root(2)")
		rep.Equiv(s.Equivalent())
		container.Narrate(ctx, rep)
	}
	return nil
}

func releaseOverlay(r container.Resource) error {
	err := overlay.Unmount(r.Path)
	if err != nil && !errors.Is(err, overlay.ErrNotMounted) && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// --- cgroup ---

func limitsOf(r container.Resource) (cgroup.Resources, error) {
	var lim cgroup.Resources
	if s := r.Data["limits"]; s != "" {
		if err := json.Unmarshal([]byte(s), &lim); err != nil {
			return lim, fmt.Errorf("reading the limits of %s: %w", r.Name, err)
		}
	}
	return lim, nil
}

// createCgroup makes the cgroup and writes its limits.
// Equivalent to: `mkdir /sys/fs/cgroup/.../ctrlab/NAME; echo LIMIT > memory.max ...`.
func createCgroup(ctx context.Context, r container.Resource) error {
	lim, err := limitsOf(r)
	if err != nil {
		return err
	}
	cg, err := cgroup.New(r.Name)
	if err != nil {
		return fmt.Errorf("creating cgroup %s: %w", r.Name, err)
	}
	writes, err := cg.Set(lim)
	if err != nil {
		return fmt.Errorf("setting the limits of cgroup %s: %w", r.Name, err)
	}
	if container.Narrating(ctx) {
		rep := &explain.Report{Title: fmt.Sprintf("cgroup %s (%s): limits written, read back from the kernel", r.Name, cg.Mode())}
		for _, c := range sortedKeys(cg.Paths()) {
			if c != "" {
				rep.Add("dir "+c, "", cg.Path(c))
			}
		}
		for _, w := range writes {
			rep.Add(filepath.Base(w.Path), "wrote "+w.Wrote, "reads "+w.ReadBack)
			rep.Equiv(fmt.Sprintf("echo %s > %s", w.Wrote, w.Path))
		}
		if len(writes) == 0 {
			rep.Note("no --memory/--cpus/--pids-limit: the cgroup only accounts (and lets ctrlab kill every process in it)")
		}
		container.Narrate(ctx, rep)
	}
	return nil
}

// attachCgroup moves the init into the cgroup (its children follow).
// Equivalent to: `echo PID > cgroup.procs`. On cgroup v1 the init moves
// itself when it can (`echo 0 > tasks`, see container.JoinCgroupFromInit):
// the same result without the kernel's RCU wait.
func attachCgroup(ctx context.Context, pid int, r container.Resource) error {
	cg, err := cgroup.Load(r.Name)
	if err != nil {
		return err
	}
	if !cg.Mode().IsV2() {
		var dirs []string
		for _, c := range sortedKeys(cg.Paths()) {
			if d := cg.Path(c); d != "" && !slices.Contains(dirs, d) {
				dirs = append(dirs, d)
			}
		}
		if container.JoinCgroupFromInit(ctx, dirs...) {
			return nil
		}
	}
	if err := cg.AddPID(pid); err != nil {
		return fmt.Errorf("moving PID %d into cgroup %s: %w", pid, r.Name, err)
	}
	if container.Narrating(ctx) {
		rep := &explain.Report{Title: "cgroup: the init joins " + r.Name}
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if strings.Contains(l, r.Name) {
				rep.Add("/proc/"+strconv.Itoa(pid)+"/cgroup", "", l)
			}
		}
		for _, c := range sortedKeys(cg.Paths()) {
			if c != "" && (c == "memory" || c == "pids" || cg.Mode().IsV2()) {
				rep.Equiv(fmt.Sprintf("echo %d > %s/cgroup.procs", pid, cg.Path(c)))
				if cg.Mode().IsV2() {
					break
				}
			}
		}
		container.Narrate(ctx, rep)
	}
	return nil
}

// releaseCgroup kills whatever is left in the cgroup and removes it.
func releaseCgroup(r container.Resource) error {
	cg, err := cgroup.Load(r.Name)
	if errors.Is(err, cgroup.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return cg.Delete()
}

// --- veth ---

func netOpts(r container.Resource) []netsetup.Option {
	return []netsetup.Option{netsetup.WithStateDir(r.Data["stateDir"])}
}

// attachVeth connects the init's network namespace to the bridge and
// publishes the ports (see netsetup.Connect and Publish).
func attachVeth(ctx context.Context, pid int, r container.Resource) error {
	h, err := netsetup.Open(netOpts(r)...)
	if err != nil {
		return err
	}
	defer h.Close()
	att, err := h.Connect(ctx, netsetup.ConnectOptions{
		Bridge: netsetup.BridgeOptions{Name: r.Data["bridge"], Subnet: r.Data["subnet"]},
		PID:    pid, Name: r.Name,
	})
	if err != nil {
		return err
	}
	eq := att.Equivalent
	var ports []netsetup.PortMapping
	if s := r.Data["ports"]; s != "" {
		for _, p := range strings.Split(s, ",") {
			pm, err := netsetup.ParsePortSpec(p)
			if err != nil {
				return err
			}
			more, err := h.Publish(ctx, att, pm)
			if err != nil {
				return err // Release disconnects, which deletes the rules already added
			}
			ports = append(ports, pm)
			eq = append(eq, more...)
		}
	}
	if container.Narrating(ctx) {
		rep := &explain.Report{Title: "network: a veth cable from bridge " + att.Bridge + " into the container's netns"}
		rep.Add("host end", "", att.HostVeth+" (master "+att.Bridge+")")
		rep.Add("container end", "", att.IfName+" "+att.MAC)
		rep.Add("address", "", att.Address.String())
		rep.Add("default route", "", "via "+att.Gateway.String()+" dev "+att.IfName)
		for _, p := range ports {
			rep.Add("published", "", fmt.Sprintf("host :%d -> %s:%d/%s (DNAT)", p.HostPort, att.IP(), p.CtrPort, p.Proto))
		}
		for _, e := range eq {
			rep.Equiv(e)
		}
		container.Narrate(ctx, rep)
	}
	return nil
}

// releaseVeth deletes the host end of the cable (its peer goes with it),
// the port rules and the lease, found by the attachment's label; when
// nothing was connected yet there is nothing to do.
func releaseVeth(r container.Resource) error {
	h, err := netsetup.Open(netOpts(r)...)
	if err != nil {
		return err
	}
	defer h.Close()
	att, err := h.Attachment(r.Name)
	if errors.Is(err, netsetup.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = h.Disconnect(context.Background(), att)
	return err
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
