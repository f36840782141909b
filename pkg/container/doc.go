// Package container is ctrlab's runtime core: it runs a process in a
// container built the way runc builds one, and keeps the container's state on
// disk so later commands (ps, exec, logs, stop, kill, rm) can find it.
//
// The pieces, in the order a container is made:
//
//   - [Config] is the plain, JSON-serializable description of one container.
//     It crosses the re-exec boundary over a pipe (fd 3, named by the
//     environment variable _CTRLAB_INITPIPE).
//   - [Start] (parent side) re-executes ctrlab as "ctrlab-init" with
//     clone(2) flags for the new namespaces, waits until the child exists,
//     runs the attach hooks (cgroup, network) while the child waits for a
//     "go" byte, then lets it finish and exec the user's process.
//   - [Init] (child side, entrypoint "ctrlab-init") makes / a slave mount,
//     bind-mounts the rootfs onto itself, mounts /proc, /dev, /sys and
//     /sys/fs/cgroup, masks and write-protects the paths runc does,
//     pivot_root(2)s into the rootfs, sets the hostname, the user, the
//     capability sets and no_new_privs, and execve(2)s the process.
//   - [Store] keeps one directory per container with state.json (written
//     atomically) and the list of [Resource]s to release, so that a container
//     whose ctrlab was SIGKILLed can still be cleaned up by [Store.Remove] or
//     noticed by [Store.List].
//
// Other packages plug their kernel objects into the lifecycle by registering
// a [Handler] for a resource kind (see [RegisterKind]): Attach runs after the
// child exists and before it execs (cgroup AddPID, veth into the netns);
// Release runs when the container is removed, even after a crash.
package container
