// Package doctor checks what the running kernel and machine offer ctrlab:
// architecture, kernel version, privileges, cgroup mode and usable
// controllers, overlayfs, user and time namespaces, firewall tools, and the
// Raspberry Pi memory-cgroup boot flag. Each check yields one row with a
// status (OK, WARN, FAIL), what was found, and how to fix it.
//
// Every input comes through an injectable reader (a filesystem root, statfs,
// uname, euid, PATH lookup), so the checks are tested against fixture trees
// of cgroup-v1, hybrid, v2 and Raspberry Pi machines. Run with no options
// reads the live system.
package doctor
