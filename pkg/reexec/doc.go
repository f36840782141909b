// Package reexec runs ctrlab's own binary again under another argv[0] to
// reach entrypoints that must start in a fresh process: container init
// (after clone with new namespaces), built-in workloads for cgroup demos,
// and helpers that join namespaces with setns.
//
// A multithreaded Go program cannot safely fork without exec, nor unshare
// every namespace kind from a running process; runc solves this with a C
// constructor (nsenter), ctrlab stays pure Go by re-executing /proc/self/exe
// with the right SysProcAttr (Cloneflags, UidMappings, CgroupFD).
//
// Pattern (as moby/sys/reexec): entrypoints register in init(), main calls
// Init first, parents start children with Command.
package reexec
