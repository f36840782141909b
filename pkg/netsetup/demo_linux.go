package netsetup

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/vishvananda/netns"
)

// DemoStep is one stage of the demo, with the state to show after it.
type DemoStep struct {
	Title      string   `json:"title"`
	Lines      []string `json:"lines,omitempty"`
	State      *State   `json:"state,omitempty"`
	Equivalent []string `json:"equivalent,omitempty"`
}

// DemoOptions tunes Demo.
type DemoOptions struct {
	Bridge   string // default "ctrlabdemo0"
	Subnet   string // default: first free 10.88.N.0/24
	HostPort uint16 // default: a free port on the host
}

// Demo wires two namespaces ("ctrlab-demo-a", "ctrlab-demo-b") to one
// bridge, pings b from a with ICMP echo, starts a TCP echo server in b,
// publishes it on a host port, reaches it from the host at 127.0.0.1 and
// from a through the host's bridge address, then tears everything down.
// report is called after each step.
func (h *Host) Demo(ctx context.Context, opts DemoOptions, report func(DemoStep)) (err error) {
	if opts.Bridge == "" {
		opts.Bridge = "ctrlabdemo0"
	}
	names := []string{"demo-a", "demo-b"}
	var atts []*Attachment
	var srv *EchoServer
	created := map[string]bool{}
	teardown := func() ([]string, error) {
		var eq []string
		var errs []error
		if srv != nil {
			srv.Stop()
		}
		for _, a := range atts {
			e, err := h.Disconnect(ctx, a)
			eq, errs = append(eq, e...), append(errs, err)
		}
		for _, n := range names {
			if created[n] {
				e, err := h.DeleteNetns(ctx, n)
				eq, errs = append(eq, e...), append(errs, err)
			}
		}
		if created["bridge"] {
			e, err := h.DeleteBridge(ctx, opts.Bridge)
			eq, errs = append(eq, e...), append(errs, err)
		}
		return eq, errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			_, _ = teardown()
		}
	}()

	br, err := h.EnsureBridge(ctx, BridgeOptions{Name: opts.Bridge, Subnet: opts.Subnet})
	if err != nil {
		return err
	}
	created["bridge"] = br.Created
	st, err := h.show(ctx, "", true)
	if err != nil {
		return err
	}
	report(DemoStep{Title: "1. bridge " + br.Name + " (a virtual switch) with gateway " + br.Gateway.String() + "/" + strconv.Itoa(br.Subnet.Bits()),
		State: st, Equivalent: br.Equivalent})

	var eq []string
	for _, n := range names {
		info, err := h.AddNetns(ctx, n)
		if err != nil {
			return fmt.Errorf("%w (left over from an earlier run? try 'ctrlab net cleanup')", err)
		}
		created[n] = true
		att, err := h.Connect(ctx, ConnectOptions{Bridge: BridgeOptions{Name: br.Name}, NetnsPath: info.Path, Name: info.Name})
		if err != nil {
			return err
		}
		atts = append(atts, att)
		eq = append(eq, "ip netns add "+info.Name)
		eq = append(eq, att.Equivalent...)
	}
	st, err = h.Show(ctx, "")
	if err != nil {
		return err
	}
	report(DemoStep{Title: "2. two namespaces, each with a veth cable plugged into " + br.Name, State: st, Equivalent: eq})

	a, b := atts[0], atts[1]
	nsA, err := netns.GetFromPath(a.NetnsPath)
	if err != nil {
		return err
	}
	defer nsA.Close()
	nsB, err := netns.GetFromPath(b.NetnsPath)
	if err != nil {
		return err
	}
	defer nsB.Close()
	var lines []string
	for _, p := range []struct {
		from netns.NsHandle
		src  *Attachment
		dst  *Attachment
	}{{nsA, a, b}, {nsB, b, a}} {
		rtt, err := Ping(ctx, p.from, p.dst.IP(), 20*time.Second)
		if err != nil {
			return fmt.Errorf("ping %s -> %s: %w", p.src.Name, p.dst.IP(), err)
		}
		lines = append(lines, fmt.Sprintf("ICMP echo %s (%s) -> %s (%s): reply in %s", p.src.Name, p.src.IP(), p.dst.Name, p.dst.IP(), rtt.Round(time.Microsecond)))
	}
	report(DemoStep{Title: "3. ping across the bridge (ICMP echo from a raw socket opened inside each namespace)", Lines: lines,
		Equivalent: []string{"ip netns exec " + a.Name + " ping -c1 " + b.IP().String(), "ip netns exec " + b.Name + " ping -c1 " + a.IP().String()}})

	hp := opts.HostPort
	if hp == 0 {
		if hp, err = h.freePort(); err != nil {
			return err
		}
	}
	srv, err = StartEchoServer(ctx, b.NetnsPath, "0.0.0.0:8080")
	if err != nil {
		return err
	}
	pubEq, err := h.Publish(ctx, b, PortMapping{HostPort: hp, CtrPort: 8080, Proto: "tcp"})
	if err != nil {
		return err
	}
	lines = []string{fmt.Sprintf("echo server pid %d listening on 0.0.0.0:8080 inside %s", srv.PID(), b.Name)}
	for _, via := range []struct {
		who  string
		dial func() (net.Conn, error)
		addr string
	}{
		{"host", func() (net.Conn, error) { return h.DialFromHost(ctx, fmt.Sprintf("127.0.0.1:%d", hp)) }, fmt.Sprintf("127.0.0.1:%d", hp)},
		{a.Name, func() (net.Conn, error) { return DialIn(ctx, nsA, fmt.Sprintf("%s:%d", a.Gateway, hp)) }, fmt.Sprintf("%s:%d", a.Gateway, hp)},
	} {
		c, err := via.dial()
		if err != nil {
			return fmt.Errorf("connecting from %s to %s: %w", via.who, via.addr, err)
		}
		got, err := Exchange(c, "hello from "+via.who)
		c.Close()
		if err != nil {
			return fmt.Errorf("exchanging with %s: %w", via.addr, err)
		}
		lines = append(lines, fmt.Sprintf("%s -> %s: %q", via.who, via.addr, got))
	}
	st, err = h.Show(ctx, b.Name)
	if err != nil {
		return err
	}
	report(DemoStep{Title: fmt.Sprintf("4. publish host port %d -> %s:8080 (DNAT), reached from the host and from %s", hp, b.IP(), a.Name),
		Lines: lines, State: st, Equivalent: pubEq})

	teq, err := teardown()
	atts, srv, created = nil, nil, map[string]bool{}
	if err != nil {
		return err
	}
	st, err = h.show(ctx, "", true)
	if err != nil {
		return err
	}
	report(DemoStep{Title: "5. teardown: cables, namespaces, bridge and rules are gone", State: st, Equivalent: teq})
	return nil
}

// freePort asks the host netns kernel for a free TCP port.
func (h *Host) freePort() (uint16, error) {
	var port uint16
	err := h.inHost(func() error {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return err
		}
		port = uint16(ln.Addr().(*net.TCPAddr).Port)
		return ln.Close()
	})
	return port, err
}
