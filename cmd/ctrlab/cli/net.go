package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ctrlab/ctrlab/pkg/assemble"
	"github.com/ctrlab/ctrlab/pkg/netsetup"
)

type netOptions struct {
	json     bool
	stateDir string
	netnsDir string
	firewall string
}

func (o *netOptions) open() (*netsetup.Host, error) {
	return netsetup.Open(netsetup.WithStateDir(o.stateDir), netsetup.WithNetnsDir(o.netnsDir), netsetup.WithFirewall(o.firewall))
}

// netReport is the --json form of every `ctrlab net` command.
type netReport struct {
	Action     string          `json:"action"`
	Result     any             `json:"result,omitempty"`
	State      *netsetup.State `json:"state,omitempty"`
	Equivalent []string        `json:"equivalent,omitempty"`
}

func newNetCmd(app *App) *cobra.Command {
	o := &netOptions{}
	cmd := &cobra.Command{
		Use:   "net",
		Short: "Wire namespaces with veth pairs, a bridge, routes, NAT and published ports",
		Long: `A new network namespace (unshare(CLONE_NEWNET)) holds nothing but a down
loopback: no interface, no address, no route. A runtime gives it a network
piece by piece, and so does this step:

  bridge   a virtual switch on the host (ip link add ctrlab0 type bridge),
           holding the gateway address of a private /24 (10.88.0.1/24)
  veth     a virtual cable: two interfaces, whatever enters one leaves the
           other (ip link add A type veth peer name B); one end is plugged
           into the bridge, the other moved into the namespace
           (ip link set B netns NAME) and renamed eth0
  address  leased from a tiny IPAM (a JSON file under --state-dir, locked
           with flock(2)), plus a default route via the bridge address
  NAT      net.ipv4.ip_forward=1 and a MASQUERADE rule for the subnet, in
           ctrlab's own chain CTRLAB-POSTROUTING
  publish  a DNAT rule in CTRLAB-DNAT: host port -> namespace address:port,
           reachable from outside, from the host (127.0.0.1 too) and from
           other namespaces

Every link, address and route is made with rtnetlink (vishvananda/netlink),
the same messages ip(8) sends; firewall rules go through iptables (or nft)
and carry a "ctrlab:..." comment. Each command prints both sides of the
cable: the host's ctrlab links, addresses, routes, bridge ports and rules,
and the namespace's links, addresses and routes.`,
		Example: `  sudo ctrlab net demo
  sudo ctrlab net bridge up
  sudo ctrlab net ns add red
  sudo ctrlab net connect red
  sudo ctrlab net publish red 8080:80
  sudo ctrlab net show red --json
  sudo ctrlab net cleanup`,
	}
	pf := cmd.PersistentFlags()
	pf.BoolVar(&o.json, "json", false, "print the report as JSON")
	pf.StringVar(&o.stateDir, "state-dir", assemble.NetDir(defaultRoot()), "where leases and records are kept (ROOT/net; ROOT is $CTRLAB_ROOT or /var/lib/ctrlab, shared with ctrlab run)")
	pf.StringVar(&o.netnsDir, "netns-dir", netsetup.DefaultNetnsDir, "where named namespaces are bind-mounted")
	pf.StringVar(&o.firewall, "firewall", "", "firewall backend: iptables or nft (default: detect)")
	_ = pf.MarkHidden("netns-dir")
	cmd.AddCommand(newNetBridgeCmd(app, o), newNetNsCmd(app, o), newNetConnectCmd(app, o),
		newNetPublishCmd(app, o), newNetShowCmd(app, o), newNetDemoCmd(app, o), newNetCleanupCmd(app, o))
	return cmd
}

// withHost checks root, opens the host side, runs fn and closes it.
func (o *netOptions) withHost(what string, fn func(*netsetup.Host) error) error {
	if err := requireRoot(what); err != nil {
		return err
	}
	h, err := o.open()
	if err != nil {
		return err
	}
	defer h.Close()
	return fn(h)
}

// finish shows the state after an action and renders report.
func (o *netOptions) finish(ctx context.Context, app *App, h *netsetup.Host, rep *netReport, name string) error {
	if rep.State == nil {
		st, err := h.Show(ctx, name)
		if err != nil {
			return err
		}
		rep.State = st
	}
	if o.json {
		return writeJSON(app.Out, rep)
	}
	if err := renderNetState(app.Out, rep.State); err != nil {
		return err
	}
	for _, e := range rep.Equivalent {
		fmt.Fprintf(app.Out, "Equivalent to: %s\n", e)
	}
	return nil
}

func newNetBridgeCmd(app *App, o *netOptions) *cobra.Command {
	var bo netsetup.BridgeOptions
	cmd := &cobra.Command{
		Use:   "bridge up|down",
		Short: "Create or delete a ctrlab bridge (a virtual switch with the gateway address)",
		Long: `'bridge up' creates the bridge link, gives it the first address of the subnet
(the gateway the namespaces route through), sets it up, turns on IPv4
forwarding and adds the MASQUERADE and FORWARD rules for the subnet.
Without --subnet it takes 10.88.0.0/24, or the next 10.88.N.0/24 that no
host route overlaps. 'bridge down' deletes it and its rules.

Equivalent to: ip link add ctrlab0 type bridge; ip addr add 10.88.0.1/24 dev ctrlab0;
ip link set ctrlab0 up; sysctl -w net.ipv4.ip_forward=1; iptables -t nat ... MASQUERADE`,
		Example: `  sudo ctrlab net bridge up
  sudo ctrlab net bridge up --name ctrlab1 --subnet 10.99.0.0/24
  sudo ctrlab net bridge down --name ctrlab1`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if args[0] != "up" && args[0] != "down" {
				return flagErrorf("bridge: want 'up' or 'down', got %q", args[0])
			}
			if err := netsetup.ValidateBridgeName(bo.Name); err != nil {
				return &FlagError{Err: err}
			}
			return o.withHost("ctrlab net bridge", func(h *netsetup.Host) error {
				rep := &netReport{Action: "bridge " + args[0]}
				if args[0] == "up" {
					br, err := h.EnsureBridge(c.Context(), bo)
					if err != nil {
						return err
					}
					rep.Result, rep.Equivalent = br, br.Equivalent
					if !br.Created && !o.json {
						fmt.Fprintf(app.ErrOut, "bridge %s already exists (%s)\n", br.Name, br.Subnet)
					}
				} else {
					eq, err := h.DeleteBridge(c.Context(), bo.Name)
					if err != nil {
						return err
					}
					rep.Equivalent = eq
				}
				return o.finish(c.Context(), app, h, rep, "")
			})
		},
	}
	cmd.Flags().StringVar(&bo.Name, "name", netsetup.DefaultBridge, "bridge name (must start with ctrlab)")
	cmd.Flags().StringVar(&bo.Subnet, "subnet", "", "IPv4 subnet, e.g. 10.88.0.0/24 (default: first free 10.88.N.0/24)")
	return cmd
}

func newNetNsCmd(app *App, o *netOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ns add|rm|ls [NAME]",
		Short: "Create, delete or list named network namespaces",
		Long: `'ns add NAME' creates a network namespace and pins it by bind-mounting
/proc/self/task/TID/ns/net onto /run/netns/ctrlab-NAME, exactly as
'ip netns add' does (unshare(CLONE_NEWNET) + mount(MS_BIND)). Names get a
"ctrlab-" prefix unless they already start with ctrlab. Inside there is only
lo, down. 'ns rm' disconnects it and removes it (umount + unlink); the
namespace, and the veth end inside it, vanish once nothing holds them.`,
		Example: `  sudo ctrlab net ns add red
  sudo ctrlab net ns ls
  sudo ctrlab net ns rm red`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			op := args[0]
			switch op {
			case "add", "rm":
				if len(args) != 2 {
					return flagErrorf("ns %s: needs a NAME", op)
				}
				if err := netsetup.ValidateNetnsName(args[1]); err != nil {
					return &FlagError{Err: err}
				}
			case "ls":
				if len(args) != 1 {
					return flagErrorf("ns ls takes no NAME")
				}
			default:
				return flagErrorf("ns: want add, rm or ls, got %q", op)
			}
			return o.withHost("ctrlab net ns", func(h *netsetup.Host) error {
				ctx := c.Context()
				switch op {
				case "add":
					info, err := h.AddNetns(ctx, args[1])
					if err != nil {
						return err
					}
					st, err := h.Show(ctx, args[1])
					if err != nil {
						return err
					}
					return o.finish(ctx, app, h, &netReport{Action: "ns add", Result: info, State: st,
						Equivalent: []string{"ip netns add " + info.Name}}, "")
				case "rm":
					eq, err := h.DeleteNetns(ctx, args[1])
					if err != nil {
						return err
					}
					return o.finish(ctx, app, h, &netReport{Action: "ns rm", Equivalent: eq}, "")
				}
				list, err := h.ListNetns(ctx)
				if err != nil {
					return err
				}
				if o.json {
					return writeJSON(app.Out, list)
				}
				t := newTable(app.Out, "name", "path", "inode", "ctrlab")
				for _, n := range list {
					if err := t.row(n.Name, n.Path, n.Inode, n.Ours); err != nil {
						return err
					}
				}
				if err := t.render(); err != nil {
					return err
				}
				fmt.Fprintln(app.Out, "Equivalent to: ip netns ls")
				return nil
			})
		},
	}
	return cmd
}

func newNetConnectCmd(app *App, o *netOptions) *cobra.Command {
	var co netsetup.ConnectOptions
	cmd := &cobra.Command{
		Use:   "connect NAME",
		Short: "Plug a namespace into a bridge: veth pair, address, default route",
		Long: `Creates a veth pair on the host, plugs one end into the bridge (creating the
bridge if needed), moves the other end into the namespace, renames it eth0,
gives it the next free address of the subnet (leases live in
<state-dir>/state.json, guarded by flock(2)), brings eth0 and lo up and adds
a default route via the bridge address. NAME is a namespace made with
'ctrlab net ns add'; --pid connects the namespace of a running process
instead. A failure half-way deletes the veth and releases the lease.`,
		Example: `  sudo ctrlab net connect red
  sudo ctrlab net connect red --bridge ctrlab1
  sudo ctrlab net connect --pid 4242`,
		Args: cobra.RangeArgs(0, 1),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 && co.PID == 0 {
				return flagErrorf("connect: give a namespace NAME or --pid")
			}
			if len(args) == 1 && co.PID != 0 {
				return flagErrorf("connect: give a NAME or --pid, not both")
			}
			if err := netsetup.ValidateBridgeName(co.Bridge.Name); err != nil {
				return &FlagError{Err: err}
			}
			if len(args) == 1 {
				if err := netsetup.ValidateNetnsName(args[0]); err != nil {
					return &FlagError{Err: err}
				}
			}
			return o.withHost("ctrlab net connect", func(h *netsetup.Host) error {
				opts := co
				if len(args) == 1 {
					opts.NetnsPath, opts.Name = h.NetnsPath(args[0]), netsetup.NetnsName(args[0])
				}
				att, err := h.Connect(c.Context(), opts)
				if err != nil {
					return err
				}
				return o.finish(c.Context(), app, h, &netReport{Action: "connect", Result: att, Equivalent: att.Equivalent}, att.HostVeth)
			})
		},
	}
	cmd.Flags().StringVar(&co.Bridge.Name, "bridge", netsetup.DefaultBridge, "bridge to plug into (created if missing)")
	cmd.Flags().StringVar(&co.Bridge.Subnet, "subnet", "", "subnet for a bridge that does not exist yet")
	cmd.Flags().IntVar(&co.PID, "pid", 0, "connect the network namespace of this process")
	return cmd
}

func newNetPublishCmd(app *App, o *netOptions) *cobra.Command {
	var unpublish bool
	cmd := &cobra.Command{
		Use:   "publish NAME HOSTPORT:CTRPORT[/tcp|/udp]",
		Short: "Publish a host port to a port inside a connected namespace (DNAT)",
		Long: `Adds a DNAT rule to CTRLAB-DNAT, which PREROUTING (traffic arriving from
outside) and OUTPUT (traffic from the host itself) jump to for local
destination addresses: HOSTPORT on any host address goes to the namespace's
address:CTRPORT. 127.0.0.1:HOSTPORT works too because the bridge has
net.ipv4.conf.<bridge>.route_localnet=1 and loopback-sourced packets
leaving through the bridge are masqueraded to the bridge address. A second
MASQUERADE rule lets namespaces on the bridge use the published port too.
No proxy process is involved: it is all kernel state, listed below.`,
		Example: `  sudo ctrlab net publish red 8080:80
  curl http://127.0.0.1:8080/
  sudo ctrlab net publish red 8080:80 --remove`,
		Args: cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			pm, err := netsetup.ParsePortSpec(args[1])
			if err != nil {
				return &FlagError{Err: err}
			}
			return o.withHost("ctrlab net publish", func(h *netsetup.Host) error {
				att, err := h.Attachment(args[0])
				if err != nil {
					return err
				}
				var eq []string
				if unpublish {
					eq, err = h.Unpublish(c.Context(), att, pm)
				} else {
					eq, err = h.Publish(c.Context(), att, pm)
				}
				if err != nil {
					return err
				}
				if !o.json && !unpublish {
					fmt.Fprintf(app.ErrOut, "published host port %d/%s -> %s:%d\n", pm.HostPort, pm.Proto, att.IP(), pm.CtrPort)
				}
				return o.finish(c.Context(), app, h, &netReport{Action: "publish", Result: pm, Equivalent: eq}, att.HostVeth)
			})
		},
	}
	cmd.Flags().BoolVar(&unpublish, "remove", false, "remove the published port instead")
	return cmd
}

func newNetShowCmd(app *App, o *netOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "show [NAME]",
		Short: "Show ctrlab's links, addresses, routes, bridge ports and firewall rules",
		Long: `Reads the kernel through netlink: on the host side only the links ctrlab made
(named ctrlab*), with their addresses and routes, and the bridge ports; on
the namespace side every link, address and route. Plus ctrlab's firewall
rules (iptables-save or nft list, filtered to ctrlab's chains).`,
		Example: `  sudo ctrlab net show
  sudo ctrlab net show red --json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			return o.withHost("ctrlab net show", func(h *netsetup.Host) error {
				return o.finish(c.Context(), app, h, &netReport{Action: "show",
					Equivalent: []string{"ip -d link show; ip addr; ip route; bridge link; iptables-save | grep -i ctrlab"}}, name)
			})
		},
	}
}

func newNetDemoCmd(app *App, o *netOptions) *cobra.Command {
	var do netsetup.DemoOptions
	var port int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Two namespaces on a bridge ping each other, a published port is reached, all torn down",
		Long: `Runs the whole step end to end on your kernel: creates bridge ctrlabdemo0 and
namespaces ctrlab-demo-a and ctrlab-demo-b, connects both, sends ICMP echo
requests between them (from a raw socket opened inside each namespace, no
ping binary), starts a TCP echo server inside ctrlab-demo-b, publishes it
on a free host port and talks to it from the host via 127.0.0.1 and from
ctrlab-demo-a via the bridge address, then removes everything it made.`,
		Example: `  sudo ctrlab net demo
  sudo ctrlab net demo --json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if port < 0 || port > 65535 {
				return flagErrorf("--host-port must be 0-65535")
			}
			do.HostPort = uint16(port)
			if err := netsetup.ValidateBridgeName(do.Bridge); err != nil {
				return &FlagError{Err: err}
			}
			return o.withHost("ctrlab net demo", func(h *netsetup.Host) error {
				var steps []netsetup.DemoStep
				err := h.Demo(c.Context(), do, func(s netsetup.DemoStep) {
					if o.json {
						steps = append(steps, s)
						return
					}
					_ = renderDemoStep(app.Out, s)
				})
				if o.json && len(steps) > 0 {
					if jerr := writeJSON(app.Out, steps); jerr != nil {
						return jerr
					}
				}
				return err
			})
		},
	}
	cmd.Flags().StringVar(&do.Bridge, "bridge", "ctrlabdemo0", "bridge the demo creates")
	cmd.Flags().StringVar(&do.Subnet, "subnet", "", "subnet for the demo bridge (default: first free 10.88.N.0/24)")
	cmd.Flags().IntVar(&port, "host-port", 0, "host port to publish (default: a free one)")
	return cmd
}

func newNetCleanupCmd(app *App, o *netOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "cleanup",
		Short: "Remove every link, namespace, firewall rule and lease ctrlab made",
		Long: `Deletes what ctrlab's networking created and nothing else: links named
ctrlab* carrying ctrlab's alias (veths, then bridges), the named namespaces
recorded in the state file, the CTRLAB-* chains and the jumps to them (or
the nft table "ip ctrlab"), every lease, and net.ipv4.ip_forward if ctrlab
was the one to turn it on.`,
		Example: `  sudo ctrlab net cleanup`,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return o.withHost("ctrlab net cleanup", func(h *netsetup.Host) error {
				rep, err := h.Cleanup(c.Context())
				if err != nil && rep == nil {
					return err
				}
				if ferr := o.finish(c.Context(), app, h, &netReport{Action: "cleanup", Result: rep, Equivalent: rep.Equivalent}, ""); ferr != nil {
					return errors.Join(err, ferr)
				}
				if !o.json {
					fmt.Fprintf(app.ErrOut, "removed %d links, %d namespaces, %d rules, %d leases\n",
						len(rep.Links), len(rep.Netns), len(rep.Rules), len(rep.Leases))
				}
				return err
			})
		},
	}
}

func renderDemoStep(w io.Writer, s netsetup.DemoStep) error {
	fmt.Fprintf(w, "\n### %s\n", s.Title)
	for _, l := range s.Lines {
		fmt.Fprintf(w, "  %s\n", l)
	}
	if s.State != nil {
		if err := renderNetState(w, s.State); err != nil {
			return err
		}
	}
	for _, e := range s.Equivalent {
		fmt.Fprintf(w, "Equivalent to: %s\n", e)
	}
	return nil
}

// renderNetState prints the host side, each namespace side, bridge ports
// and ctrlab's firewall rules as tables.
func renderNetState(w io.Writer, st *netsetup.State) error {
	views := append([]netsetup.NetnsView{st.Host}, st.Namespaces...)
	for i, v := range views {
		if i == 0 {
			fmt.Fprintf(w, "== host side (ctrlab links only; net.ipv4.ip_forward=%s)\n", st.IPForward)
		} else {
			fmt.Fprintf(w, "== namespace %s (%s, inode %d)\n", v.Name, v.Path, v.Inode)
		}
		if len(v.Links) == 0 {
			fmt.Fprintln(w, "  (no ctrlab links)")
			continue
		}
		t := newTable(w, "link", "kind", "state", "mac", "master", "peer")
		for _, l := range v.Links {
			if err := t.row(l.Name, l.Kind, l.State, l.MAC, dash(l.Master), dash(l.Peer)); err != nil {
				return err
			}
		}
		if err := t.render(); err != nil {
			return err
		}
		if len(v.Addrs) > 0 {
			t = newTable(w, "link", "address", "scope")
			for _, a := range v.Addrs {
				if err := t.row(a.Link, a.Address, a.Scope); err != nil {
					return err
				}
			}
			if err := t.render(); err != nil {
				return err
			}
		}
		if len(v.Routes) > 0 {
			t = newTable(w, "route", "via", "dev", "src", "scope")
			for _, r := range v.Routes {
				if err := t.row(r.Dst, dash(r.Gateway), r.Dev, dash(r.Src), r.Scope); err != nil {
					return err
				}
			}
			if err := t.render(); err != nil {
				return err
			}
		}
	}
	if len(st.BridgePorts) > 0 {
		fmt.Fprintln(w, "== bridge ports")
		t := newTable(w, "bridge", "ports")
		for _, b := range st.BridgePorts {
			if err := t.row(b.Bridge, dash(strings.Join(b.Ports, " "))); err != nil {
				return err
			}
		}
		if err := t.render(); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "== firewall rules owned by ctrlab (%s)\n", st.Firewall)
	if len(st.Rules) == 0 {
		fmt.Fprintln(w, "  (none)")
		return nil
	}
	t := newTable(w, "table", "chain", "rule")
	for _, r := range st.Rules {
		if err := t.row(r.Table, r.Chain, r.Rule); err != nil {
			return err
		}
	}
	return t.render()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
