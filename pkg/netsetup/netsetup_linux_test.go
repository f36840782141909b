package netsetup

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/ctrlab/ctrlab/pkg/reexec"
	"github.com/ctrlab/ctrlab/pkg/testutil"
)

func TestMain(m *testing.M) {
	if reexec.Init() {
		return
	}
	os.Exit(m.Run())
}

// testHost builds a Host whose "host side" is a fresh netns (lo up), with
// its state and netns dirs under t.TempDir(). Cleanup runs even on failure.
func testHost(t *testing.T) (*Host, netns.NsHandle) {
	t.Helper()
	testutil.RequireRoot(t)
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("needs iptables")
	}
	hostNS := testutil.NewNetNS(t)
	dir := t.TempDir()
	h, err := Open(WithHostNetns(hostNS), WithStateDir(filepath.Join(dir, "state")), WithNetnsDir(filepath.Join(dir, "netns")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := h.Cleanup(context.Background()); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		h.Close()
	})
	lo, err := h.nl.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.nl.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	return h, hostNS
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func openNS(t *testing.T, path string) (netns.NsHandle, *netlink.Handle) {
	t.Helper()
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	nl, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nl.Close(); ns.Close() })
	return ns, nl
}

// assertWired checks, through netlink inside the namespace, that eth0 has
// the leased address and is up, and the default route goes via gw.
func assertWired(t *testing.T, nl *netlink.Handle, att *Attachment) {
	t.Helper()
	eth, err := nl.LinkByName("eth0")
	if err != nil {
		t.Fatalf("%s: no eth0: %v", att.Name, err)
	}
	if eth.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("%s: eth0 is down", att.Name)
	}
	if eth.Type() != "veth" {
		t.Errorf("%s: eth0 is %s, want veth", att.Name, eth.Type())
	}
	addrs, err := nl.AddrList(eth, netlink.FAMILY_V4)
	if err != nil || len(addrs) != 1 || addrs[0].IPNet.String() != att.Address.String() {
		t.Errorf("%s: eth0 addresses = %v (err %v), want %s", att.Name, addrs, err, att.Address)
	}
	routes, err := nl.RouteList(eth, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var def, conn bool
	for _, r := range routes {
		ones := -1
		if r.Dst != nil {
			ones, _ = r.Dst.Mask.Size()
		}
		if (r.Dst == nil || ones == 0) && r.Gw.String() == att.Gateway.String() {
			def = true
		}
		if r.Dst != nil && r.Dst.String() == att.Address.Masked().String() {
			conn = true
		}
	}
	if !def || !conn {
		t.Errorf("%s: routes %v: want default via %s and %s on eth0", att.Name, routes, att.Gateway, att.Address.Masked())
	}
	lo, err := nl.LinkByName("lo")
	if err != nil || lo.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("%s: lo not up", att.Name)
	}
}

func TestTwoNamespacesOnBridge(t *testing.T) {
	h, hostNS := testHost(t)
	c := ctx(t)
	br := testutil.Name("br")
	var atts []*Attachment
	var nss []netns.NsHandle
	for _, n := range []string{"a", "b"} {
		name := testutil.Name(n)
		info, err := h.AddNetns(c, name)
		if err != nil {
			t.Fatal(err)
		}
		att, err := h.Connect(c, ConnectOptions{Bridge: BridgeOptions{Name: br}, NetnsPath: info.Path, Name: info.Name})
		if err != nil {
			t.Fatal(err)
		}
		ns, nl := openNS(t, info.Path)
		assertWired(t, nl, att)
		atts = append(atts, att)
		nss = append(nss, ns)
	}
	if atts[0].Address == atts[1].Address {
		t.Fatalf("both namespaces got %s", atts[0].Address)
	}
	// Host side: both host veths enslaved to the bridge, bridge holds the gateway.
	brLink, err := h.nl.LinkByName(br)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range atts {
		l, err := h.nl.LinkByName(a.HostVeth)
		if err != nil {
			t.Fatal(err)
		}
		if l.Attrs().MasterIndex != brLink.Attrs().Index {
			t.Errorf("%s master = %d, want bridge %d", a.HostVeth, l.Attrs().MasterIndex, brLink.Attrs().Index)
		}
	}
	// ICMP both ways, and TCP a -> b.
	for i, j := range []int{1, 0} {
		if _, err := Ping(c, nss[i], atts[j].IP(), 20*time.Second); err != nil {
			t.Errorf("ping %s -> %s: %v", atts[i].Name, atts[j].IP(), err)
		}
	}
	ln := listenIn(t, nss[1], "0.0.0.0:7777")
	go serveEcho(ln, "b")
	conn, err := DialIn(c, nss[0], net.JoinHostPort(atts[1].IP().String(), "7777"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	got, err := Exchange(conn, "hi")
	if err != nil || !strings.Contains(got, "hi") || !strings.Contains(got, "peer "+atts[0].IP().String()+":") {
		t.Errorf("tcp a->b got %q, %v: want an echo seen from %s", got, err, atts[0].IP())
	}
	// State shows both sides.
	st, err := h.Show(c, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Namespaces) != 2 || len(st.Host.Links) != 3 {
		t.Errorf("Show: %d namespaces, %d host links; want 2, 3", len(st.Namespaces), len(st.Host.Links))
	}
	for _, l := range st.Host.Links {
		if l.Kind == "veth" && !strings.HasPrefix(l.Peer, "eth0 in ") {
			t.Errorf("host veth %s peer = %q, want eth0 in <ns>", l.Name, l.Peer)
		}
	}
	// Disconnect releases the lease and deletes the cable.
	if _, err := h.Disconnect(c, atts[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := h.nl.LinkByName(atts[0].HostVeth); err == nil {
		t.Errorf("%s still exists after Disconnect", atts[0].HostVeth)
	}
	s, _ := h.snapshot()
	if _, ok := s.Leases[leaseKey(br, atts[0].IP())]; ok {
		t.Errorf("lease of %s not released", atts[0].IP())
	}
	_ = hostNS
}

func listenIn(t *testing.T, ns netns.NsHandle, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	if err := inNS(ns, func() error {
		var err error
		ln, err = net.Listen("tcp4", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func TestPublishAndRules(t *testing.T) {
	h, hostNS := testHost(t)
	c := ctx(t)
	br := testutil.Name("br")
	info, err := h.AddNetns(c, testutil.Name("p"))
	if err != nil {
		t.Fatal(err)
	}
	att, err := h.Connect(c, ConnectOptions{Bridge: BridgeOptions{Name: br}, NetnsPath: info.Path, Name: info.Name})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := StartEchoServer(c, info.Path, "0.0.0.0:8080")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	if _, err := h.Publish(c, att, PortMapping{HostPort: 18080, CtrPort: 8080, Proto: "tcp"}); err != nil {
		t.Fatal(err)
	}
	save := iptablesSave(t, hostNS)
	for _, want := range []string{"-A CTRLAB-DNAT -p tcp -m tcp --dport 18080", "--to-destination " + att.IP().String() + ":8080",
		"-A POSTROUTING -m comment --comment", "CTRLAB-POSTROUTING -s " + att.Address.Masked().String(), "ctrlab:masq:" + br} {
		if !strings.Contains(save, want) {
			t.Errorf("iptables-save in host netns lacks %q:\n%s", want, save)
		}
	}
	// Host side reaches the server by 127.0.0.1 (OUTPUT DNAT +
	// route_localnet) and by the bridge address.
	for _, addr := range []string{"127.0.0.1:18080", net.JoinHostPort(att.Gateway.String(), "18080")} {
		conn, err := h.DialFromHost(c, addr)
		if err != nil {
			t.Errorf("dial %s from host netns: %v", addr, err)
			continue
		}
		got, err := Exchange(conn, "ping "+addr)
		conn.Close()
		if err != nil || !strings.Contains(got, "echo from "+info.Path) || !strings.Contains(got, "ping "+addr) {
			t.Errorf("via %s got %q, %v", addr, got, err)
		}
	}
	// Duplicate host port is refused.
	if _, err := h.Publish(c, att, PortMapping{HostPort: 18080, CtrPort: 80, Proto: "tcp"}); err == nil {
		t.Error("publishing the same host port twice succeeded")
	}
	if _, err := h.Unpublish(c, att, PortMapping{HostPort: 18080, Proto: "tcp"}); err != nil {
		t.Fatal(err)
	}
	if s := iptablesSave(t, hostNS); strings.Contains(s, "18080") {
		t.Errorf("DNAT rule still present after Unpublish:\n%s", s)
	}
	rep, err := h.Cleanup(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Links) == 0 || len(rep.Netns) != 1 || len(rep.Rules) == 0 {
		t.Errorf("cleanup report %+v", rep)
	}
	if s := iptablesSave(t, hostNS); strings.Contains(strings.ToLower(s), "ctrlab") {
		t.Errorf("rules remain after Cleanup:\n%s", s)
	}
	links, _ := h.nl.LinkList()
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, "ctrlab") {
			t.Errorf("link %s remains after Cleanup", l.Attrs().Name)
		}
	}
	if _, err := os.Stat(info.Path); err == nil {
		t.Errorf("%s remains after Cleanup", info.Path)
	}
	if b, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(b), info.Path) {
		t.Errorf("%s still mounted", info.Path)
	}
}

// iptablesSave runs iptables-save inside ns: the thread forks from ns.
func iptablesSave(t *testing.T, ns netns.NsHandle) string {
	t.Helper()
	var out []byte
	err := inNS(ns, func() error {
		var err error
		out, err = exec.Command("iptables-save").CombinedOutput()
		return err
	})
	if err != nil {
		t.Fatalf("iptables-save: %v: %s", err, out)
	}
	return string(out)
}

func TestConcurrentConnectUniqueAddresses(t *testing.T) {
	h, _ := testHost(t)
	c := ctx(t)
	br := testutil.Name("br")
	if _, err := h.EnsureBridge(c, BridgeOptions{Name: br}); err != nil {
		t.Fatal(err)
	}
	const n = 10
	paths := make([]string, n)
	for i := range paths {
		info, err := h.AddNetns(c, testutil.Name(fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		paths[i] = info.Path
	}
	var wg sync.WaitGroup
	atts := make([]*Attachment, n)
	errs := make([]error, n)
	for i := range paths {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// Each goroutine opens its own Host (own lock fd, own
			// netlink socket), as separate processes would.
			hh, err := Open(WithHostNetns(h.ns), WithStateDir(h.stateDir), WithNetnsDir(h.netnsDir))
			if err != nil {
				errs[i] = err
				return
			}
			defer hh.Close()
			atts[i], errs[i] = hh.Connect(c, ConnectOptions{Bridge: BridgeOptions{Name: br}, NetnsPath: paths[i]})
		}(i)
	}
	wg.Wait()
	seen := map[netip.Addr]string{}
	for i, a := range atts {
		if errs[i] != nil {
			t.Fatalf("connect %d: %v", i, errs[i])
		}
		_, nl := openNS(t, paths[i])
		assertWired(t, nl, a) // the kernel holds the address we recorded
		if prev, dup := seen[a.IP()]; dup {
			t.Errorf("%s handed to %s and %s", a.IP(), prev, paths[i])
		}
		seen[a.IP()] = paths[i]
	}
	s, _ := h.snapshot()
	if len(s.Leases) != n {
		t.Errorf("%d leases recorded, want %d", len(s.Leases), n)
	}
}

func TestConnectRollsBack(t *testing.T) {
	h, _ := testHost(t)
	c := ctx(t)
	br := testutil.Name("br")
	info, err := h.AddNetns(c, testutil.Name("r"))
	if err != nil {
		t.Fatal(err)
	}
	// A bridge "eth1" already inside makes the rename step fail.
	_, nl := openNS(t, info.Path)
	if err := nl.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "eth1"}}); err != nil {
		t.Fatal(err)
	}
	_, err = h.Connect(c, ConnectOptions{Bridge: BridgeOptions{Name: br}, NetnsPath: info.Path, IfName: "eth1"})
	if err == nil {
		t.Fatal("connect succeeded with eth1 in use")
	}
	// Now fail late: after the address is in and the link is up.
	failAfter = "setting lo up"
	t.Cleanup(func() { failAfter = "" })
	_, err = h.Connect(c, ConnectOptions{Bridge: BridgeOptions{Name: br}, NetnsPath: info.Path})
	if err == nil || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("connect with injected failure: err = %v", err)
	}
	if _, err := nl.LinkByName("eth0"); err == nil {
		t.Error("eth0 left inside the namespace after roll-back")
	}
	links, _ := h.nl.LinkList()
	for _, l := range links {
		if l.Type() == "veth" {
			t.Errorf("veth %s left behind", l.Attrs().Name)
		}
	}
	s, _ := h.snapshot()
	if len(s.Leases) != 0 || len(s.Attachments) != 0 {
		t.Errorf("leases %v / attachments left after failed connect", s.Leases)
	}
}

func TestSubnetSelection(t *testing.T) {
	h, _ := testHost(t)
	c := ctx(t)
	// Occupy 10.88.0.0/24 with a foreign link's route in the host netns.
	d := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: testutil.Name("d")}}
	if err := h.nl.LinkAdd(d); err != nil {
		t.Fatal(err)
	}
	addr, _ := netlink.ParseAddr("10.88.0.5/24")
	if err := h.nl.AddrAdd(d, addr); err != nil {
		t.Fatal(err)
	}
	if err := h.nl.LinkSetUp(d); err != nil {
		t.Fatal(err)
	}
	_, err := h.EnsureBridge(c, BridgeOptions{Name: testutil.Name("br"), Subnet: "10.88.0.0/24"})
	if err == nil || !strings.Contains(err.Error(), "overlaps") {
		t.Fatalf("forced overlapping subnet: err = %v, want ErrSubnetOverlap", err)
	}
	br, err := h.EnsureBridge(c, BridgeOptions{Name: testutil.Name("br")})
	if err != nil {
		t.Fatal(err)
	}
	if br.Subnet.String() != "10.88.1.0/24" || br.Gateway.String() != "10.88.1.1" {
		t.Errorf("auto subnet = %s gw %s, want 10.88.1.0/24 gw 10.88.1.1", br.Subnet, br.Gateway)
	}
	// A name in use by a link ctrlab did not create is refused.
	if _, err := h.EnsureBridge(c, BridgeOptions{Name: d.Name}); err == nil {
		t.Error("EnsureBridge over a foreign link succeeded")
	}
	runtime.KeepAlive(d)
}

func TestDemo(t *testing.T) {
	h, hostNS := testHost(t)
	c := ctx(t)
	var steps []DemoStep
	err := h.Demo(c, DemoOptions{Bridge: testutil.Name("br")}, func(s DemoStep) { steps = append(steps, s) })
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 5 {
		t.Fatalf("%d demo steps, want 5", len(steps))
	}
	if len(steps[3].Lines) != 3 || !strings.Contains(steps[3].Lines[1], "echo from") || !strings.Contains(steps[3].Lines[2], "echo from") {
		t.Errorf("publish step lines: %q", steps[3].Lines)
	}
	last := steps[4].State
	if len(last.Host.Links) != 0 || len(last.Rules) != 0 {
		t.Errorf("after teardown: links %v rules %v", last.Host.Links, last.Rules)
	}
	if s := iptablesSave(t, hostNS); strings.Contains(strings.ToLower(s), "ctrlab") {
		t.Errorf("demo left rules:\n%s", s)
	}
	ents, _ := os.ReadDir(h.netnsDir)
	if len(ents) != 0 {
		t.Errorf("demo left namespaces: %v", ents)
	}
}

// TestDisconnectUntaggedPair: an owner SIGKILLed between creating the veth
// pair and tagging it (found by make soak) leaves a recorded attachment and
// an untagged pair in the host netns; Disconnect must delete that pair, and
// still refuse an untagged link of the same name that is not that pair.
func TestDisconnectUntaggedPair(t *testing.T) {
	h, _ := testHost(t)
	c := ctx(t)
	suffix := randHex(4)
	att := &Attachment{Name: testutil.Name("k"), HostVeth: "ctrlabv" + suffix, StateDir: h.stateDir}
	if err := h.withState(func(st *stateFile) error { st.Attachments[att.HostVeth] = att; return nil }); err != nil {
		t.Fatal(err)
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: att.HostVeth}, PeerName: "ctrlabp" + suffix}
	if err := h.nl.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Disconnect(c, att); err != nil {
		t.Fatalf("disconnect of an untagged pair: %v", err)
	}
	for _, n := range []string{att.HostVeth, "ctrlabp" + suffix} {
		if _, err := h.nl.LinkByName(n); err == nil {
			t.Errorf("%s left behind", n)
		}
	}
	// An untagged bridge of that name is not ours: Disconnect refuses it.
	if err := h.nl.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: att.HostVeth}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, err := h.nl.LinkByName(att.HostVeth); err == nil {
			_ = h.nl.LinkDel(l)
		}
	})
	if _, err := h.Disconnect(c, att); !errors.Is(err, ErrNotOurs) {
		t.Errorf("disconnect of a foreign untagged link: err = %v, want ErrNotOurs", err)
	}
	if _, err := h.nl.LinkByName(att.HostVeth); err != nil {
		t.Errorf("foreign link %s was deleted", att.HostVeth)
	}
}
