// Package cgroup creates and inspects control groups, the kernel feature a
// container runtime uses to limit and account CPU, memory and processes.
//
// One API covers both kernel interfaces:
//
//   - cgroup v2 (unified): one tree at /sys/fs/cgroup; a ctrlab cgroup is the
//     directory /sys/fs/cgroup/ctrlab/NAME with files memory.max, cpu.max,
//     pids.max... Controllers are switched on for children by writing
//     "+memory +pids +cpu" to the parent's cgroup.subtree_control.
//   - cgroup v1 (and "hybrid", v1 controllers plus an empty v2 tree): one tree
//     per controller, /sys/fs/cgroup/memory/ctrlab/NAME,
//     /sys/fs/cgroup/cpu/ctrlab/NAME... with files memory.limit_in_bytes,
//     cpu.cfs_quota_us, pids.max...
//
// Every ctrlab cgroup lives under a parent named "ctrlab" at the root of its
// hierarchy, so `find /sys/fs/cgroup -name 'ctrlab*'` shows everything ctrlab
// made. [Cgroup.Set] returns each kernel file it wrote with the value the
// kernel reads back, because the kernel rounds and normalises what it is told.
//
// Equivalent to: `mkdir /sys/fs/cgroup/ctrlab/NAME; echo 64M > .../memory.max;
// echo $$ > .../cgroup.procs` (mkdir(2), write(2); on v2 clone3(2) with
// CLONE_INTO_CGROUP starts a process directly inside).
package cgroup
