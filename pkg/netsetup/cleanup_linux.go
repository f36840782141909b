package netsetup

import (
	"context"
	"errors"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
)

// Cleanup removes everything ctrlab's networking created in this host
// namespace and state dir, and nothing else: recorded attachments and
// their leases, every host link named ctrlab* that carries ctrlab's alias
// (veths first, then bridges), the named namespaces ctrlab created,
// ctrlab's firewall chains/table and the jumps to them, and
// net.ipv4.ip_forward if ctrlab was the one to switch it on.
//
// Equivalent to: ip link del ...; ip netns del ...; iptables -t nat -F/-X CTRLAB-...
func (h *Host) Cleanup(ctx context.Context) (*CleanupReport, error) {
	rep := &CleanupReport{Links: []string{}, Netns: []string{}, Rules: []Rule{}, Leases: []string{}}
	var errs []error
	st, err := h.snapshot()
	if err != nil {
		return nil, err
	}
	for k := range st.Leases {
		rep.Leases = append(rep.Leases, k)
	}
	for _, a := range st.Attachments {
		if l, err := h.nl.LinkByName(a.HostVeth); err == nil && l.Attrs().Alias == aliasTag {
			if err := h.nl.LinkDel(l); err != nil {
				errs = append(errs, err)
			} else {
				rep.Links = append(rep.Links, a.HostVeth)
				rep.Equivalent = append(rep.Equivalent, "ip link del "+a.HostVeth)
			}
		}
	}
	links, err := h.nl.LinkList()
	if err != nil {
		return nil, err
	}
	for _, pass := range []string{"veth", "bridge"} {
		for _, l := range links {
			a := l.Attrs()
			if l.Type() != pass || !strings.HasPrefix(a.Name, Prefix) || a.Alias != aliasTag {
				continue
			}
			if err := h.nl.LinkDel(l); err != nil {
				var nf netlink.LinkNotFoundError
				if !errors.As(err, &nf) {
					errs = append(errs, err)
				}
				continue
			}
			rep.Links = append(rep.Links, a.Name)
			rep.Equivalent = append(rep.Equivalent, "ip link del "+a.Name)
		}
	}
	for _, p := range st.Netns {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if err := unmountRemove(p); err != nil {
			errs = append(errs, err)
			continue
		}
		rep.Netns = append(rep.Netns, p)
		rep.Equivalent = append(rep.Equivalent, "ip netns del "+p[strings.LastIndexByte(p, '/')+1:])
	}
	if fw, err := h.firewall(); err == nil {
		gone, err := fw.Teardown()
		rep.Rules = append(rep.Rules, gone...)
		if len(gone) > 0 {
			if fw.Name() == "nft" {
				rep.Equivalent = append(rep.Equivalent, "nft delete table ip ctrlab")
			} else {
				rep.Equivalent = append(rep.Equivalent, "iptables -t nat -F CTRLAB-POSTROUTING; iptables -t nat -X CTRLAB-POSTROUTING; ... (and the jumps)")
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	} else if !errors.Is(err, ErrNoFirewall) {
		errs = append(errs, err)
	}
	if st.ForwardingOn {
		if err := h.setSysctl("net/ipv4/ip_forward", "0"); err != nil {
			errs = append(errs, err)
		} else {
			rep.Equivalent = append(rep.Equivalent, "sysctl -w net.ipv4.ip_forward=0")
		}
	}
	errs = append(errs, h.withState(func(s *stateFile) error {
		*s = stateFile{Bridges: map[string]*bridgeRec{}, Leases: map[string]string{}, Attachments: map[string]*Attachment{}}
		return nil
	}))
	return rep, errors.Join(errs...)
}
