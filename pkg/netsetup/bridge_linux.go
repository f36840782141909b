package netsetup

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// EnsureBridge returns the ctrlab bridge opts.Name, creating it if needed:
// the bridge link with the gateway (first) address of the subnet, link up,
// IPv4 forwarding on, route_localnet on the bridge (for 127.0.0.1 published
// ports), and the MASQUERADE/FORWARD rules for the subnet.
//
// With no subnet given it takes DefaultSubnet, or the next 10.88.N.0/24
// that overlaps no route in the host namespace; a subnet given explicitly
// that overlaps a route is refused with ErrSubnetOverlap. A link of that
// name that ctrlab did not create is refused with ErrNameInUse.
//
// Equivalent to:
//
//	ip link add ctrlab0 type bridge
//	ip addr add 10.88.0.1/24 dev ctrlab0
//	ip link set ctrlab0 up
//	sysctl -w net.ipv4.ip_forward=1
//	iptables -t nat -A CTRLAB-POSTROUTING -s 10.88.0.0/24 ! -o ctrlab0 -j MASQUERADE
func (h *Host) EnsureBridge(ctx context.Context, opts BridgeOptions) (*Bridge, error) {
	if opts.Name == "" {
		opts.Name = DefaultBridge
	}
	if err := ValidateBridgeName(opts.Name); err != nil {
		return nil, err
	}
	var want netip.Prefix
	if opts.Subnet != "" {
		p, err := netip.ParsePrefix(opts.Subnet)
		if err != nil || !p.Addr().Is4() || p.Bits() < 16 || p.Bits() > 30 {
			return nil, fmt.Errorf("invalid subnet %q: want an IPv4 CIDR from /16 to /30, e.g. 10.88.0.0/24", opts.Subnet)
		}
		want = p.Masked()
	}
	fw, err := h.firewall()
	if err != nil {
		return nil, err
	}
	var br *Bridge
	err = h.withState(func(st *stateFile) error {
		var err error
		br, err = h.ensureBridgeLocked(st, opts.Name, want)
		return err
	})
	if err != nil {
		return nil, err
	}
	br.Firewall = fw.Name()
	if err := h.ensureBridgeNet(br, fw); err != nil {
		return nil, err
	}
	br.Equivalent = append(br.Equivalent,
		"sysctl -w net.ipv4.ip_forward=1",
		"sysctl -w net.ipv4.conf."+br.Name+".route_localnet=1")
	for _, r := range bridgeRules(br) {
		br.Equivalent = append(br.Equivalent, fw.Equiv(r))
	}
	return br, nil
}

// ensureBridgeLocked finds or creates the bridge link; called with the
// state lock held so two processes do not both create it.
func (h *Host) ensureBridgeLocked(st *stateFile, name string, want netip.Prefix) (*Bridge, error) {
	link, err := h.nl.LinkByName(name)
	if err == nil {
		if _, ok := link.(*netlink.Bridge); !ok || link.Attrs().Alias != aliasTag {
			return nil, fmt.Errorf("creating bridge %q: %w: a %s link of that name exists and ctrlab did not create it", name, ErrNameInUse, link.Type())
		}
		br, err := h.bridgeFromLink(link)
		if err != nil {
			return nil, err
		}
		if want.IsValid() && want != br.Subnet {
			return nil, fmt.Errorf("bridge %s already has subnet %s (asked for %s): %w; run 'ctrlab net bridge down --name %s' first", name, br.Subnet, want, ErrNameInUse, name)
		}
		st.Bridges[name] = &bridgeRec{Name: name, Subnet: br.Subnet, Gateway: br.Gateway}
		return br, nil
	}
	var nf netlink.LinkNotFoundError
	if !errors.As(err, &nf) {
		return nil, fmt.Errorf("looking up link %q: %w", name, err)
	}
	subnet, err := h.pickSubnet(st, name, want)
	if err != nil {
		return nil, err
	}
	gw := subnet.Addr().Next()
	br := &Bridge{Name: name, Subnet: subnet, Gateway: gw, Created: true}
	nb := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
	if err := h.nl.LinkAdd(nb); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("creating bridge %q: %w", name, ErrNameInUse)
		}
		return nil, fmt.Errorf("creating bridge %q: %w", name, err)
	}
	rollback := func() { _ = h.nl.LinkDel(nb) }
	link, err = h.nl.LinkByName(name)
	if err != nil {
		rollback()
		return nil, fmt.Errorf("looking up new bridge %q: %w", name, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(gw.AsSlice()), Mask: net.CIDRMask(subnet.Bits(), 32)}}
	steps := []struct {
		what string
		fn   func() error
	}{
		{"setting alias", func() error { return h.nl.LinkSetAlias(link, aliasTag) }},
		{"adding address " + addr.IPNet.String(), func() error { return h.nl.AddrAdd(link, addr) }},
		{"setting link up", func() error { return h.nl.LinkSetUp(link) }},
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			rollback()
			return nil, fmt.Errorf("%s on bridge %s: %w", s.what, name, err)
		}
	}
	br.MAC = link.Attrs().HardwareAddr.String()
	st.Bridges[name] = &bridgeRec{Name: name, Subnet: subnet, Gateway: gw}
	br.Equivalent = []string{
		"ip link add " + name + " type bridge",
		"ip link set " + name + " alias " + aliasTag,
		fmt.Sprintf("ip addr add %s/%d dev %s", gw, subnet.Bits(), name),
		"ip link set " + name + " up",
	}
	return br, nil
}

// ensureBridgeNet turns on forwarding and adds the bridge's rules.
func (h *Host) ensureBridgeNet(br *Bridge, fw firewall) error {
	fwd, err := h.sysctl("net/ipv4/ip_forward")
	if err != nil {
		return fmt.Errorf("reading net.ipv4.ip_forward: %w", err)
	}
	if fwd != "1" {
		if err := h.setSysctl("net/ipv4/ip_forward", "1"); err != nil {
			return err
		}
		if err := h.withState(func(st *stateFile) error { st.ForwardingOn = true; return nil }); err != nil {
			return err
		}
	}
	if err := h.setSysctl("net/ipv4/conf/"+br.Name+"/route_localnet", "1"); err != nil {
		return err
	}
	// The chains, jumps and rules change only when a bridge is created
	// (or someone flushes them): one read verifies them on every connect,
	// and only when something is missing are they written, under the
	// state lock so that two ctrlab processes do not both add it.
	rules := bridgeRules(br)
	if ok, err := fw.Check(rules); err != nil || ok {
		return err
	}
	return h.withState(func(*stateFile) error { return fw.Ensure(rules) })
}

// bridgeRules are the rules every ctrlab bridge needs: masquerade traffic
// leaving the subnet, masquerade 127.0.0.1-sourced traffic DNATed onto the
// bridge (published ports reached via localhost), and accept forwarding to
// and from the bridge.
func bridgeRules(br *Bridge) []fwRule {
	s, b := br.Subnet.String(), br.Name
	return []fwRule{
		{Table: "nat", Chain: chainPost, Comment: ruleComment("masq", b, ""),
			Ipt: []string{"-s", s, "!", "-o", b, "-j", "MASQUERADE"},
			Nft: fmt.Sprintf(`ip saddr %s oifname != "%s" masquerade`, s, b)},
		{Table: "nat", Chain: chainPost, Comment: ruleComment("lomasq", b, ""),
			Ipt: []string{"-s", "127.0.0.0/8", "-o", b, "-j", "MASQUERADE"},
			Nft: fmt.Sprintf(`ip saddr 127.0.0.0/8 oifname "%s" masquerade`, b)},
		{Table: "filter", Chain: chainFwd, Comment: ruleComment("fwdin", b, ""),
			Ipt: []string{"-i", b, "-j", "ACCEPT"},
			Nft: fmt.Sprintf(`iifname "%s" accept`, b)},
		{Table: "filter", Chain: chainFwd, Comment: ruleComment("fwdout", b, ""),
			Ipt: []string{"-o", b, "-j", "ACCEPT"},
			Nft: fmt.Sprintf(`oifname "%s" accept`, b)},
	}
}

// bridgeFromLink reads subnet and gateway back from the bridge's address.
func (h *Host) bridgeFromLink(link netlink.Link) (*Bridge, error) {
	addrs, err := h.nl.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("listing addresses of %s: %w", link.Attrs().Name, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("bridge %s has no IPv4 address", link.Attrs().Name)
	}
	ip, _ := netip.AddrFromSlice(addrs[0].IP.To4())
	ones, _ := addrs[0].Mask.Size()
	return &Bridge{
		Name: link.Attrs().Name, Gateway: ip, Subnet: netip.PrefixFrom(ip, ones).Masked(),
		MAC: link.Attrs().HardwareAddr.String(),
	}, nil
}

// pickSubnet returns want if it overlaps no host route nor another ctrlab
// bridge, else (when want is unset) the first free 10.88.N.0/24. The
// record of the bridge being (re)created itself is not a conflict: its
// link is gone (deleted behind ctrlab's back), so its subnet is free.
func (h *Host) pickSubnet(st *stateFile, name string, want netip.Prefix) (netip.Prefix, error) {
	routes, err := h.nl.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("listing host routes: %w", err)
	}
	var used []netip.Prefix
	for _, r := range routes {
		if r.Dst == nil {
			continue // default route: overlaps everything, ignore
		}
		ones, _ := r.Dst.Mask.Size()
		if ones == 0 || r.Table == unix.RT_TABLE_LOCAL && ones == 32 {
			continue
		}
		a, ok := netip.AddrFromSlice(r.Dst.IP.To4())
		if !ok {
			continue
		}
		used = append(used, netip.PrefixFrom(a, ones).Masked())
	}
	for _, b := range st.Bridges {
		if b.Name != name {
			used = append(used, b.Subnet)
		}
	}
	overlap := func(p netip.Prefix) (netip.Prefix, bool) {
		for _, u := range used {
			if u.Overlaps(p) {
				return u, true
			}
		}
		return netip.Prefix{}, false
	}
	if want.IsValid() {
		if u, bad := overlap(want); bad {
			return netip.Prefix{}, fmt.Errorf("subnet %s: %w %s in the host namespace; pick another with --subnet", want, ErrSubnetOverlap, u)
		}
		return want, nil
	}
	for n := 0; n < 256; n++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 88, byte(n), 0}), 24)
		if _, bad := overlap(p); !bad {
			return p, nil
		}
	}
	return netip.Prefix{}, ErrNoFreeSubnet
}

// DeleteBridge removes a ctrlab bridge and its firewall rules. It refuses
// (ErrBridgeBusy) while namespaces are still connected to it.
//
// Equivalent to: ip link del ctrlab0; iptables -t nat -D CTRLAB-POSTROUTING ...
func (h *Host) DeleteBridge(ctx context.Context, name string) ([]string, error) {
	if name == "" {
		name = DefaultBridge
	}
	var eq []string
	err := h.withState(func(st *stateFile) error {
		var busy []string
		for _, a := range st.Attachments {
			if a.Bridge == name {
				busy = append(busy, a.Name)
			}
		}
		if len(busy) > 0 {
			sort.Strings(busy)
			return fmt.Errorf("deleting bridge %s: %w: %v; run 'ctrlab net ns rm' or 'ctrlab net cleanup'", name, ErrBridgeBusy, busy)
		}
		link, err := h.nl.LinkByName(name)
		if err != nil {
			var nf netlink.LinkNotFoundError
			if errors.As(err, &nf) {
				if _, known := st.Bridges[name]; !known {
					return fmt.Errorf("deleting bridge %s: %w", name, ErrNotFound)
				}
			} else {
				return fmt.Errorf("looking up bridge %s: %w", name, err)
			}
		} else {
			if link.Attrs().Alias != aliasTag {
				return fmt.Errorf("deleting bridge %s: %w", name, ErrNotOurs)
			}
			if err := h.nl.LinkDel(link); err != nil {
				return fmt.Errorf("deleting bridge %s: %w", name, err)
			}
			eq = append(eq, "ip link del "+name)
		}
		delete(st.Bridges, name)
		for k := range st.Leases {
			if len(k) > len(name) && k[:len(name)+1] == name+"/" {
				delete(st.Leases, k)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if fw, err := h.firewall(); err == nil {
		gone, err := fw.DeleteOwned(name, "")
		for _, r := range gone {
			eq = append(eq, deleteEquiv(fw, r))
		}
		if err != nil {
			return eq, fmt.Errorf("deleting firewall rules of %s: %w", name, err)
		}
		// The last ctrlab bridge gone: remove the chains and jumps too.
		if rules, err := fw.List(); err == nil && onlyJumps(rules) && len(rules) > 0 {
			if _, err := fw.Teardown(); err != nil {
				return eq, err
			}
			eq = append(eq, "iptables -t nat -D POSTROUTING -j CTRLAB-POSTROUTING ...; iptables -t nat -X CTRLAB-POSTROUTING ... (empty ctrlab chains and their jumps)")
		}
	}
	var restore bool
	err = h.withState(func(st *stateFile) error {
		restore = st.ForwardingOn && len(st.Bridges) == 0
		if restore {
			st.ForwardingOn = false
		}
		return nil
	})
	if restore {
		if err := h.setSysctl("net/ipv4/ip_forward", "0"); err != nil {
			return eq, err
		}
		eq = append(eq, "sysctl -w net.ipv4.ip_forward=0")
	}
	return eq, err
}

func onlyJumps(rules []Rule) bool {
	for _, r := range rules {
		if r.Comment != jumpTag {
			return false
		}
	}
	return true
}

func deleteEquiv(fw firewall, r Rule) string {
	if fw.Name() == "nft" {
		return "nft delete rule ip ctrlab " + r.Chain + " handle ..."
	}
	args := shellSplit(r.Rule)
	args[0] = "-D"
	return "iptables -t " + r.Table + " " + shellJoin(args)
}
