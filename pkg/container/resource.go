package container

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ctrlab/ctrlab/pkg/explain"
)

// Resource is one kernel object a container owns, recorded in state.json
// BEFORE it is made (write-ahead), so that a later `ctrlab rm -f` can
// release it even if ctrlab was SIGKILLed half-way. Release handlers must
// therefore be idempotent: releasing something already gone is not an error.
//
// Examples: {"kind":"mount","path":"/run/ctrlab/x/merged"},
// {"kind":"cgroup","path":"/sys/fs/cgroup/pids/ctrlab/x"},
// {"kind":"veth","name":"ctrlabv1a2b"}, {"kind":"lease","name":"10.88.0.5"}.
type Resource struct {
	Kind string            `json:"kind"`
	Path string            `json:"path,omitempty"`
	Name string            `json:"name,omitempty"`
	Data map[string]string `json:"data,omitempty"`
}

func (r Resource) String() string {
	s := r.Kind
	if r.Path != "" {
		s += " " + r.Path
	}
	if r.Name != "" {
		s += " " + r.Name
	}
	return s
}

// Handler plugs a kind of resource into the container lifecycle.
type Handler struct {
	// Create makes the object. It runs in the process that owns the
	// container (ctrlab run, or the detached shim) once the state recording
	// the resource is written and before the init is cloned: mount the
	// overlay rootfs, mkdir the cgroup and write its limits. On an error
	// every resource is released (Release must cope with a half-made one).
	// It may be nil.
	Create func(ctx context.Context, r Resource) error
	// Attach runs in the process that owns the container (ctrlab run, or the
	// detached shim) after the container's init exists and before it execs
	// the user's process: add the PID to a cgroup, move a veth into
	// /proc/PID/ns/net. It may be nil.
	Attach func(ctx context.Context, pid int, r Resource) error
	// Release frees the resource. It must succeed when the resource is
	// already gone.
	Release func(r Resource) error
}

var (
	handlersMu sync.RWMutex
	handlers   = map[string]Handler{}
)

// RegisterKind registers the handler for resources of a kind. Call it from
// an init() function of the package that creates such resources; the
// detached shim is the same binary, so it sees the same registry.
func RegisterKind(kind string, h Handler) {
	handlersMu.Lock()
	defer handlersMu.Unlock()
	handlers[kind] = h
}

func handlerFor(kind string) (Handler, bool) {
	handlersMu.RLock()
	defer handlersMu.RUnlock()
	h, ok := handlers[kind]
	return h, ok
}

// createAll runs the Create handlers in order.
func createAll(ctx context.Context, rs []Resource) error {
	for _, r := range rs {
		h, ok := handlerFor(r.Kind)
		if !ok {
			return fmt.Errorf("creating %s: no handler registered for kind %q", r, r.Kind)
		}
		if h.Create == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := h.Create(ctx, r); err != nil {
			return fmt.Errorf("creating %s: %w", r, err)
		}
	}
	return nil
}

type narratorKey struct{}

// withNarrator makes Narrate(ctx, ...) reach fn.
func withNarrator(ctx context.Context, fn func(*explain.Report)) context.Context {
	if fn == nil {
		return ctx
	}
	return context.WithValue(ctx, narratorKey{}, fn)
}

// Narrate hands r to the WithExplain callback of the Run or Start whose
// Create or Attach handler is running; without --explain it does nothing.
// Handlers use it to show the kernel state they produced.
func Narrate(ctx context.Context, r *explain.Report) {
	if fn, ok := ctx.Value(narratorKey{}).(func(*explain.Report)); ok && r != nil {
		fn(r)
	}
}

// Narrating reports whether Narrate(ctx, ...) reaches anyone (so a handler
// can skip building a report nobody reads).
func Narrating(ctx context.Context) bool {
	_, ok := ctx.Value(narratorKey{}).(func(*explain.Report))
	return ok
}

type selfJoinKey struct{}

// selfJoin collects the cgroup v1 directories the init joins itself.
type selfJoin struct{ dirs []string }

// JoinCgroupFromInit asks the container's init to move itself into the
// cgroup v1 directories dirs (one per hierarchy) instead of the owner
// writing the init's PID to their cgroup.procs. An Attach handler calls it;
// when it returns false (with --explain, with a user namespace, or outside
// Start) the handler moves the PID itself.
//
// Why: writing another process's PID to cgroup.procs (or tasks) takes the
// kernel's global cgroup_threadgroup_rwsem for writing, which waits for an
// RCU grace period: 5-15 ms on an idle 2-CPU VM, the largest single cost
// of a container start. A thread that moves itself by writing 0 to
// "tasks" skips that lock (cgroup_procs_write_start in recent kernels;
// older ones take it and are merely as slow as before). The init does it on
// the thread that later execs the user's process, before it unshares its
// cgroup namespace, so the process starts in the cgroup and the namespace
// is rooted there exactly as with cgroup.procs. The init's other Go
// threads stay behind until execve(2) ends them; they run no user code.
//
// Equivalent to (from the init): `echo 0 > DIR/tasks` for each DIR.
func JoinCgroupFromInit(ctx context.Context, dirs ...string) bool {
	j, ok := ctx.Value(selfJoinKey{}).(*selfJoin)
	if !ok {
		return false
	}
	j.dirs = append(j.dirs, dirs...)
	return true
}

// attachAll runs the Attach handlers in order.
func attachAll(ctx context.Context, pid int, rs []Resource) error {
	for _, r := range rs {
		h, ok := handlerFor(r.Kind)
		if !ok || h.Attach == nil {
			continue
		}
		if err := h.Attach(ctx, pid, r); err != nil {
			return fmt.Errorf("attaching %s: %w", r, err)
		}
	}
	return nil
}

// ReleaseAll releases resources in reverse order, going on after a failure,
// and returns every failure joined. A kind with no registered handler is an
// error (the binary that made it must register it).
func ReleaseAll(rs []Resource) error {
	var errs []error
	for i := len(rs) - 1; i >= 0; i-- {
		r := rs[i]
		h, ok := handlerFor(r.Kind)
		if !ok || h.Release == nil {
			errs = append(errs, fmt.Errorf("releasing %s: no handler registered for kind %q", r, r.Kind))
			continue
		}
		if err := h.Release(r); err != nil {
			errs = append(errs, fmt.Errorf("releasing %s: %w", r, err))
		}
	}
	return errors.Join(errs...)
}
