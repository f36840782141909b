package netsetup

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"

	"golang.org/x/sys/unix"
)

// stateFile is what ctrlab remembers between commands, in
// <stateDir>/state.json, guarded by flock(2) on <stateDir>/state.lock.
type stateFile struct {
	// Bridges ctrlab created, by name.
	Bridges map[string]*bridgeRec `json:"bridges"`
	// Leases maps "bridge/ip" to the host veth holding the address.
	Leases map[string]string `json:"leases"`
	// Attachments by host veth name.
	Attachments map[string]*Attachment `json:"attachments"`
	// Netns lists the named namespaces ctrlab created (paths).
	Netns []string `json:"netns"`
	// ForwardingOn is true when ctrlab switched net.ipv4.ip_forward on
	// (it was 0), so Cleanup switches it back off.
	ForwardingOn bool `json:"forwardingOn,omitempty"`
}

type bridgeRec struct {
	Name    string       `json:"name"`
	Subnet  netip.Prefix `json:"subnet"`
	Gateway netip.Addr   `json:"gateway"`
}

// withState runs fn with the state file locked (LOCK_EX) and writes the
// state back atomically if fn returns nil. Separate processes and
// goroutines serialize on the lock, so two allocations never race.
func (h *Host) withState(fn func(*stateFile) error) error {
	if err := os.MkdirAll(h.stateDir, 0o755); err != nil {
		return fmt.Errorf("creating state dir %q: %w", h.stateDir, err)
	}
	lock, err := os.OpenFile(filepath.Join(h.stateDir, "state.lock"), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return fmt.Errorf("opening state lock: %w", err)
	}
	defer lock.Close()
	for {
		err = unix.Flock(int(lock.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("locking %q: %w", lock.Name(), err)
	}
	defer unix.Flock(int(lock.Fd()), unix.LOCK_UN) //nolint:errcheck
	st, err := h.readState()
	if err != nil {
		return err
	}
	if err := fn(st); err != nil {
		return err
	}
	return h.writeState(st)
}

func (h *Host) statePath() string { return filepath.Join(h.stateDir, "state.json") }

func (h *Host) readState() (*stateFile, error) {
	st := &stateFile{}
	b, err := os.ReadFile(h.statePath())
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("reading state: %w", err)
	default:
		if err := json.Unmarshal(b, st); err != nil {
			return nil, fmt.Errorf("parsing state %q: %w", h.statePath(), err)
		}
	}
	if st.Bridges == nil {
		st.Bridges = map[string]*bridgeRec{}
	}
	if st.Leases == nil {
		st.Leases = map[string]string{}
	}
	if st.Attachments == nil {
		st.Attachments = map[string]*Attachment{}
	}
	return st, nil
}

// snapshot reads the state under the lock without changing it.
func (h *Host) snapshot() (*stateFile, error) {
	var out *stateFile
	if _, err := os.Stat(h.statePath()); errors.Is(err, os.ErrNotExist) {
		return h.readState()
	}
	err := h.withState(func(st *stateFile) error { out = st; return nil })
	return out, err
}

func (h *Host) writeState(st *stateFile) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := h.statePath() + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	if err := os.Rename(tmp, h.statePath()); err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	return nil
}

func leaseKey(bridge string, ip netip.Addr) string { return bridge + "/" + ip.String() }

// allocate leases the lowest free address of the bridge's subnet (after
// the gateway) to owner.
func (st *stateFile) allocate(br *Bridge, owner string) (netip.Prefix, error) {
	p := br.Subnet.Masked()
	last := lastAddr(p)
	for a := p.Addr().Next(); a.IsValid() && a.Less(last); a = a.Next() {
		if a == br.Gateway {
			continue
		}
		k := leaseKey(br.Name, a)
		if _, taken := st.Leases[k]; taken {
			continue
		}
		st.Leases[k] = owner
		return netip.PrefixFrom(a, p.Bits()), nil
	}
	return netip.Prefix{}, fmt.Errorf("allocating address on %s: %w %s", br.Name, ErrNoFreeAddress, p)
}

// release drops every lease held by owner.
func (st *stateFile) release(owner string) []string {
	var gone []string
	for k, o := range st.Leases {
		if o == owner {
			delete(st.Leases, k)
			gone = append(gone, k)
		}
	}
	sort.Strings(gone)
	return gone
}

// lastAddr is the broadcast address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// releaseLease drops owner's leases and attachment record.
func (h *Host) releaseLease(owner string) error {
	return h.withState(func(st *stateFile) error {
		st.release(owner)
		delete(st.Attachments, owner)
		return nil
	})
}
