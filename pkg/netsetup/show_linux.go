package netsetup

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Show collects what ctrlab made: the host side (ctrlab links only, their
// addresses and routes), each connected namespace (all its links,
// addresses and routes; only the one named by name, if not empty),
// bridge ports, ctrlab's firewall rules and the recorded attachments.
//
// Equivalent to: ip -d link show; ip addr; ip route; bridge link;
// ip -n NAME addr; ip -n NAME route; iptables-save | grep ctrlab
func (h *Host) Show(ctx context.Context, name string) (*State, error) {
	return h.show(ctx, name, false)
}

// show with hostOnly leaves the namespaces out.
func (h *Host) show(ctx context.Context, name string, hostOnly bool) (*State, error) {
	atts, err := h.Attachments()
	if err != nil {
		return nil, err
	}
	s := &State{Attachments: atts}
	if fwd, err := h.sysctl("net/ipv4/ip_forward"); err == nil {
		s.IPForward = fwd
	}
	if name != "" {
		var keep []Attachment
		for _, a := range atts {
			if a.Name == name || a.Name == NetnsName(name) || a.HostVeth == name {
				keep = append(keep, a)
			}
		}
		s.Attachments = keep
	}
	// Namespaces: connected ones, plus a named netns given by name.
	paths := map[string]string{} // path -> display name
	for _, a := range s.Attachments {
		p := a.NetnsPath
		if a.PID > 0 {
			p = fmt.Sprintf("/proc/%d/ns/net", a.PID)
		}
		paths[p] = a.Name
	}
	if name != "" && len(s.Attachments) == 0 {
		p := h.NetnsPath(name)
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("showing %s: %w: no such attachment or netns", name, ErrNotFound)
		}
		paths[p] = NetnsName(name)
	}
	if hostOnly {
		paths = nil
		s.Attachments = []Attachment{}
	}
	host, err := viewNS(h.nl, "host", true)
	if err != nil {
		return nil, err
	}
	s.Host = *host
	ordered := make([]string, 0, len(paths))
	for p := range paths {
		ordered = append(ordered, p)
	}
	sort.Strings(ordered)
	for _, p := range ordered {
		v, err := viewPath(p, paths[p])
		if err != nil {
			return nil, err
		}
		s.Namespaces = append(s.Namespaces, *v)
	}
	resolvePeers(s)
	// Bridge ports.
	byIndex := map[int]string{}
	for _, l := range s.Host.Links {
		byIndex[l.Index] = l.Name
	}
	ports := map[string][]string{}
	for _, l := range s.Host.Links {
		if l.Kind == "bridge" {
			if _, ok := ports[l.Name]; !ok {
				ports[l.Name] = []string{}
			}
		}
		if l.Master != "" {
			ports[l.Master] = append(ports[l.Master], l.Name)
		}
	}
	for b, p := range ports {
		s.BridgePorts = append(s.BridgePorts, BridgePorts{Bridge: b, Ports: p})
	}
	sort.Slice(s.BridgePorts, func(i, j int) bool { return s.BridgePorts[i].Bridge < s.BridgePorts[j].Bridge })
	if fw, err := h.firewall(); err == nil {
		s.Firewall = fw.Name()
		if s.Rules, err = fw.List(); err != nil {
			return nil, err
		}
	} else {
		s.Firewall = "none"
	}
	return s, nil
}

func viewPath(path, name string) (*NetnsView, error) {
	ns, _, err := openTarget(0, path)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	nl, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("opening netlink socket in %s: %w", path, err)
	}
	defer nl.Close()
	v, err := viewNS(nl, name, false)
	if err != nil {
		return nil, err
	}
	v.Path = path
	var st unix.Stat_t
	if unix.Fstat(int(ns), &st) == nil {
		v.Inode = uint64(st.Ino)
	}
	return v, nil
}

// viewNS reads links, addresses and routes through nl. With onlyOurs it
// keeps only links named ctrlab* (the host side of ctrlab's cables).
func viewNS(nl *netlink.Handle, name string, onlyOurs bool) (*NetnsView, error) {
	links, err := nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("listing links of %s: %w", name, err)
	}
	v := &NetnsView{Name: name, Links: []LinkView{}, Addrs: []AddrView{}, Routes: []RouteView{}}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	keep := map[int]bool{}
	for _, l := range links {
		a := l.Attrs()
		if onlyOurs && !(strings.HasPrefix(a.Name, Prefix) && a.Alias == aliasTag) {
			continue
		}
		keep[a.Index] = true
		lv := LinkView{Index: a.Index, Name: a.Name, Kind: l.Type(), State: a.OperState.String(),
			MAC: a.HardwareAddr.String(), MTU: a.MTU, Master: names[a.MasterIndex]}
		if a.Flags&net.FlagUp == 0 {
			lv.State = "DOWN"
		} else if lv.State == "unknown" {
			lv.State = "UNKNOWN"
		} else {
			lv.State = strings.ToUpper(lv.State)
		}
		if l.Type() == "veth" && a.ParentIndex > 0 {
			lv.Peer = fmt.Sprintf("if%d", a.ParentIndex)
			if a.NetNsID < 0 {
				lv.Peer = names[a.ParentIndex]
			} else {
				lv.Peer += fmt.Sprintf(" (netnsid %d)", a.NetNsID)
			}
		}
		v.Links = append(v.Links, lv)
		addrs, err := nl.AddrList(l, netlink.FAMILY_V4)
		if err != nil {
			return nil, fmt.Errorf("listing addresses of %s: %w", a.Name, err)
		}
		for _, ad := range addrs {
			v.Addrs = append(v.Addrs, AddrView{Link: a.Name, Address: ad.IPNet.String(), Scope: scopeName(netlink.Scope(ad.Scope))})
		}
	}
	routes, err := nl.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("listing routes of %s: %w", name, err)
	}
	for _, r := range routes {
		if !keep[r.LinkIndex] {
			continue
		}
		rv := RouteView{Dst: "default", Dev: names[r.LinkIndex], Scope: scopeName(r.Scope)}
		if r.Dst != nil {
			if ones, _ := r.Dst.Mask.Size(); ones > 0 || !r.Dst.IP.IsUnspecified() {
				rv.Dst = r.Dst.String()
			}
		}
		if r.Gw != nil {
			rv.Gateway = r.Gw.String()
		}
		if r.Src != nil {
			rv.Src = r.Src.String()
		}
		v.Routes = append(v.Routes, rv)
	}
	return v, nil
}

func scopeName(s netlink.Scope) string {
	switch s {
	case netlink.SCOPE_UNIVERSE:
		return "global"
	case netlink.SCOPE_LINK:
		return "link"
	case netlink.SCOPE_HOST:
		return "host"
	}
	return fmt.Sprint(int(s))
}

// resolvePeers turns "if7" peers into "eth0 in ctrlab-red" using the
// namespaces in view: a veth's IFLA_LINK is its peer's ifindex, and
// IFLA_LINK_NETNSID says it lives in another namespace.
func resolvePeers(s *State) {
	type key struct {
		ns  string
		idx int
	}
	type ref struct {
		ns   string
		link LinkView
	}
	all := []ref{}
	for _, l := range s.Host.Links {
		all = append(all, ref{"host", l})
	}
	for _, n := range s.Namespaces {
		for _, l := range n.Links {
			all = append(all, ref{n.Name, l})
		}
	}
	fix := func(nsName string, links []LinkView) {
		for i, l := range links {
			if l.Kind != "veth" || !strings.HasPrefix(l.Peer, "if") {
				continue
			}
			var idx int
			fmt.Sscanf(l.Peer, "if%d", &idx)
			for _, r := range all {
				if r.ns != nsName && r.link.Index == idx && r.link.Kind == "veth" && strings.HasPrefix(r.link.Peer, fmt.Sprintf("if%d", l.Index)) {
					links[i].Peer = r.link.Name + " in " + r.ns
				}
			}
		}
	}
	fix("host", s.Host.Links)
	for _, n := range s.Namespaces {
		fix(n.Name, n.Links)
	}
	_ = filepath.Base
}
