package ns

import "runtime"

// /proc/self shows the process's main thread. Code that joins another
// namespace does it on a locked OS thread that it never unlocks, so the Go
// runtime throws that thread away afterwards — but the runtime cannot throw
// away the main thread: it wedges it instead, and /proc/self/mountinfo,
// /proc/self/ns/* and friends would then describe the foreign namespace for
// the rest of the process's life. Keeping the main goroutine on the main
// thread (as runc's libcontainer does) means no such goroutine ever runs
// there. Every package that switches namespaces imports this one.
func init() { runtime.LockOSThread() }
