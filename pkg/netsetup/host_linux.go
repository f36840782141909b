package netsetup

import (
	_ "github.com/ctrlab/ctrlab/pkg/ns" // keeps the main goroutine on the main thread (see there)

	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Host is the "host side" of ctrlab's networking: a network namespace (the
// caller's by default) holding bridges and firewall rules, a state
// directory holding leases, and the netns directory holding named
// namespaces. All link work goes through one netlink.Handle bound to it.
type Host struct {
	ns       netns.NsHandle // dup of the host netns
	nl       *netlink.Handle
	stateDir string
	netnsDir string
	fwName   string // "", "iptables" or "nft"
	fw       firewall
	ownNS    bool // ns is the netns of the calling process
	// runHook, when set, sees every firewall command before it runs
	// (tests count the processes of the per-container path).
	runHook func(name string, args []string)
}

// Option configures Open.
type Option func(*Host) error

// WithHostNetns makes ns the host side instead of the current namespace
// (tests pass a fresh namespace so the machine is never touched). The
// handle is duplicated; the caller keeps ownership of ns.
func WithHostNetns(ns netns.NsHandle) Option {
	return func(h *Host) error {
		fd, err := dupFD(int(ns))
		if err != nil {
			return fmt.Errorf("duplicating host netns handle: %w", err)
		}
		h.ns = netns.NsHandle(fd)
		h.ownNS = false
		return nil
	}
}

// WithStateDir stores leases and records under dir (DefaultStateDir).
func WithStateDir(dir string) Option {
	return func(h *Host) error { h.stateDir = dir; return nil }
}

// WithNetnsDir keeps named namespaces under dir (DefaultNetnsDir).
func WithNetnsDir(dir string) Option {
	return func(h *Host) error { h.netnsDir = dir; return nil }
}

// WithFirewall forces the firewall backend: "iptables" or "nft".
func WithFirewall(name string) Option {
	return func(h *Host) error {
		if name != "iptables" && name != "nft" && name != "" {
			return fmt.Errorf("unknown firewall backend %q: want iptables or nft", name)
		}
		h.fwName = name
		return nil
	}
}

// Open returns a Host for the current netns (or WithHostNetns) and opens a
// netlink handle in it. Close it when done.
func Open(opts ...Option) (*Host, error) {
	h := &Host{stateDir: DefaultStateDir, netnsDir: DefaultNetnsDir, ns: -1, ownNS: true}
	for _, o := range opts {
		if err := o(h); err != nil {
			h.Close()
			return nil, err
		}
	}
	if h.ns < 0 {
		cur, err := netns.GetFromPath("/proc/thread-self/ns/net")
		if err != nil {
			return nil, fmt.Errorf("opening current netns: %w", err)
		}
		h.ns = cur
	}
	nl, err := netlink.NewHandleAt(h.ns)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("opening netlink socket in host netns: %w", err)
	}
	h.nl = nl
	return h, nil
}

// Close releases the netlink socket and namespace handle.
func (h *Host) Close() error {
	if h.nl != nil {
		h.nl.Close()
		h.nl = nil
	}
	if h.ns >= 0 {
		h.ns.Close()
		h.ns = -1
	}
	return nil
}

// StateDir is where leases and records live.
func (h *Host) StateDir() string { return h.stateDir }

// NetnsDir is where named namespaces are bind-mounted.
func (h *Host) NetnsDir() string { return h.netnsDir }

// Netlink exposes the host-side handle (read-only use by callers).
func (h *Host) Netlink() *netlink.Handle { return h.nl }

// firewall detects (once) and returns the firewall backend.
func (h *Host) firewall() (firewall, error) {
	if h.fw != nil {
		return h.fw, nil
	}
	fw, err := detectFirewall(h.fwName, h)
	if err != nil {
		return nil, err
	}
	h.fw = fw
	return fw, nil
}

// inNS runs fn on a locked OS thread switched into ns. Child processes
// started by fn (exec.Cmd.Start forks from this thread) inherit ns. If
// switching back fails the thread is left locked so the runtime discards
// it rather than reusing a thread in the wrong namespace.
func inNS(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.GetFromPath("/proc/thread-self/ns/net")
		if err != nil {
			errc <- fmt.Errorf("opening current netns: %w", err)
			return // thread stays locked and dies with the goroutine
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("entering netns: %w", err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("restoring netns: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// inHost runs fn inside the host namespace (directly if it is ours).
func (h *Host) inHost(fn func() error) error {
	if h.ownNS {
		return fn()
	}
	return inNS(h.ns, fn)
}

// sysctl reads a /proc/sys/net value inside the host namespace.
func (h *Host) sysctl(key string) (string, error) {
	var v string
	err := h.inHost(func() error {
		b, err := os.ReadFile(filepath.Join("/proc/sys", key))
		v = string(trimNL(b))
		return err
	})
	return v, err
}

// setSysctl writes a /proc/sys/net value inside the host namespace.
func (h *Host) setSysctl(key, val string) error {
	return h.inHost(func() error {
		if err := os.WriteFile(filepath.Join("/proc/sys", key), []byte(val), 0); err != nil {
			return fmt.Errorf("setting sysctl %s=%s: %w", key, val, err)
		}
		return nil
	})
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}
