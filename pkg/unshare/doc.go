// Package unshare runs a command in new namespaces and collects the kernel's
// evidence that each namespace is new: the namespace inode seen from the host
// and from inside, and one specific proof per kind (PID 1 inside, an isolated
// hostname, a mount the host cannot see, a network with only lo, a SysV
// message queue invisible outside, a uid map, a cgroup root of "/", clocks
// shifted by time-namespace offsets).
//
// It uses the re-exec init pattern: the parent starts ctrlab's own binary as
// the entrypoint "ctrlab-unshare-init" with [clone(2)] flags (CLONE_NEWPID,
// CLONE_NEWNS, ...), the init sets each namespace up, reports what it sees,
// waits for the parent to look from outside, then execs the command.
//
// Equivalent to: `unshare --mount --uts --ipc --net --pid --fork --mount-proc
// --user --map-root-user --cgroup --time CMD` (util-linux).
//
// [clone(2)]: https://man7.org/linux/man-pages/man2/clone.2.html
package unshare
