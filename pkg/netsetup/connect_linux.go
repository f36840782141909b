package netsetup

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Connect wires a namespace to a ctrlab bridge: it ensures the bridge,
// leases an address, creates a veth pair whose host end is in the host
// namespace and whose other end, eth0, is created directly inside the
// namespace (one RTM_NEWLINK carrying the peer's IFLA_NET_NS_FD: moving a
// link between namespaces afterwards costs an RCU grace period, ~13 ms
// here), enslaves the host end to the bridge, adds the address, brings
// eth0 and lo up and adds the default route via the bridge address. On
// any error it rolls back: the veth is deleted and the lease released.
//
// Equivalent to:
//
//	ip link add ctrlabvXXXX type veth peer name eth0 netns ctrlab-red
//	ip link set ctrlabvXXXX master ctrlab0 up
//	ip -n ctrlab-red addr add 10.88.0.2/24 dev eth0
//	ip -n ctrlab-red link set eth0 up; ip -n ctrlab-red link set lo up
//	ip -n ctrlab-red route add default via 10.88.0.1
func (h *Host) Connect(ctx context.Context, opts ConnectOptions) (att *Attachment, err error) {
	if opts.IfName == "" {
		opts.IfName = DefaultIfName
	}
	target, path, err := openTarget(opts.PID, opts.NetnsPath)
	if err != nil {
		return nil, err
	}
	defer target.Close()
	tnl, err := netlink.NewHandleAt(target)
	if err != nil {
		return nil, fmt.Errorf("opening netlink socket in %s: %w", path, err)
	}
	defer tnl.Close()
	if _, err := tnl.LinkByName(opts.IfName); err == nil {
		return nil, fmt.Errorf("connecting %s: %w: it already has a link %q (already connected?)", path, ErrNameInUse, opts.IfName)
	}
	if opts.Name == "" {
		opts.Name = filepath.Base(path)
		if opts.PID > 0 {
			opts.Name = fmt.Sprintf("pid%d", opts.PID)
		}
	}
	br, err := h.EnsureBridge(ctx, opts.Bridge)
	if err != nil {
		return nil, err
	}
	brLink, err := h.nl.LinkByName(br.Name)
	if err != nil {
		return nil, fmt.Errorf("looking up bridge %s: %w", br.Name, err)
	}

	hostName := "ctrlabv" + randHex(4)
	att = &Attachment{
		Name: opts.Name, Bridge: br.Name, HostVeth: hostName, IfName: opts.IfName,
		NetnsPath: opts.NetnsPath, PID: opts.PID, Gateway: br.Gateway, StateDir: h.stateDir,
	}
	err = h.withState(func(st *stateFile) error {
		a, err := st.allocate(br, hostName)
		if err != nil {
			return err
		}
		att.Address = a
		st.Attachments[hostName] = att
		return nil
	})
	if err != nil {
		return nil, err
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostName}, PeerName: opts.IfName, PeerNamespace: netlink.NsFd(int(target))}
	defer func() {
		if err != nil { // roll back the half-built cable and the lease
			if l, e := h.nl.LinkByName(hostName); e == nil {
				_ = h.nl.LinkDel(l)
			}
			_ = h.releaseLease(hostName)
			att = nil
		}
	}()
	if err := h.nl.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("creating veth pair %s/%s in %s: %w", hostName, opts.IfName, path, err)
	}
	hostLink, err := h.nl.LinkByName(hostName)
	if err != nil {
		return nil, fmt.Errorf("looking up %s: %w", hostName, err)
	}
	eth, err := tnl.LinkByName(opts.IfName)
	if err != nil {
		return nil, fmt.Errorf("looking up %s in %s: %w", opts.IfName, path, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(att.Address.Addr().AsSlice()), Mask: net.CIDRMask(att.Address.Bits(), 32)}}
	steps := []struct {
		what string
		fn   func() error
	}{
		{"tagging " + hostName, func() error { return h.nl.LinkSetAlias(hostLink, aliasTag) }},
		{"attaching " + hostName + " to " + br.Name, func() error { return h.nl.LinkSetMaster(hostLink, brLink) }},
		{"setting " + hostName + " up", func() error { return h.nl.LinkSetUp(hostLink) }},
		{"adding address " + att.Address.String(), func() error { return tnl.AddrAdd(eth, addr) }},
		{"setting " + opts.IfName + " up", func() error { return tnl.LinkSetUp(eth) }},
		{"setting lo up", func() error {
			lo, err := tnl.LinkByName("lo")
			if err != nil {
				return err
			}
			return tnl.LinkSetUp(lo)
		}},
		{"adding default route via " + br.Gateway.String(), func() error {
			return tnl.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: net.IP(br.Gateway.AsSlice())})
		}},
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := s.fn(); err != nil {
			return nil, fmt.Errorf("connecting %s: %s: %w", path, s.what, err)
		}
		if failAfter != "" && strings.HasPrefix(s.what, failAfter) {
			return nil, fmt.Errorf("connecting %s: %s: injected failure", path, s.what)
		}
	}
	att.MAC = eth.Attrs().HardwareAddr.String()
	if err := h.withState(func(st *stateFile) error {
		st.Attachments[hostName] = att
		return nil
	}); err != nil {
		return nil, err
	}
	in := nsCmdPrefix(opts.PID, path)
	if br.Created {
		att.Equivalent = append(att.Equivalent, br.Equivalent...)
	}
	att.Equivalent = append(att.Equivalent,
		"ip link add "+hostName+" type veth peer name "+opts.IfName+" netns "+nsArg(opts.PID, path),
		"ip link set "+hostName+" master "+br.Name+" up",
		in+"addr add "+att.Address.String()+" dev "+opts.IfName,
		in+"link set "+opts.IfName+" up",
		in+"link set lo up",
		in+"route add default via "+br.Gateway.String(),
	)
	return att, nil
}

// failAfter makes Connect fail after the step whose description starts
// with it (tests of the roll-back path).
var failAfter string

func nsArg(pid int, path string) string {
	if pid > 0 {
		return fmt.Sprint(pid)
	}
	return filepath.Base(path)
}

func nsCmdPrefix(pid int, path string) string {
	if pid > 0 {
		return fmt.Sprintf("nsenter -t %d -n ip ", pid)
	}
	if strings.HasPrefix(path, DefaultNetnsDir+"/") {
		return "ip -n " + filepath.Base(path) + " "
	}
	return "nsenter --net=" + path + " ip "
}

// Attachment returns the recorded attachment whose name (netns name or
// label) or host veth is key.
func (h *Host) Attachment(key string) (*Attachment, error) {
	st, err := h.snapshot()
	if err != nil {
		return nil, err
	}
	for _, a := range st.Attachments {
		if a.HostVeth == key || a.Name == key || a.Name == NetnsName(key) {
			return a, nil
		}
	}
	return nil, fmt.Errorf("attachment %q: %w (connect it with 'ctrlab net connect')", key, ErrNotFound)
}

// Attachments lists every recorded attachment, sorted by name.
func (h *Host) Attachments() ([]Attachment, error) {
	st, err := h.snapshot()
	if err != nil {
		return nil, err
	}
	out := make([]Attachment, 0, len(st.Attachments))
	for _, a := range st.Attachments {
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Name < out[j].Name || out[i].Name == out[j].Name && out[i].HostVeth < out[j].HostVeth
	})
	return out, nil
}

// Disconnect undoes Connect: deletes the port rules, the host veth (which
// takes its peer, eth0, with it) and releases the lease.
//
// Equivalent to: ip link del ctrlabvXXXX
func (h *Host) Disconnect(ctx context.Context, att *Attachment) ([]string, error) {
	var eq []string
	var errs []error
	if len(att.Ports) > 0 {
		if fw, err := h.firewall(); err == nil {
			gone, err := fw.DeleteOwned(att.HostVeth, "")
			for _, r := range gone {
				eq = append(eq, deleteEquiv(fw, r))
			}
			errs = append(errs, err)
		} else {
			errs = append(errs, err)
		}
	}
	if l, err := h.nl.LinkByName(att.HostVeth); err == nil {
		if l.Attrs().Alias != aliasTag && !h.untaggedPair(l, att) {
			errs = append(errs, fmt.Errorf("deleting %s: %w", att.HostVeth, ErrNotOurs))
		} else if err := h.nl.LinkDel(l); err != nil {
			errs = append(errs, fmt.Errorf("deleting %s: %w", att.HostVeth, err))
		} else {
			eq = append(eq, "ip link del "+att.HostVeth)
		}
	}
	errs = append(errs, h.releaseLease(att.HostVeth))
	return eq, errors.Join(errs...)
}

// untaggedPair reports whether l is the veth pair Connect created for att
// but did not tag yet: ctrlab was killed between the RTM_NEWLINK and the
// alias (the kernel ignores IFLA_IFALIAS on creation, so the two cannot be
// one step). Its name, with a random suffix, was recorded before it was
// created; it is ours when it is a veth whose peer was created in another
// namespace (IFLA_LINK_NETNSID set: Connect creates eth0 directly in the
// container's netns), or, as older ctrlab versions created it, whose peer
// is still in this netns under the matching "ctrlabp" name.
func (h *Host) untaggedPair(l netlink.Link, att *Attachment) bool {
	suffix, ok := strings.CutPrefix(att.HostVeth, "ctrlabv")
	if !ok || l.Type() != "veth" {
		return false
	}
	if l.Attrs().NetNsID >= 0 {
		return true
	}
	peer, err := h.nl.LinkByName("ctrlabp" + suffix)
	return err == nil && peer.Type() == "veth" && peer.Attrs().ParentIndex == l.Attrs().Index
}

// Publish makes hostPort on every host address (127.0.0.1 included) reach
// ctrPort of the attachment: a DNAT rule in CTRLAB-DNAT (jumped to from
// PREROUTING and OUTPUT for local destinations) plus a hairpin MASQUERADE
// so namespaces on the bridge (itself included) can use the published port
// via a host address: without it the reply would go straight back over
// the bridge, skipping the host's conntrack, and never be un-DNATed. 127.0.0.1 works
// because the bridge has route_localnet=1 and 127.0.0.0/8-sourced packets
// leaving through the bridge are masqueraded to the bridge address.
//
// Equivalent to:
//
//	iptables -t nat -A CTRLAB-DNAT -p tcp --dport 8080 -j DNAT --to-destination 10.88.0.2:80
//	iptables -t nat -A CTRLAB-POSTROUTING -s 10.88.0.0/24 -d 10.88.0.2 -p tcp --dport 80 -j MASQUERADE
func (h *Host) Publish(ctx context.Context, att *Attachment, pm PortMapping) ([]string, error) {
	if pm.Proto == "" {
		pm.Proto = "tcp"
	}
	fw, err := h.firewall()
	if err != nil {
		return nil, err
	}
	var cur *Attachment
	err = h.withState(func(st *stateFile) error {
		cur = st.Attachments[att.HostVeth]
		if cur == nil {
			return fmt.Errorf("publishing %s: attachment %s: %w", pm, att.Name, ErrNotFound)
		}
		for _, a := range st.Attachments {
			for _, p := range a.Ports {
				if p.HostPort == pm.HostPort && p.Proto == pm.Proto {
					return fmt.Errorf("publishing %s: host port %d/%s is already published by %s: %w", pm, pm.HostPort, pm.Proto, a.Name, ErrNameInUse)
				}
			}
		}
		cur.Ports = append(cur.Ports, pm)
		return nil
	})
	if err != nil {
		return nil, err
	}
	rules := publishRules(cur, pm)
	if err := fw.Ensure(rules); err != nil {
		_, _ = h.Unpublish(ctx, cur, pm)
		return nil, err
	}
	var eq []string
	for _, r := range rules {
		eq = append(eq, fw.Equiv(r))
	}
	att.Ports = cur.Ports
	return eq, nil
}

func publishRules(a *Attachment, pm PortMapping) []fwRule {
	ip, sub := a.IP().String(), a.Address.Masked().String()
	port := fmt.Sprintf("%d/%s", pm.HostPort, pm.Proto)
	return []fwRule{
		{Table: "nat", Chain: chainDNAT, Comment: ruleComment("dnat", a.HostVeth, port),
			Ipt: []string{"-p", pm.Proto, "--dport", fmt.Sprint(pm.HostPort), "-j", "DNAT", "--to-destination", fmt.Sprintf("%s:%d", ip, pm.CtrPort)},
			Nft: fmt.Sprintf("%s dport %d dnat to %s:%d", pm.Proto, pm.HostPort, ip, pm.CtrPort)},
		{Table: "nat", Chain: chainPost, Comment: ruleComment("hairpin", a.HostVeth, port),
			Ipt: []string{"-s", sub, "-d", ip, "-p", pm.Proto, "--dport", fmt.Sprint(pm.CtrPort), "-j", "MASQUERADE"},
			Nft: fmt.Sprintf("ip saddr %s ip daddr %s %s dport %d masquerade", sub, ip, pm.Proto, pm.CtrPort)},
	}
}

// Unpublish removes the rules of one published port.
func (h *Host) Unpublish(ctx context.Context, att *Attachment, pm PortMapping) ([]string, error) {
	if pm.Proto == "" {
		pm.Proto = "tcp"
	}
	fw, err := h.firewall()
	if err != nil {
		return nil, err
	}
	gone, ferr := fw.DeleteOwned(att.HostVeth, fmt.Sprintf("%d/%s", pm.HostPort, pm.Proto))
	var eq []string
	for _, r := range gone {
		eq = append(eq, deleteEquiv(fw, r))
	}
	err = h.withState(func(st *stateFile) error {
		if cur := st.Attachments[att.HostVeth]; cur != nil {
			var keep []PortMapping
			for _, p := range cur.Ports {
				if p.HostPort != pm.HostPort || p.Proto != pm.Proto {
					keep = append(keep, p)
				}
			}
			cur.Ports = keep
			att.Ports = keep
		}
		return nil
	})
	return eq, errors.Join(ferr, err)
}

// --- package-level helpers for `ctrlab run` ---

// Connect opens the current netns as host (state in opts.StateDir) and
// connects the namespace of opts.PID or opts.NetnsPath. The returned
// Attachment is all Disconnect needs.
func Connect(ctx context.Context, opts ConnectOptions, hostOpts ...Option) (*Attachment, error) {
	h, err := openWith(opts.StateDir, hostOpts)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return h.Connect(ctx, opts)
}

// Disconnect undoes Connect (see Host.Disconnect).
func Disconnect(ctx context.Context, att *Attachment, hostOpts ...Option) error {
	h, err := openWith(att.StateDir, hostOpts)
	if err != nil {
		return err
	}
	defer h.Close()
	_, err = h.Disconnect(ctx, att)
	return err
}

// Publish publishes a port of a connected namespace (see Host.Publish).
func Publish(ctx context.Context, att *Attachment, hostPort, ctrPort uint16, hostOpts ...Option) error {
	h, err := openWith(att.StateDir, hostOpts)
	if err != nil {
		return err
	}
	defer h.Close()
	_, err = h.Publish(ctx, att, PortMapping{HostPort: hostPort, CtrPort: ctrPort, Proto: "tcp"})
	return err
}

// Unpublish removes a published port (see Host.Unpublish).
func Unpublish(ctx context.Context, att *Attachment, hostPort uint16, hostOpts ...Option) error {
	h, err := openWith(att.StateDir, hostOpts)
	if err != nil {
		return err
	}
	defer h.Close()
	_, err = h.Unpublish(ctx, att, PortMapping{HostPort: hostPort, Proto: "tcp"})
	return err
}

// EnsureBridge creates or finds a bridge in the current netns.
func EnsureBridge(ctx context.Context, opts BridgeOptions, hostOpts ...Option) (*Bridge, error) {
	h, err := Open(hostOpts...)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return h.EnsureBridge(ctx, opts)
}

func openWith(stateDir string, hostOpts []Option) (*Host, error) {
	if stateDir != "" {
		hostOpts = append([]Option{WithStateDir(stateDir)}, hostOpts...)
	}
	return Open(hostOpts...)
}

var _ = netip.Addr{}
var _ = netns.None
