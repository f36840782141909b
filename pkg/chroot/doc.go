// Package chroot runs a command with its root directory changed, the
// oldest isolation step on Unix, and shows why it is not enough: a root
// process can walk out of a chroot (EscapeDemo). Real runtimes use
// pivot_root(2) inside a new mount namespace instead.
//
// Run re-executes ctrlab as "ctrlab-chroot-init", which calls [chroot(2)]
// and chdir("/") and then execs the command.
//
// Equivalent to: `chroot ROOTFS CMD` (coreutils).
//
// [chroot(2)]: https://man7.org/linux/man-pages/man2/chroot.2.html
package chroot
