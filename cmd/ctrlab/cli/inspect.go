package cli

import (
	"fmt"
	"math/bits"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ctrlab/ctrlab/pkg/inspect"
)

type inspectOptions struct {
	PID    string // "self" or a number, after resolving a container name
	Mounts bool
	JSON   bool
}

// newInspectCmd prints the kernel view of one process.
func newInspectCmd(app *App, runF func(*inspectOptions) error) *cobra.Command {
	opts := &inspectOptions{}
	cmd := &cobra.Command{
		Use:   "inspect PID|self|CONTAINER",
		Short: "Show the kernel view of one process",
		Long: `Show what the kernel gives one process: that is all a container is.

A container is an ordinary process whose view of the system has been narrowed.
'ctrlab inspect' reads that view from /proc/PID and netlink:

  namespaces     /proc/PID/ns/*: one inode per namespace kind. Two processes
                 share a namespace exactly when the inodes are equal; the
                 SHARED WITH HOST column compares with PID 1 (or kthreadd).
  identity       uids/gids and the user-namespace maps (/proc/PID/uid_map),
                 hostname (read inside its UTS namespace with setns(2)),
                 root and cwd (/proc/PID/root, /proc/PID/cwd), NoNewPrivs and
                 the seccomp mode (/proc/PID/status).
  cgroups        /proc/PID/cgroup: one line per v1 hierarchy, "0::" for v2.
  capabilities   the CapEff/CapPrm/CapBnd masks of /proc/PID/status, decoded.
  mounts         /proc/PID/mountinfo (the table with --mounts).
  interfaces     links and addresses inside its network namespace (netlink).

The same facts with standard tools: lsns -p PID; readlink /proc/PID/ns/net;
cat /proc/PID/cgroup; grep Cap /proc/PID/status | capsh --decode=...;
findmnt -N PID; nsenter -t PID -n ip addr; nsenter -t PID -u hostname.

Looking at another user's process, or into other namespaces, needs root.`,
		Example: `  ctrlab inspect self
  sudo ctrlab inspect 1 --mounts
  sudo ctrlab inspect $(pgrep -n sleep) --json | jq '.namespaces'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pid, err := resolveInspectTarget(app, args[0])
			if err != nil {
				return err
			}
			opts.PID = pid
			if runF != nil {
				return runF(opts)
			}
			return inspectRun(app, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Mounts, "mounts", false, "list every mount (/proc/PID/mountinfo), not only the count")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the snapshot as JSON")
	return cmd
}

// resolveInspectTarget accepts "self", a PID, or a container name.
func resolveInspectTarget(app *App, arg string) (string, error) {
	if arg == "self" {
		return arg, nil
	}
	if _, err := strconv.Atoi(arg); err == nil {
		if err := inspect.CheckPID(arg); err != nil {
			return "", &FlagError{Err: err}
		}
		return arg, nil
	}
	n, err := containerPID(app, arg)
	if err != nil {
		return "", err
	}
	return strconv.Itoa(n), nil
}

func inspectRun(app *App, opts *inspectOptions) error {
	p, err := inspect.Snapshot(opts.PID)
	if err != nil {
		return fmt.Errorf("inspecting PID %s: %w", opts.PID, err)
	}
	if !opts.Mounts {
		p.Mounts = nil
	}
	for _, e := range p.Errors {
		fmt.Fprintf(app.ErrOut, "warning: %s\n", e)
	}
	if len(p.Errors) > 0 && os.Geteuid() != 0 {
		fmt.Fprintln(app.ErrOut, "hint: another user's process, or one in other namespaces, is only fully visible to root: run with sudo")
	}
	if opts.JSON {
		return writeJSON(app.Out, p)
	}
	return renderProcess(app, p, opts.Mounts)
}

func renderProcess(app *App, p *inspect.Process, mounts bool) error {
	w := app.Out
	fmt.Fprintf(w, "PID %d (%s)\n\n", p.PID, p.Command)

	host := fmt.Sprintf("host = PID %d", p.HostRefPID)
	switch p.HostRefPID {
	case 0:
		host = "host namespaces unreadable"
	case 2:
		host += ", kthreadd: PID 1 is unreadable"
	}
	fmt.Fprintf(w, "Namespaces (readlink /proc/%d/ns/*; %s)\n", p.PID, host)
	t := newTable(w, "kind", "inode", "host inode", "shared with host")
	for _, n := range p.Namespaces {
		shared, host := "?", "?"
		if n.HostInode != 0 {
			host = strconv.FormatUint(n.HostInode, 10)
			shared = "yes"
			if !n.SharedWithHost {
				shared = "NO (new)"
			}
		}
		if err := t.row(n.Kind, n.Inode, host, shared); err != nil {
			return err
		}
	}
	if err := t.render(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nIdentity")
	t = newTable(w, "what", "value")
	nspid := ""
	if len(p.NSPids) > 1 {
		nspid = fmt.Sprintf(" (PID %d inside its PID namespace)", p.NSPids[len(p.NSPids)-1])
	}
	rows := [][2]string{
		{"pid", strconv.Itoa(p.PID) + nspid},
		{"uid (real eff saved fs)", joinInts(p.UIDs[:])},
		{"gid (real eff saved fs)", joinInts(p.GIDs[:])},
		{"groups", joinInts(p.Groups)},
		{"uid_map (inside outside count)", joinMaps(p.UIDMap)},
		{"gid_map (inside outside count)", joinMaps(p.GIDMap)},
		{"hostname", p.Hostname},
		{"root", p.Root},
		{"cwd", p.Cwd},
		{"NoNewPrivs", strconv.FormatBool(p.NoNewPrivs)},
		{"seccomp", seccompText(p)},
	}
	for _, r := range rows {
		if err := t.row(r[0], r[1]); err != nil {
			return err
		}
	}
	if err := t.render(); err != nil {
		return err
	}

	fmt.Fprintf(w, "\nCgroups (/proc/%d/cgroup)\n", p.PID)
	t = newTable(w, "hierarchy", "version", "controllers", "path")
	for _, c := range p.Cgroups {
		ctl := strings.Join(c.Controllers, ",")
		if c.Version == 2 {
			ctl = "(unified)"
		}
		if err := t.row(c.HierarchyID, "v"+strconv.Itoa(c.Version), ctl, c.Path); err != nil {
			return err
		}
	}
	if err := t.render(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nCapabilities (CAP_ prefix omitted)")
	t = newTable(w, "set", "mask", "count", "names")
	c := p.Capabilities
	for _, s := range []struct {
		name string
		set  inspect.CapSet
	}{{"effective", c.Effective}, {"permitted", c.Permitted}, {"bounding", c.Bounding},
		{"inheritable", c.Inheritable}, {"ambient", c.Ambient}} {
		if err := t.row(s.name, s.set.Hex, len(s.set.Names), capText(s.set.Mask)); err != nil {
			return err
		}
	}
	if err := t.render(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nInterfaces (in its network namespace)")
	t = newTable(w, "name", "type", "admin", "state", "mtu", "mac", "addresses")
	for _, l := range p.Links {
		admin := "down"
		if l.Up {
			admin = "up"
		}
		var addrs []string
		for _, a := range l.Addresses {
			addrs = append(addrs, a.CIDR+" ("+a.Scope+")")
		}
		if err := t.row(l.Name, l.Type, admin, l.State, l.MTU, l.MAC, strings.Join(addrs, "\n")); err != nil {
			return err
		}
	}
	if err := t.render(); err != nil {
		return err
	}

	if !mounts {
		fmt.Fprintf(w, "\nMounts: %d (list them with --mounts)\n", p.MountCount)
		return nil
	}
	fmt.Fprintf(w, "\nMounts: %d (/proc/%d/mountinfo)\n", p.MountCount, p.PID)
	t = newTable(w, "id", "parent", "maj:min", "root", "mount point", "type", "source", "propagation", "options")
	for _, m := range p.Mounts {
		if err := t.row(m.ID, m.ParentID, m.MajorMinor, m.Root, m.MountPoint, m.FSType, m.Source,
			m.Propagation, m.Options); err != nil {
			return err
		}
	}
	return t.render()
}

func joinInts(l []int) string {
	s := make([]string, len(l))
	for i, n := range l {
		s[i] = strconv.Itoa(n)
	}
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, " ")
}

func joinMaps(l []inspect.IDMap) string {
	s := make([]string, len(l))
	for i, m := range l {
		s[i] = m.String()
	}
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, "\n")
}

func seccompText(p *inspect.Process) string {
	if p.Seccomp == "filter" {
		return fmt.Sprintf("filter (%d BPF filters)", p.SeccompFilters)
	}
	return p.Seccomp
}

// capText lists a set's names, four to a line. A set holding more than
// half of all capabilities is shown as what it lacks, as a learner reads
// a runtime's default set: "all 41 but: SYS_ADMIN, ...".
func capText(mask uint64) string {
	short := func(m uint64) []string {
		n := inspect.DecodeCaps(m)
		for i := range n {
			n[i] = strings.TrimPrefix(n[i], "CAP_")
		}
		return n
	}
	switch {
	case mask == 0:
		return "(none)"
	case mask == inspect.AllCaps:
		return fmt.Sprintf("all %d", inspect.CapLast+1)
	case mask&^inspect.AllCaps == 0 && bits.OnesCount64(mask) > (inspect.CapLast+1)/2:
		return fmt.Sprintf("all %d but:\n", inspect.CapLast+1) + wrapNames(short(inspect.AllCaps&^mask))
	}
	return wrapNames(short(mask))
}

func wrapNames(n []string) string {
	var b strings.Builder
	for i, s := range n {
		switch {
		case i == 0:
		case i%4 == 0:
			b.WriteString(",\n")
		default:
			b.WriteString(", ")
		}
		b.WriteString(s)
	}
	return b.String()
}
