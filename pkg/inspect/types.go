package inspect

import "github.com/ctrlab/ctrlab/pkg/ns"

// Process is one process's kernel view, as Snapshot reads it.
type Process struct {
	PID     int    `json:"pid"`
	Command string `json:"command"`
	// NSPids is the PID as each PID namespace sees it, outermost first
	// (the NSpid line of /proc/PID/status): [4242 1] is PID 1 of a container.
	NSPids []int `json:"nsPids,omitempty"`
	// HostRefPID is the process whose namespaces count as "the host's":
	// PID 1, or kthreadd (PID 2) when PID 1 cannot be read.
	HostRefPID int         `json:"hostRefPid,omitempty"`
	Namespaces []Namespace `json:"namespaces"`

	UIDs   [4]int  `json:"uids"` // real, effective, saved, filesystem
	GIDs   [4]int  `json:"gids"`
	Groups []int   `json:"groups"`
	UIDMap []IDMap `json:"uidMap"`
	GIDMap []IDMap `json:"gidMap"`

	Hostname string `json:"hostname"`
	Root     string `json:"root"`
	Cwd      string `json:"cwd"`

	Cgroups        []Cgroup     `json:"cgroups"`
	Capabilities   Capabilities `json:"capabilities"`
	NoNewPrivs     bool         `json:"noNewPrivs"`
	Seccomp        string       `json:"seccomp"` // disabled, strict or filter
	SeccompFilters int          `json:"seccompFilters"`

	MountCount int     `json:"mountCount"`
	Mounts     []Mount `json:"mounts,omitempty"`
	Links      []Link  `json:"links"`

	// Errors lists the parts that could not be read (for example the
	// hostname of another user's process without root); the rest is valid.
	Errors []string `json:"errors,omitempty"`
}

// Namespace is one of the process's namespaces, as `readlink
// /proc/PID/ns/KIND` and `lsns -p PID` show it.
type Namespace struct {
	Kind  ns.Kind `json:"kind"`
	Inode uint64  `json:"inode"`
	// HostInode is the same kind's inode for the host reference process;
	// 0 when it could not be read.
	HostInode      uint64 `json:"hostInode,omitempty"`
	SharedWithHost bool   `json:"sharedWithHost"`
}

// IDMap is one line of /proc/PID/uid_map or gid_map: IDs Inside..Inside+Size-1
// in the process's user namespace are Outside..Outside+Size-1 in its parent's.
type IDMap struct {
	Inside  uint32 `json:"inside"`
	Outside uint32 `json:"outside"`
	Size    uint32 `json:"size"`
}

// Cgroup is one line of /proc/PID/cgroup: "hierarchy-ID:controllers:path".
// A cgroup-v2 line has hierarchy 0 and no controllers ("0::/user.slice").
type Cgroup struct {
	HierarchyID int      `json:"hierarchyId"`
	Controllers []string `json:"controllers"`
	Path        string   `json:"path"`
	Version     int      `json:"version"` // 1 or 2
}

// Capabilities are the five capability sets of /proc/PID/status.
type Capabilities struct {
	Inheritable CapSet `json:"inheritable"`
	Permitted   CapSet `json:"permitted"`
	Effective   CapSet `json:"effective"`
	Bounding    CapSet `json:"bounding"`
	Ambient     CapSet `json:"ambient"`
}

// CapSet is one capability set: the raw mask as /proc prints it and the
// decoded names (what `capsh --decode=HEX` prints).
type CapSet struct {
	Mask  uint64   `json:"mask"`
	Hex   string   `json:"hex"`
	Names []string `json:"names"`
}

// Mount is one line of /proc/PID/mountinfo (see proc(5)):
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
type Mount struct {
	ID         int    `json:"id"`
	ParentID   int    `json:"parentId"`
	MajorMinor string `json:"majorMinor"`
	Major      uint32 `json:"major"`
	Minor      uint32 `json:"minor"`
	Root       string `json:"root"`       // the directory of the filesystem mounted here
	MountPoint string `json:"mountPoint"` // relative to the process's root
	Options    string `json:"options"`    // per-mount options
	// Optional is the list of optional fields: shared:N, master:N,
	// propagate_from:N, unbindable.
	Optional []string `json:"optional"`
	// Propagation summarises Optional: shared, slave, "shared,slave",
	// unbindable or private.
	Propagation  string `json:"propagation"`
	FSType       string `json:"fsType"`
	Source       string `json:"source"`
	SuperOptions string `json:"superOptions"` // per-superblock options
}

// Link is a network interface inside the process's network namespace.
type Link struct {
	Index     int       `json:"index"`
	Name      string    `json:"name"`
	Type      string    `json:"type"` // device, veth, bridge, ...
	Up        bool      `json:"up"`   // IFF_UP, what `ip link set X up` sets
	State     string    `json:"state"`
	MTU       int       `json:"mtu"`
	MAC       string    `json:"mac,omitempty"`
	Master    int       `json:"master,omitempty"` // bridge index this port belongs to
	Addresses []Address `json:"addresses"`
}

// Address is an IP address on a Link.
type Address struct {
	CIDR   string `json:"cidr"`
	Family string `json:"family"` // inet or inet6
	Scope  string `json:"scope"`  // global, link, host
}
