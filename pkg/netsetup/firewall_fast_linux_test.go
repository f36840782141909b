package netsetup

import (
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/ctrlab/ctrlab/pkg/testutil"
)

// countRuns makes h count the firewall processes it starts.
func countRuns(h *Host) (get func() []string, reset func()) {
	var mu sync.Mutex
	var runs []string
	h.runHook = func(name string, args []string) {
		mu.Lock()
		defer mu.Unlock()
		runs = append(runs, name+" "+strings.Join(args, " "))
	}
	return func() []string {
			mu.Lock()
			defer mu.Unlock()
			return append([]string(nil), runs...)
		}, func() {
			mu.Lock()
			defer mu.Unlock()
			runs = nil
		}
}

// iptablesIn runs iptables with args inside ns (the thread forks from ns).
func iptablesIn(t *testing.T, ns netns.NsHandle, args ...string) {
	t.Helper()
	var out []byte
	err := inNS(ns, func() error {
		var err error
		out, err = exec.Command("iptables", args...).CombinedOutput()
		return err
	})
	if err != nil {
		t.Fatalf("iptables %v: %v: %s", args, err, out)
	}
}

func assertBridgeRules(t *testing.T, hostNS netns.NsHandle, br string) {
	t.Helper()
	save := iptablesSave(t, hostNS)
	for want, n := range map[string]int{
		"-A POSTROUTING -m comment --comment \"ctrlab:jump\" -j CTRLAB-POSTROUTING":                   1,
		"-A FORWARD -m comment --comment \"ctrlab:jump\" -j CTRLAB-FORWARD":                           1,
		"-m addrtype --dst-type LOCAL -m comment --comment \"ctrlab:jump\" -j CTRLAB-DNAT":            2, // PREROUTING, OUTPUT
		"--comment \"ctrlab:masq:" + br + "\" -j MASQUERADE":                                          1,
		"--comment \"ctrlab:lomasq:" + br + "\" -j MASQUERADE":                                        1,
		"-A CTRLAB-FORWARD -i " + br + " -m comment --comment \"ctrlab:fwdin:" + br + "\" -j ACCEPT":  1,
		"-A CTRLAB-FORWARD -o " + br + " -m comment --comment \"ctrlab:fwdout:" + br + "\" -j ACCEPT": 1,
	} {
		if got := strings.Count(save, want); got != n {
			t.Errorf("iptables-save in host netns: %q present %d times, want %d:\n%s", want, got, n, save)
		}
	}
}

// TestConnectFirewallOncePerBridge: the bridge's chains, jumps and rules
// are written when the bridge is first used; a second Connect verifies
// them with at most one iptables process, and re-creates them when
// someone flushed them meanwhile.
func TestConnectFirewallOncePerBridge(t *testing.T) {
	h, hostNS := testHost(t)
	c := ctx(t)
	if fw, err := h.firewall(); err != nil || fw.Name() != "iptables" {
		t.Skipf("firewall backend %v (%v): test needs iptables", fw, err)
	}
	runs, reset := countRuns(h)
	br := testutil.Name("br")
	connect := func() *Attachment {
		t.Helper()
		info, err := h.AddNetns(c, testutil.Name("f"))
		if err != nil {
			t.Fatal(err)
		}
		att, err := h.Connect(c, ConnectOptions{Bridge: BridgeOptions{Name: br}, NetnsPath: info.Path, Name: info.Name})
		if err != nil {
			t.Fatal(err)
		}
		return att
	}
	connect()
	if n := len(runs()); n < 2 {
		t.Errorf("first Connect ran %d firewall processes, want the read and the writes: %q", n, runs())
	}
	assertBridgeRules(t, hostNS, br)

	reset()
	att := connect()
	if r := runs(); len(r) > 1 {
		t.Errorf("second Connect on an ensured bridge ran %d firewall processes, want <= 1: %q", len(r), r)
	}
	assertBridgeRules(t, hostNS, br)

	// Someone flushes ctrlab's chain and deletes a jump: the next Connect
	// notices with its one read and restores exactly what is missing.
	iptablesIn(t, hostNS, "-t", "nat", "-F", chainPost)
	iptablesIn(t, hostNS, "-t", "filter", "-D", "FORWARD", "-m", "comment", "--comment", jumpTag, "-j", chainFwd)
	reset()
	connect()
	if n := len(runs()); n < 2 {
		t.Errorf("Connect after a flush ran %d firewall processes, want a read and a write: %q", n, runs())
	}
	assertBridgeRules(t, hostNS, br)

	// A published port: its rules are written in one batch, and the
	// read-back recognises them as present (iptables-save adds "-m tcp"
	// and "/32"), so ensuring them again only reads.
	pm := PortMapping{HostPort: 18181, CtrPort: 80, Proto: "tcp"}
	reset()
	if _, err := h.Publish(c, att, pm); err != nil {
		t.Fatal(err)
	}
	if n := len(runs()); n > 2 {
		t.Errorf("Publish of one port ran %d firewall processes, want <= 2: %q", n, runs())
	}
	save := iptablesSave(t, hostNS)
	if !strings.Contains(save, "--to-destination "+att.IP().String()+":80") {
		t.Errorf("no DNAT rule to %s:80 in:\n%s", att.IP(), save)
	}
	fw, _ := h.firewall()
	reset()
	if ok, err := fw.Check(publishRules(att, pm)); err != nil || !ok {
		t.Errorf("Check of the rules just published = %v, %v; want true", ok, err)
	}
	if n := len(runs()); n != 1 {
		t.Errorf("Check ran %d processes, want 1: %q", n, runs())
	}

	// A stale rule under the same comment (the bridge's subnet changed
	// behind ctrlab's back) is replaced, not kept beside the right one.
	stale := bridgeRules(&Bridge{Name: br, Subnet: mustPrefix(t, "10.254.254.0/24")})[0]
	iptablesIn(t, hostNS, append([]string{"-t", "nat", "-A", chainPost}, (&iptables{}).spec(stale)...)...)
	if err := fw.Ensure(bridgeRules(mustBridge(t, h, br))); err != nil {
		t.Fatal(err)
	}
	if s := iptablesSave(t, hostNS); strings.Contains(s, "10.254.254.0/24") {
		t.Errorf("stale masquerade rule kept:\n%s", s)
	}
	assertBridgeRules(t, hostNS, br)
}

func mustPrefix(t *testing.T, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustBridge(t *testing.T, h *Host, name string) *Bridge {
	t.Helper()
	l, err := h.nl.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	br, err := h.bridgeFromLink(l)
	if err != nil {
		t.Fatal(err)
	}
	return br
}

// TestBridgeRecreatedBehindBack: the bridge link deleted and the rules
// torn down by something other than this state dir (another root's `net
// cleanup`, `ip link del`): the next EnsureBridge re-creates the bridge with
// its recorded subnet (the record of its own old self is no overlap) and
// writes the rules again.
func TestBridgeRecreatedBehindBack(t *testing.T) {
	h, hostNS := testHost(t)
	c := ctx(t)
	name := testutil.Name("br")
	br, err := h.EnsureBridge(c, BridgeOptions{Name: name, Subnet: "10.77.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	l, err := h.nl.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.nl.LinkDel(l); err != nil {
		t.Fatal(err)
	}
	fw, _ := h.firewall()
	if _, err := fw.Teardown(); err != nil {
		t.Fatal(err)
	}
	again, err := h.EnsureBridge(c, BridgeOptions{Name: name, Subnet: "10.77.0.0/24"})
	if err != nil {
		t.Fatalf("re-creating a bridge deleted behind ctrlab's back: %v", err)
	}
	if !again.Created || again.Subnet != br.Subnet {
		t.Errorf("re-created bridge: created %v subnet %s, want true %s", again.Created, again.Subnet, br.Subnet)
	}
	got := mustBridge(t, h, name)
	if got.Gateway.String() != "10.77.0.1" {
		t.Errorf("bridge %s gateway (from netlink) = %s, want 10.77.0.1", name, got.Gateway)
	}
	if fw.Name() == "iptables" {
		assertBridgeRules(t, hostNS, name)
	}
}

// TestDisconnectUntaggedPairPeerInside: Connect creates eth0 directly in
// the container's netns; killed before the alias, it leaves an untagged
// host veth whose peer is in another netns. Disconnect deletes that pair.
func TestDisconnectUntaggedPairPeerInside(t *testing.T) {
	h, _ := testHost(t)
	c := ctx(t)
	info, err := h.AddNetns(c, testutil.Name("u"))
	if err != nil {
		t.Fatal(err)
	}
	ns, nl := openNS(t, info.Path)
	att := &Attachment{Name: info.Name, HostVeth: "ctrlabv" + randHex(4), StateDir: h.stateDir}
	if err := h.withState(func(st *stateFile) error { st.Attachments[att.HostVeth] = att; return nil }); err != nil {
		t.Fatal(err)
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: att.HostVeth}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(ns))}
	if err := h.nl.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Disconnect(c, att); err != nil {
		t.Fatalf("disconnect of an untagged pair: %v", err)
	}
	if _, err := h.nl.LinkByName(att.HostVeth); err == nil {
		t.Errorf("%s left behind", att.HostVeth)
	}
	if _, err := nl.LinkByName("eth0"); err == nil {
		t.Errorf("eth0 left behind in %s", info.Path)
	}
}
