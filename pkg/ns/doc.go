// Package ns maps the eight Linux namespace kinds to their CLONE_* flags and
// /proc/PID/ns/* files, and reads namespace identities (inode numbers) the
// way `readlink /proc/PID/ns/KIND` and `lsns` show them.
//
// See [namespaces(7)], [unshare(2)], [setns(2)].
//
// [namespaces(7)]: https://man7.org/linux/man-pages/man7/namespaces.7.html
// [unshare(2)]: https://man7.org/linux/man-pages/man2/unshare.2.html
// [setns(2)]: https://man7.org/linux/man-pages/man2/setns.2.html
package ns
