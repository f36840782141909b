package netsetup

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Defaults.
const (
	DefaultBridge   = "ctrlab0"
	DefaultSubnet   = "10.88.0.0/24"
	DefaultStateDir = "/var/lib/ctrlab/net"
	DefaultNetnsDir = "/run/netns"
	DefaultIfName   = "eth0"
	// Prefix names every kernel object ctrlab creates.
	Prefix = "ctrlab"
	// aliasTag is written as the IFLA_IFALIAS of every link ctrlab
	// creates, so Cleanup can tell ctrlab's links from anyone else's.
	aliasTag = "ctrlab:net"
)

// NetnsName maps a user's name to the netns name ctrlab uses: names already
// starting with "ctrlab" are kept, others get a "ctrlab-" prefix, so that
// every namespace ctrlab creates is recognisable ("red" -> "ctrlab-red").
func NetnsName(name string) string {
	if strings.HasPrefix(name, Prefix) {
		return name
	}
	return Prefix + "-" + name
}

// ValidateNetnsName rejects names that cannot be a file under /run/netns.
func ValidateNetnsName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") || len(NetnsName(name)) > 64 {
		return fmt.Errorf("invalid namespace name %q: use letters, digits, '-' or '_'", name)
	}
	for _, c := range name {
		if !(c == '-' || c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return fmt.Errorf("invalid namespace name %q: use letters, digits, '-' or '_'", name)
		}
	}
	return nil
}

// ValidateBridgeName checks an interface name for a ctrlab bridge: at most
// 15 bytes (IFNAMSIZ-1) and starting with "ctrlab".
func ValidateBridgeName(name string) error {
	if !strings.HasPrefix(name, Prefix) || len(name) > 15 || strings.ContainsAny(name, "/ :\x00") {
		return fmt.Errorf("invalid bridge name %q: must start with %q and be at most 15 bytes", name, Prefix)
	}
	return nil
}

// PortMapping publishes HostPort on the host to CtrPort inside a namespace.
type PortMapping struct {
	HostPort uint16 `json:"hostPort"`
	CtrPort  uint16 `json:"containerPort"`
	Proto    string `json:"proto"`
}

func (p PortMapping) String() string {
	return fmt.Sprintf("%d:%d/%s", p.HostPort, p.CtrPort, p.Proto)
}

// ParsePortSpec parses "HOSTPORT:CTRPORT[/tcp|/udp]" (proto defaults to tcp).
func ParsePortSpec(s string) (PortMapping, error) {
	spec, proto := s, "tcp"
	if i := strings.IndexByte(s, '/'); i >= 0 {
		spec, proto = s[:i], strings.ToLower(s[i+1:])
	}
	if proto != "tcp" && proto != "udp" {
		return PortMapping{}, fmt.Errorf("%w %q: protocol must be tcp or udp", ErrBadPortSpec, s)
	}
	hp, cp, ok := strings.Cut(spec, ":")
	if !ok {
		return PortMapping{}, fmt.Errorf("%w %q: want HOSTPORT:CTRPORT[/tcp], e.g. 8080:80", ErrBadPortSpec, s)
	}
	h, err1 := parsePort(hp)
	c, err2 := parsePort(cp)
	if err1 != nil || err2 != nil {
		return PortMapping{}, fmt.Errorf("%w %q: ports must be numbers 1-65535", ErrBadPortSpec, s)
	}
	return PortMapping{HostPort: h, CtrPort: c, Proto: proto}, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad port %q", s)
	}
	return uint16(n), nil
}

// BridgeOptions selects the bridge a namespace is connected to.
type BridgeOptions struct {
	// Name of the bridge link; DefaultBridge if empty.
	Name string `json:"name"`
	// Subnet as CIDR (a /16../30). Empty: DefaultSubnet, or the next free
	// 10.88.N.0/24 if it overlaps a host route. A subnet given here that
	// overlaps a host route is an error (ErrSubnetOverlap).
	Subnet string `json:"subnet,omitempty"`
}

// Bridge is a ctrlab bridge in the host namespace.
type Bridge struct {
	Name     string       `json:"name"`
	Subnet   netip.Prefix `json:"subnet"`
	Gateway  netip.Addr   `json:"gateway"`
	MAC      string       `json:"mac"`
	Created  bool         `json:"created"`
	Firewall string       `json:"firewall"`
	// Equivalent lists the shell commands this step stands for.
	Equivalent []string `json:"equivalent,omitempty"`
}

// ConnectOptions says which namespace to wire to which bridge.
type ConnectOptions struct {
	Bridge BridgeOptions `json:"bridge"`
	// Exactly one of PID or NetnsPath names the target namespace.
	PID       int    `json:"pid,omitempty"`
	NetnsPath string `json:"netnsPath,omitempty"`
	// Name labels the attachment (the netns name, or a container id).
	Name string `json:"name,omitempty"`
	// IfName is the interface name inside the namespace (DefaultIfName).
	IfName string `json:"ifName,omitempty"`
	// StateDir overrides DefaultStateDir (package-level Connect only).
	StateDir string `json:"stateDir,omitempty"`
}

// Attachment records one namespace wired to a bridge. It is stored in the
// state file and is all Disconnect needs.
type Attachment struct {
	Name      string        `json:"name"`
	Bridge    string        `json:"bridge"`
	HostVeth  string        `json:"hostVeth"`
	IfName    string        `json:"ifName"`
	NetnsPath string        `json:"netnsPath,omitempty"`
	PID       int           `json:"pid,omitempty"`
	Address   netip.Prefix  `json:"address"`
	Gateway   netip.Addr    `json:"gateway"`
	MAC       string        `json:"mac"`
	Ports     []PortMapping `json:"ports,omitempty"`
	StateDir  string        `json:"stateDir,omitempty"`
	// Equivalent lists the shell commands this step stands for.
	Equivalent []string `json:"equivalent,omitempty"`
}

// IP is the attachment's address without the prefix length.
func (a *Attachment) IP() netip.Addr { return a.Address.Addr() }

// LinkView is one network interface as the kernel reports it.
type LinkView struct {
	Index  int    `json:"index"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	State  string `json:"state"`
	MAC    string `json:"mac"`
	MTU    int    `json:"mtu"`
	Master string `json:"master,omitempty"`
	// Peer describes the other end of a veth ("eth0 in ctrlab-red").
	Peer string `json:"peer,omitempty"`
}

// AddrView is an address on a link.
type AddrView struct {
	Link    string `json:"link"`
	Address string `json:"address"`
	Scope   string `json:"scope"`
}

// RouteView is a route in the main table.
type RouteView struct {
	Dst     string `json:"dst"`
	Gateway string `json:"gateway,omitempty"`
	Dev     string `json:"dev"`
	Src     string `json:"src,omitempty"`
	Scope   string `json:"scope"`
}

// NetnsView is what one network namespace contains.
type NetnsView struct {
	Name   string      `json:"name"`
	Path   string      `json:"path,omitempty"`
	Inode  uint64      `json:"inode,omitempty"`
	Links  []LinkView  `json:"links"`
	Addrs  []AddrView  `json:"addrs"`
	Routes []RouteView `json:"routes"`
}

// BridgePorts lists the links enslaved to a bridge.
type BridgePorts struct {
	Bridge string   `json:"bridge"`
	Ports  []string `json:"ports"`
}

// Rule is one firewall rule ctrlab owns.
type Rule struct {
	Table   string `json:"table"`
	Chain   string `json:"chain"`
	Rule    string `json:"rule"`
	Comment string `json:"comment,omitempty"`
}

// State is the network state ctrlab shows: the host side (only ctrlab's
// links), each namespace side, bridge ports, firewall rules and leases.
type State struct {
	Host        NetnsView     `json:"host"`
	Namespaces  []NetnsView   `json:"namespaces"`
	BridgePorts []BridgePorts `json:"bridgePorts"`
	Firewall    string        `json:"firewall"`
	Rules       []Rule        `json:"rules"`
	IPForward   string        `json:"ipForward"`
	Attachments []Attachment  `json:"attachments"`
}

// NetnsInfo is a named namespace under the netns directory.
type NetnsInfo struct {
	Name  string `json:"name"`
	Path  string `json:"path"`
	Inode uint64 `json:"inode"`
	Ours  bool   `json:"ours"`
}

// CleanupReport lists what Cleanup removed.
type CleanupReport struct {
	Links      []string `json:"links"`
	Netns      []string `json:"netns"`
	Rules      []Rule   `json:"rules"`
	Leases     []string `json:"leases"`
	Equivalent []string `json:"equivalent,omitempty"`
}
