package grade

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/ctrlab/ctrlab/internal/contentfs"
	"gopkg.in/yaml.v3"
)

// Lab is one hands-on lab.
type Lab struct {
	Name       string `yaml:"name" json:"name"`
	Title      string `yaml:"title" json:"title"`
	Order      int    `yaml:"order" json:"order"`
	Topic      string `yaml:"topic" json:"topic"`
	Goal       string `yaml:"goal" json:"goal"`
	Background string `yaml:"background" json:"background"`
	// Needs lists the step issues/tools the lab needs (for the docs).
	Needs []string `yaml:"needs" json:"needs,omitempty"`
	Tasks []Task   `yaml:"tasks" json:"tasks"`
	// Setup prepares fixtures (sh script); run by `ctrlab lab start`.
	Setup string `yaml:"setup" json:"setup,omitempty"`
	// Solution is the reference solution (sh script); `ctrlab lab solve`.
	Solution string    `yaml:"solution" json:"solution"`
	Reset    ResetSpec `yaml:"reset" json:"reset"`
}

// Task is one thing the learner does, with the checks that grade it.
type Task struct {
	ID     string  `yaml:"id" json:"id"`
	Title  string  `yaml:"title" json:"title"`
	Text   string  `yaml:"text" json:"text"`
	Hint   string  `yaml:"hint" json:"hint"`
	Checks []Check `yaml:"checks" json:"checks"`
}

// Check is one assertion about live kernel state. Kind selects the
// evaluator; the other fields are its parameters (see checks_linux.go).
type Check struct {
	Kind       string   `yaml:"kind" json:"kind"`
	Process    string   `yaml:"process,omitempty" json:"process,omitempty"`
	Namespaces []string `yaml:"namespaces,omitempty" json:"namespaces,omitempty"`
	Value      string   `yaml:"value,omitempty" json:"value,omitempty"`
	Path       string   `yaml:"path,omitempty" json:"path,omitempty"`
	Netns      string   `yaml:"netns,omitempty" json:"netns,omitempty"`
	Link       string   `yaml:"link,omitempty" json:"link,omitempty"`
	Type       string   `yaml:"type,omitempty" json:"type,omitempty"`
	Master     string   `yaml:"master,omitempty" json:"master,omitempty"`
	Peer       string   `yaml:"peer,omitempty" json:"peer,omitempty"`
	PeerNetns  string   `yaml:"peerNetns,omitempty" json:"peerNetns,omitempty"`
	CIDR       string   `yaml:"cidr,omitempty" json:"cidr,omitempty"`
	Via        string   `yaml:"via,omitempty" json:"via,omitempty"`
	To         string   `yaml:"to,omitempty" json:"to,omitempty"`
	Cgroup     string   `yaml:"cgroup,omitempty" json:"cgroup,omitempty"`
	Resource   string   `yaml:"resource,omitempty" json:"resource,omitempty"`
	FSType     string   `yaml:"fstype,omitempty" json:"fstype,omitempty"`
	Options    []string `yaml:"options,omitempty" json:"options,omitempty"`
	Upper      string   `yaml:"upper,omitempty" json:"upper,omitempty"`
	Lower      string   `yaml:"lower,omitempty" json:"lower,omitempty"`
	Merged     string   `yaml:"merged,omitempty" json:"merged,omitempty"`
	File       string   `yaml:"file,omitempty" json:"file,omitempty"`
	Contains   string   `yaml:"contains,omitempty" json:"contains,omitempty"`
}

// ResetSpec names exactly what `ctrlab lab reset` removes. Every name must
// start with "ctrlab-lab" (paths: contain it), so a reset never touches
// anything ctrlab did not make.
type ResetSpec struct {
	Containers []string `yaml:"containers" json:"containers,omitempty"` // ctrlab containers to remove (ctrlab rm -f)
	Processes  []string `yaml:"processes" json:"processes,omitempty"`   // exact command lines to SIGKILL
	Mounts     []string `yaml:"mounts" json:"mounts,omitempty"`         // mount points to unmount (lazily)
	Netns      []string `yaml:"netns" json:"netns,omitempty"`           // named netns under /run/netns
	Links      []string `yaml:"links" json:"links,omitempty"`           // host links to delete
	Cgroups    []string `yaml:"cgroups" json:"cgroups,omitempty"`       // cgroup paths (relative to each hierarchy)
	Iptables   []string `yaml:"iptables" json:"iptables,omitempty"`     // rules, as `-t nat -A ...`; deleted with -D
	Paths      []string `yaml:"paths" json:"paths,omitempty"`           // files/dirs to remove
	Sysctls    []string `yaml:"sysctls" json:"sysctls,omitempty"`       // sysctls restored to their value at start
}

// Parse decodes and validates one lab file.
func Parse(data []byte) (*Lab, error) {
	l, err := decode(data)
	if err != nil {
		return nil, err
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return l, nil
}

func decode(data []byte) (*Lab, error) {
	var l Lab
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("%w: decoding: %v", ErrInvalidLab, err)
	}
	return &l, nil
}

// Validate checks the format rules: names, a task has checks and a hint,
// every check kind is known, reset names only ctrlab-lab objects.
func (l *Lab) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidLab, l.Name, fmt.Sprintf(format, a...))
	}
	if l.Name == "" || l.Title == "" || l.Goal == "" || l.Solution == "" {
		return bad("name, title, goal and solution are required")
	}
	if len(l.Tasks) == 0 {
		return bad("no tasks")
	}
	ids := map[string]bool{}
	for _, t := range l.Tasks {
		if t.ID == "" || ids[t.ID] {
			return bad("task id %q empty or repeated", t.ID)
		}
		ids[t.ID] = true
		if t.Title == "" || t.Text == "" || t.Hint == "" {
			return bad("task %s needs title, text and hint", t.ID)
		}
		if len(t.Checks) == 0 {
			return bad("task %s has no checks", t.ID)
		}
		for _, c := range t.Checks {
			if _, ok := Kinds[c.Kind]; !ok {
				return fmt.Errorf("%w %q in lab %s task %s", ErrUnknownCheck, c.Kind, l.Name, t.ID)
			}
		}
	}
	return l.Reset.validate()
}

func (r ResetSpec) validate() error {
	owned := func(s string) bool { return strings.HasPrefix(s, "ctrlab-lab") }
	ownedPath := func(p string) bool {
		return path.IsAbs(p) && path.Clean(p) == p && strings.Contains(p, "/ctrlab-lab")
	}
	check := func(list []string, ok func(string) bool, what string) error {
		for _, s := range list {
			if !ok(s) {
				return fmt.Errorf("%w: %s %q", ErrUnsafeReset, what, s)
			}
		}
		return nil
	}
	for _, e := range []error{
		check(r.Netns, owned, "netns"), check(r.Links, owned, "link"), check(r.Containers, owned, "container"),
		check(r.Cgroups, owned, "cgroup"), check(r.Mounts, ownedPath, "mount"),
		check(r.Paths, ownedPath, "path"),
		check(r.Iptables, func(s string) bool { return strings.Contains(s, "ctrlab-lab") }, "iptables rule"),
		check(r.Processes, func(s string) bool { return s != "" }, "process"),
	} {
		if e != nil {
			return e
		}
	}
	return nil
}

// Load reads every *.yaml lab from fsys, sorted by Order then Name. A lab
// file must be named after its lab (NAME.yaml).
func Load(fsys fs.FS) ([]*Lab, error) {
	labs, errs, err := contentfs.ParseAll(fsys, "*.yaml", "labs", func(file string, data []byte) (*Lab, error) {
		l, err := decode(data)
		if err == nil && l.Name+".yaml" != file {
			err = fmt.Errorf("%w: file %s holds lab %q", ErrInvalidLab, file, l.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("loading %s: %w", file, err)
		}
		return l, nil
	})
	if err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.Slice(labs, func(i, j int) bool {
		if labs[i].Order != labs[j].Order {
			return labs[i].Order < labs[j].Order
		}
		return labs[i].Name < labs[j].Name
	})
	return labs, nil
}

// Find returns the lab called name.
func Find(labs []*Lab, name string) (*Lab, error) {
	var names []string
	for _, l := range labs {
		if l.Name == name {
			return l, nil
		}
		names = append(names, l.Name)
	}
	return nil, fmt.Errorf("%w %q (labs: %s)", ErrUnknownLab, name, strings.Join(names, ", "))
}
