// Package inspect takes a snapshot of one process's kernel view: its eight
// namespaces (and whether each is the host's), user-namespace ID maps,
// hostname, root and working directory, cgroup membership, capabilities,
// NoNewPrivs and seccomp mode, mount table and network interfaces.
//
// Every other ctrlab step reuses these readers to print the kernel state it
// created. Each reader names the file or syscall it reads and the shell
// command that shows the same thing, so a learner can check the kernel
// directly:
//
//	readlink /proc/PID/ns/*       lsns -p PID
//	cat /proc/PID/uid_map          cat /proc/PID/cgroup
//	grep Cap /proc/PID/status      capsh --decode=HEX
//	cat /proc/PID/mountinfo        findmnt -N PID
//	nsenter -t PID -n ip addr      nsenter -t PID -u hostname
//
// The parsers (ParseMountinfo, ParseCgroups, ParseStatus, ParseIDMap,
// DecodeCaps) are pure and work on any OS; the readers that need a Linux
// kernel (Snapshot, Links) return ErrNotImplemented elsewhere.
//
// See [proc(5)], [namespaces(7)], [capabilities(7)], [cgroups(7)].
//
// [proc(5)]: https://man7.org/linux/man-pages/man5/proc.5.html
// [namespaces(7)]: https://man7.org/linux/man-pages/man7/namespaces.7.html
// [capabilities(7)]: https://man7.org/linux/man-pages/man7/capabilities.7.html
// [cgroups(7)]: https://man7.org/linux/man-pages/man7/cgroups.7.html
package inspect
