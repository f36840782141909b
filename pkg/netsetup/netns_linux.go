package netsetup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NetnsPath is where the named namespace name (after NetnsName) lives.
func (h *Host) NetnsPath(name string) string {
	return filepath.Join(h.netnsDir, NetnsName(name))
}

// AddNetns creates a named network namespace the way `ip netns add` does:
// a thread unshares CLONE_NEWNET, and its /proc/self/task/TID/ns/net is
// bind-mounted onto <netnsDir>/<name> so the namespace outlives the thread.
// Inside, only lo exists (down). ErrNameInUse if the name exists.
//
// Equivalent to: ip netns add ctrlab-NAME  (unshare(CLONE_NEWNET) + mount(MS_BIND))
func (h *Host) AddNetns(ctx context.Context, name string) (*NetnsInfo, error) {
	if err := ValidateNetnsName(name); err != nil {
		return nil, err
	}
	path := h.NetnsPath(name)
	if err := os.MkdirAll(h.netnsDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", h.netnsDir, err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("creating netns %s: %w", path, ErrNameInUse)
		}
		return nil, fmt.Errorf("creating netns file %s: %w", path, err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		// This thread enters a new netns and is never unlocked: the
		// runtime kills it when the goroutine ends, so no other
		// goroutine ever runs in the new namespace.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- &os.SyscallError{Syscall: "unshare(CLONE_NEWNET)", Err: err}
			return
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
			errc <- &MountError{Source: src, Target: path, Flags: "MS_BIND", Err: err}
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("creating netns %s: %w", path, err)
	}
	if err := h.withState(func(st *stateFile) error {
		st.Netns = appendUniq(st.Netns, path)
		return nil
	}); err != nil {
		_ = unmountRemove(path)
		return nil, err
	}
	return netnsInfo(path, true), nil
}

// MountError is a failed mount(2) or umount(2).
type MountError struct {
	Source, Target, Flags string
	Err                   error
}

func (e *MountError) Error() string {
	if e.Source == "" {
		return fmt.Sprintf("unmounting %s: %v", e.Target, e.Err)
	}
	return fmt.Sprintf("mounting %s on %s (%s): %v", e.Source, e.Target, e.Flags, e.Err)
}
func (e *MountError) Unwrap() error { return e.Err }

func unmountRemove(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return &MountError{Target: path, Err: err}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	return nil
}

func netnsInfo(path string, ours bool) *NetnsInfo {
	var st unix.Stat_t
	ino := uint64(0)
	if unix.Stat(path, &st) == nil {
		ino = uint64(st.Ino)
	}
	return &NetnsInfo{Name: filepath.Base(path), Path: path, Inode: ino, Ours: ours}
}

// DeleteNetns disconnects the named namespace (if connected) and removes
// it: unmount the bind mount and unlink the file. The namespace dies when
// nothing else holds it (its eth0 and thus the veth pair go with it).
//
// Equivalent to: ip netns del ctrlab-NAME  (umount2(MNT_DETACH) + unlink)
func (h *Host) DeleteNetns(ctx context.Context, name string) ([]string, error) {
	path := h.NetnsPath(name)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("deleting netns %s: %w", path, ErrNotFound)
	}
	var eq []string
	var atts []*Attachment
	st, err := h.snapshot()
	if err != nil {
		return nil, err
	}
	for _, a := range st.Attachments {
		if a.NetnsPath == path {
			atts = append(atts, a)
		}
	}
	for _, a := range atts {
		e, err := h.Disconnect(ctx, a)
		eq = append(eq, e...)
		if err != nil {
			return eq, err
		}
	}
	if err := unmountRemove(path); err != nil {
		return eq, err
	}
	eq = append(eq, "ip netns del "+filepath.Base(path))
	err = h.withState(func(st *stateFile) error {
		st.Netns = removeStr(st.Netns, path)
		return nil
	})
	return eq, err
}

// ListNetns lists the named namespaces under the netns directory; Ours
// marks the ones ctrlab created.
func (h *Host) ListNetns(ctx context.Context) ([]NetnsInfo, error) {
	ents, err := os.ReadDir(h.netnsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("listing %s: %w", h.netnsDir, err)
	}
	st, err := h.snapshot()
	if err != nil {
		return nil, err
	}
	var out []NetnsInfo
	for _, e := range ents {
		p := filepath.Join(h.netnsDir, e.Name())
		ours := false
		for _, n := range st.Netns {
			ours = ours || n == p
		}
		out = append(out, *netnsInfo(p, ours))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// openTarget opens the namespace named by a PID or a path.
func openTarget(pid int, path string) (netns.NsHandle, string, error) {
	switch {
	case pid > 0 && path != "":
		return -1, "", errors.New("give a PID or a netns path, not both")
	case pid > 0:
		p := fmt.Sprintf("/proc/%d/ns/net", pid)
		ns, err := netns.GetFromPath(p)
		if err != nil {
			return -1, "", fmt.Errorf("opening netns of pid %d: %w", pid, err)
		}
		return ns, p, nil
	case path != "":
		ns, err := netns.GetFromPath(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return -1, "", fmt.Errorf("opening netns %s: %w (create it with 'ctrlab net ns add')", path, ErrNotFound)
			}
			return -1, "", fmt.Errorf("opening netns %s: %w", path, err)
		}
		var st unix.Statfs_t
		if unix.Fstatfs(int(ns), &st) == nil && st.Type != unix.NSFS_MAGIC && st.Type != unix.PROC_SUPER_MAGIC {
			ns.Close()
			return -1, "", fmt.Errorf("opening netns %s: not a namespace file (is it mounted?)", path)
		}
		return ns, path, nil
	}
	return -1, "", errors.New("no target namespace: give a PID or a netns path")
}

func appendUniq(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

func removeStr(s []string, v string) []string {
	out := s[:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

var _ = strings.HasPrefix
