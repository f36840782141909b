package container

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Status is a container's lifecycle state.
type Status string

// Lifecycle states.
const (
	Creating Status = "creating" // state written, init not yet running the process
	Running  Status = "running"
	Stopped  Status = "stopped" // the process exited; ExitCode is set
	Dead     Status = "dead"    // its owner died without recording an exit
)

// DefaultRoot is where container state lives unless --root/CTRLAB_ROOT say otherwise.
const DefaultRoot = "/var/lib/ctrlab/containers"

// State is a container's state.json.
type State struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Pid is the host PID of the container's PID 1; PidStart its start time
	// (field 22 of /proc/PID/stat) so a reused PID is not mistaken for it.
	Pid      int    `json:"pid,omitempty"`
	PidStart uint64 `json:"pidStart,omitempty"`
	// Owner is the process that waits for the container: `ctrlab run` in the
	// foreground, or the detached shim.
	OwnerPid   int       `json:"ownerPid,omitempty"`
	OwnerStart uint64    `json:"ownerStart,omitempty"`
	Detached   bool      `json:"detached,omitempty"`
	AutoRemove bool      `json:"autoRemove,omitempty"`
	ExitCode   int       `json:"exitCode"`
	Created    time.Time `json:"created"`
	Started    time.Time `json:"started,omitempty"`
	Finished   time.Time `json:"finished,omitempty"`
	Config     Config    `json:"config"`
	Error      string    `json:"error,omitempty"`
}

// Store keeps one directory per container under Root.
type Store struct{ Root string }

// NewStore returns a store rooted at root (DefaultRoot when empty).
func NewStore(root string) *Store {
	if root == "" {
		root = DefaultRoot
	}
	return &Store{Root: root}
}

// Dir is the container's state directory.
func (s *Store) Dir(id string) string { return filepath.Join(s.Root, id) }

// LogPath is where a detached container's output goes.
func (s *Store) LogPath(id string) string { return filepath.Join(s.Dir(id), "container.log") }

func (s *Store) statePath(id string) string { return filepath.Join(s.Dir(id), "state.json") }

// lock takes an exclusive flock(2) on path (created if needed).
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock %q: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %q: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// Lock serializes changes to one container's state.
func (s *Store) Lock(id string) (func(), error) { return lock(filepath.Join(s.Dir(id), "lock")) }

// Create allocates an ID (and the name, if empty), checks the name is free
// and writes state.json with status Creating. Resources already in
// cfg.Resources are recorded from this moment on.
func (s *Store) Create(cfg *Config) (*State, error) { return s.create(cfg, nil) }

// create is Create; fill, when set, completes the first record (Run
// records its owner there instead of in a second write).
func (s *Store) create(cfg *Config, fill func(*State)) (*State, error) {
	if err := os.MkdirAll(s.Root, 0o700); err != nil {
		return nil, fmt.Errorf("creating state root %q: %w", s.Root, err)
	}
	unlock, err := lock(filepath.Join(s.Root, ".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if cfg.ID == "" {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		cfg.ID = hex.EncodeToString(b)
	}
	if cfg.Name == "" {
		cfg.Name = "ctrlab-" + short(cfg.ID, 8)
	}
	if cfg.Hostname == "" {
		cfg.Hostname = short(cfg.ID, 12) // as docker: the short ID
	}
	all, err := s.load()
	if err != nil {
		return nil, err
	}
	for _, st := range all {
		if st.Name == cfg.Name || st.ID == cfg.ID {
			return nil, fmt.Errorf("%w: %q (id %s)", ErrNameInUse, cfg.Name, st.ID)
		}
	}
	if err := os.Mkdir(s.Dir(cfg.ID), 0o700); err != nil {
		return nil, fmt.Errorf("creating state dir: %w", err)
	}
	st := &State{ID: cfg.ID, Name: cfg.Name, Status: Creating, Created: time.Now().UTC(), Config: *cfg}
	if fill != nil {
		fill(st)
	}
	if err := s.Save(st); err != nil {
		os.RemoveAll(s.Dir(cfg.ID))
		return nil, err
	}
	return st, nil
}

// Save writes state.json atomically: a temp file in the same directory,
// then rename(2) over the old one.
//
// There is no fsync(2) (it cost 0.3-1.5 ms per write, four writes per run,
// on the start and exit path). What remains guaranteed: rename is atomic,
// so any process reading state.json (ps, rm -f, a concurrent owner) sees
// the old record or the new one, never a torn one, and a SIGKILLed ctrlab
// leaves a whole record its resources can be released from. What is given
// up is durability across a power loss or kernel crash: the last record(s)
// may be lost (an older one is found instead) or, on a filesystem without
// ext4's flush-on-replace-via-rename, empty. Nothing a record describes
// outlives that crash: after a reboot the processes, mounts, cgroups,
// veths, netns and firewall rules are gone. An older record names a dead
// owner, so ps reaps it (Release of what is gone is a no-op); an empty one
// is skipped by ps and List rather than trusted, leaving only its
// directory on disk.
func (s *Store) Save(st *State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	dir := s.Dir(st.ID)
	f, err := os.CreateTemp(dir, ".state-*.json")
	if err != nil {
		return fmt.Errorf("writing state of %s: %w", st.Name, err)
	}
	_, werr := f.Write(append(b, '\n'))
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), s.statePath(st.ID))
	}
	if werr != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing state of %s: %w", st.Name, werr)
	}
	return nil
}

// Update applies fn to the stored state under the container's lock.
func (s *Store) Update(id string, fn func(*State)) (*State, error) {
	unlock, err := s.Lock(id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := s.read(id)
	if err != nil {
		return nil, err
	}
	fn(st)
	return st, s.Save(st)
}

// Track records more resources in a container's state (write-ahead: call
// it before making them).
func (s *Store) Track(id string, rs ...Resource) error {
	_, err := s.Update(id, func(st *State) { st.Config.Resources = append(st.Config.Resources, rs...) })
	return err
}

func (s *Store) read(id string) (*State, error) {
	b, err := os.ReadFile(s.statePath(id))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("reading state of %s: %w", id, err)
	}
	return &st, nil
}

// load reads every state.json as stored (no liveness checks).
func (s *Store) load() ([]*State, error) {
	ents, err := os.ReadDir(s.Root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing %q: %w", s.Root, err)
	}
	var out []*State
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		st, err := s.read(e.Name())
		if err != nil {
			continue // half-created or being removed
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// Get finds a container by name, ID or unique ID prefix, with its liveness
// refreshed (see List).
func (s *Store) Get(name string) (*State, error) {
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	var match []*State
	for _, st := range all {
		if st.Name == name || st.ID == name {
			return st, nil
		}
		if len(name) >= 4 && strings.HasPrefix(st.ID, name) {
			match = append(match, st)
		}
	}
	if len(match) == 1 {
		return match[0], nil
	}
	return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
}

func short(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
