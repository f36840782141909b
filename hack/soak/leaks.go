package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
)

// item is one kernel object or file named ctrlab. keep marks objects meant
// to outlive a run (the bridge, its NAT rules, the bare ctrlab cgroup
// parent): they are checked only after `ctrlab net cleanup`.
type item struct {
	what string
	keep bool
}

// snapshot lists what hack/leftovers.sh checks (mounts, links, named netns,
// cgroups, firewall rules, processes), plus the store's container state
// directories and the network leases.
func snapshot(root string) map[string]item {
	m := map[string]item{}
	add := func(keep bool, f string, a ...any) {
		s := fmt.Sprintf(f, a...)
		m[s] = item{what: s, keep: keep}
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) > 4 && strings.Contains(l, "ctrlab") {
				add(false, "mount %s", f[4])
			}
		}
	}
	if links, err := netlink.LinkList(); err == nil {
		for _, l := range links {
			a := l.Attrs()
			if strings.HasPrefix(a.Name, "ctrlab") || strings.Contains(a.Alias, "ctrlab") {
				add(l.Type() == "bridge", "link %s (%s)", a.Name, l.Type())
			}
		}
	}
	if es, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range es {
			if strings.HasPrefix(e.Name(), "ctrlab") {
				add(false, "netns %s", e.Name())
			}
		}
	}
	hier, _ := filepath.Glob("/sys/fs/cgroup/*")
	hier = append(hier, "/sys/fs/cgroup")
	for _, h := range hier {
		for _, pat := range []string{h + "/ctrlab*", h + "/ctrlab/*", h + "/ctrlab*/*"} {
			ds, _ := filepath.Glob(pat)
			for _, d := range ds {
				if st, err := os.Stat(d); err != nil || !st.IsDir() {
					continue
				}
				add(filepath.Base(d) == "ctrlab", "cgroup %s", d)
			}
		}
	}
	counters := regexp.MustCompile(`\[\d+:\d+\]|packets \d+ bytes \d+|handle \d+`)
	for _, cmd := range [][]string{{"iptables-save"}, {"nft", "list", "ruleset"}} {
		out, err := exec.Command(cmd[0], cmd[1:]...).Output()
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(strings.ToLower(l), "ctrlab") {
				add(true, "rule %s", strings.TrimSpace(counters.ReplaceAllString(l, "")))
			}
		}
	}
	for _, f := range []string{filepath.Join(root, "net", "state.json"), "/var/lib/ctrlab/net/state.json"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var st struct {
			Leases      map[string]string `json:"leases"`
			Attachments map[string]any    `json:"attachments"`
		}
		if json.Unmarshal(b, &st) != nil {
			continue
		}
		for k, v := range st.Leases {
			add(false, "lease %s %s (%s)", f, k, v)
		}
		for k := range st.Attachments {
			add(false, "attachment %s %s", f, k)
		}
	}
	// container state: one directory per container, in ROOT/containers or
	// directly under ROOT (container.NewStore(CTRLAB_ROOT)); unpack temps
	for _, pat := range []string{root + "/containers/*", root + "/*/state.json", root + "/tmp/*"} {
		fs, _ := filepath.Glob(pat)
		for _, f := range fs {
			add(false, "state %s", strings.TrimSuffix(f, "/state.json"))
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		pid := filepath.Base(filepath.Dir(p))
		if pid == fmt.Sprint(os.Getpid()) {
			continue
		}
		cmd := strings.Join(argv, " ")
		ours := strings.HasPrefix(filepath.Base(argv[0]), "ctrlab-") ||
			(len(argv) == 2 && filepath.Base(argv[0]) == "sleep" && argv[1] == "3599")
		if !ours {
			if exe, err := os.Readlink("/proc/" + pid + "/exe"); err == nil && strings.HasSuffix(exe, "/ctrlab") {
				env, _ := os.ReadFile("/proc/" + pid + "/environ")
				ours = bytes.Contains(env, []byte("CTRLAB_ROOT="+root+"\x00"))
			}
		}
		if ours {
			add(false, "process %s %s", pid, cmd)
		}
	}
	return m
}

// newItems are the items of now not in base; all includes the kept ones.
func newItems(base, now map[string]item, all bool) []string {
	var out []string
	for k, it := range now {
		if _, ok := base[k]; ok || (it.keep && !all) {
			continue
		}
		out = append(out, it.what)
	}
	sort.Strings(out)
	return out
}

// persistent keeps only what is still there a moment later: an object of
// another user of the machine passing by is not a leak; a leak stays.
func persistent(base map[string]item, root string, all bool) []string {
	first := newItems(base, snapshot(root), all)
	if len(first) == 0 {
		return nil
	}
	time.Sleep(2 * time.Second)
	again := map[string]bool{}
	for _, s := range newItems(base, snapshot(root), all) {
		again[s] = true
	}
	var out []string
	for _, s := range first {
		if again[s] {
			out = append(out, s)
		}
	}
	return out
}

func diff(base map[string]item, root string) []string    { return persistent(base, root, false) }
func diffAll(base map[string]item, root string) []string { return persistent(base, root, true) }
