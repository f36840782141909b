package container

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/ctrlab/ctrlab/pkg/explain"
	"github.com/ctrlab/ctrlab/pkg/ns"
)

// nsReport is the parent's view right after clone(2): the host's namespace
// inodes next to the container init's.
func nsReport(cfg *Config, pid int) *explain.Report {
	r := &explain.Report{Title: "namespaces: clone(2) with " + ns.FlagString(cloneFlags(cfg))}
	host, _ := ns.Inodes("self")
	ctr, _ := ns.Inodes(strconv.Itoa(pid))
	for _, k := range ns.All {
		if _, ok := host[k]; !ok {
			continue
		}
		after := fmt.Sprintf("%s:[%d]", k.ProcName(), ctr[k])
		if k == ns.Cgroup && cfg.HasNS(ns.Cgroup) {
			after = "(unshared by init after the cgroup is joined)"
		}
		r.Add(string(k), fmt.Sprintf("%s:[%d]", k.ProcName(), host[k]), after)
	}
	r.Note(fmt.Sprintf("container init is host PID %d; inside its PID namespace it is PID 1", pid))
	var opts []string
	for _, k := range cfg.Namespaces {
		if k != ns.Cgroup && (k != ns.User || cfg.UserNS) {
			opts = append(opts, k.UnshareOption())
		}
	}
	r.Equiv("unshare " + strings.Join(opts, " ") + " ctrlab-init")
	return r
}

func cloneFlags(cfg *Config) uintptr {
	var kinds []ns.Kind
	for _, k := range cfg.Namespaces {
		if k == ns.Cgroup || (k == ns.User && !cfg.UserNS) {
			continue
		}
		kinds = append(kinds, k)
	}
	if cfg.UserNS && !cfg.HasNS(ns.User) {
		kinds = append(kinds, ns.User)
	}
	return ns.Flags(kinds)
}

// initReports are built by the init just before exec, from its own /proc.
func initReports(cfg *Config, u *ExecUser, path string, before, after snapshot, cgBefore, cgAfter uint64, absent map[string]bool) []*explain.Report {
	var out []*explain.Report
	if cfg.HasNS(ns.Cgroup) {
		r := &explain.Report{Title: "cgroup namespace: unshare(CLONE_NEWCGROUP) after joining the cgroup"}
		r.Add("cgroup", fmt.Sprintf("cgroup:[%d]", cgBefore), fmt.Sprintf("cgroup:[%d]", cgAfter))
		if b, err := os.ReadFile("/proc/thread-self/cgroup"); err == nil {
			r.Note("/proc/self/cgroup inside: " + strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", " "))
		}
		r.Equiv("unshare --cgroup")
		out = append(out, r)
	}
	m := &explain.Report{Title: "rootfs: bind-mount onto itself, system mounts, pivot_root(\".\", \".\"), umount2(\".\", MNT_DETACH)"}
	for _, p := range explainPoints {
		b, a := before.mounts[p], after.mounts[p]
		if b == "" {
			b = "-"
		}
		if a == "" {
			a = "-"
		}
		m.Add(p, b, a)
	}
	m.Note("/ was made rslave first (MS_SLAVE|MS_REC): container mounts never propagate to the host")
	m.Note("/dev: null zero full random urandom tty, /dev/pts (newinstance, ptmxmode=0666), fd/stdin/stdout/stderr -> /proc/self/fd")
	for _, v := range cfg.Mounts {
		mode := "rw"
		if v.ReadOnly {
			mode = "ro"
		}
		m.Note(fmt.Sprintf("volume %s -> %s (%s bind mount)", v.Source, v.Destination, mode))
	}
	m.Equiv(fmt.Sprintf("mount --make-rslave / && mount --rbind %s %s && cd %s && pivot_root . . && umount -l .", cfg.Rootfs, cfg.Rootfs, cfg.Rootfs))
	out = append(out, m)

	s := &explain.Report{Title: "masked and read-only paths"}
	for _, p := range cfg.MaskedPaths {
		if absent[p] {
			s.Add(p, "absent on this kernel", "absent on this kernel")
			continue
		}
		s.Add(p, "visible", "masked")
	}
	for _, p := range cfg.ReadonlyPaths {
		if absent[p] {
			s.Add(p, "absent on this kernel", "absent on this kernel")
			continue
		}
		s.Add(p, "rw", "ro")
	}
	s.Note("masked: /dev/null bind-mounted over files, an empty read-only tmpfs over directories")
	s.Note("read-only: bind-mounted onto itself, then remounted MS_BIND|MS_REMOUNT|MS_RDONLY")
	if cfg.ReadOnlyRootfs {
		s.Add("/", "rw", "ro")
	}
	s.Equiv("mount --bind /dev/null /proc/kcore && mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys")
	out = append(out, s)

	h := &explain.Report{Title: "hostname and user"}
	h.Add("hostname", before.hostname, after.hostname)
	h.Add("uid", statusField(before.status, "Uid"), statusField(after.status, "Uid"))
	h.Add("gid", statusField(before.status, "Gid"), statusField(after.status, "Gid"))
	h.Add("groups", statusField(before.status, "Groups"), statusField(after.status, "Groups"))
	h.Equiv("hostname " + after.hostname)
	out = append(out, h)

	c := &explain.Report{Title: "capabilities: prctl(PR_CAPBSET_DROP) for each, capset(2), prctl(PR_SET_NO_NEW_PRIVS)"}
	for _, f := range []string{"CapBnd", "CapPrm", "CapEff", "CapInh", "CapAmb", "NoNewPrivs"} {
		c.Add(f, statusField(before.status, f), statusField(after.status, f))
	}
	bb, _ := ParseStatusCaps(before.status, "CapBnd")
	ab, _ := ParseStatusCaps(after.status, "CapBnd")
	if dropped := CapNames(bb &^ ab); len(dropped) > 0 {
		c.Note("dropped: " + strings.Join(dropped, " "))
	}
	c.Note("kept: " + strings.Join(CapNames(ab), " "))
	if u.UID != 0 {
		c.Note(fmt.Sprintf("uid %d is not root: execve(2) empties the permitted and effective sets (inheritable and ambient are empty)", u.UID))
	}
	c.Equiv("capsh --caps=... --no-new-privs (libcap), or setpriv --bounding-set -all,+chown,... --no-new-privs")
	out = append(out, c)

	e := &explain.Report{Title: "execve(2) the process"}
	proc := path + " " + strings.Join(cfg.Args[1:], " ")
	if cfg.Init {
		proc = "ctrlab-reaper (PID 1, forwards signals, reaps zombies) -> " + proc
	}
	e.Add("PID 1 runs", "ctrlab-init", strings.TrimSpace(proc))
	e.Add("cwd", "-", cfg.Cwd)
	e.Note(fmt.Sprintf("as uid %d gid %d", u.UID, u.GID))
	out = append(out, e)
	return out
}
