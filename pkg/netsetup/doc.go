// Package netsetup wires network namespaces to the host the way a container
// runtime (or a CNI bridge plugin) does, one kernel object at a time:
//
//   - a bridge on the host (a virtual switch, default "ctrlab0") holding the
//     gateway address of a private /24;
//   - a veth pair (a virtual cable): one end enslaved to the bridge, the other
//     moved into the container's netns and renamed eth0;
//   - an address from a tiny file-backed IPAM, and a default route via the
//     bridge address;
//   - IPv4 forwarding and a MASQUERADE rule so the namespace reaches out;
//   - DNAT rules that publish a host port to a port inside the namespace.
//
// Every link, address and route is made through rtnetlink with a
// [netlink.Handle] bound to an explicit "host" network namespace (by default
// the caller's), never by running ip(8). Tests pass a fresh namespace as the
// host, so nothing touches the machine's real interfaces. Firewall rules are
// the exception: netlink has no iptables API, so they go through the
// iptables (or nft) binary, run inside the host namespace, always in
// dedicated CTRLAB-* chains (or the "ctrlab" nft table) and tagged with a
// "ctrlab:..." comment so that [Host.Cleanup] removes exactly what ctrlab
// made.
//
// Each exported operation documents its iproute2/iptables equivalent and
// returns the same commands in its result, so the CLI can print
// "Equivalent to: ip link add ... type veth peer name ...".
package netsetup
