package netsetup

import "errors"

var (
	// ErrNotImplemented is returned on systems without Linux networking.
	ErrNotImplemented = errors.New("netsetup: not implemented on this OS")
	// ErrSubnetOverlap means a requested subnet overlaps a route already
	// present in the host namespace.
	ErrSubnetOverlap = errors.New("subnet overlaps an existing route")
	// ErrNoFreeSubnet means no 10.88.N.0/24 was free of host routes.
	ErrNoFreeSubnet = errors.New("no free 10.88.N.0/24 subnet")
	// ErrNameInUse means a link, netns or interface name is already taken.
	ErrNameInUse = errors.New("name already in use")
	// ErrNotFound means a netns, bridge or attachment does not exist.
	ErrNotFound = errors.New("not found")
	// ErrNotOurs means an object exists but was not created by ctrlab.
	ErrNotOurs = errors.New("not created by ctrlab")
	// ErrNoFirewall means neither iptables nor nft is installed.
	ErrNoFirewall = errors.New("neither iptables nor nft found in PATH")
	// ErrNoFreeAddress means every address of the subnet is leased.
	ErrNoFreeAddress = errors.New("no free address in subnet")
	// ErrBadPortSpec means a HOSTPORT:CTRPORT[/tcp|udp] spec did not parse.
	ErrBadPortSpec = errors.New("bad port spec")
	// ErrBridgeBusy means a bridge still has namespaces connected.
	ErrBridgeBusy = errors.New("bridge still has namespaces connected")
)
