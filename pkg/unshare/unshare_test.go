package unshare

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ctrlab/ctrlab/pkg/ns"
)

func TestNormalizeAddsMountForPID(t *testing.T) {
	all, implied := Normalize([]ns.Kind{ns.UTS, ns.PID})
	if got := kindNames(all); got != "mount pid uts" {
		t.Fatalf("Normalize = %q, want %q", got, "mount pid uts")
	}
	if len(implied) != 1 || implied[0] != ns.Mount {
		t.Fatalf("implied = %v, want [mount]", implied)
	}
	if _, implied := Normalize([]ns.Kind{ns.Mount, ns.PID}); len(implied) != 0 {
		t.Fatalf("implied = %v when mount was asked for", implied)
	}
}

func TestEquivalent(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Kinds: []ns.Kind{ns.PID}, Args: []string{"ps"}}, "unshare --mount --pid --fork --mount-proc ps"},
		{Config{Kinds: []ns.Kind{ns.UTS}, Hostname: "box", Args: []string{"hostname"}},
			"unshare --uts sh -c 'hostname box && exec hostname'"},
		{Config{Kinds: []ns.Kind{ns.Time}, BoottimeOffset: 2 * time.Hour, Args: []string{"cat", "/proc/uptime"}},
			"unshare --time --monotonic 0 --boottime 7200 cat /proc/uptime"},
		{Config{Kinds: []ns.Kind{ns.User}, Args: []string{"sh", "-c", "id; echo it's"}},
			`unshare --user --map-root-user sh -c 'id; echo it'\''s'`},
	} {
		if got := Equivalent(tc.cfg); got != tc.want {
			t.Errorf("Equivalent(%v)\n got %s\nwant %s", tc.cfg.Kinds, got, tc.want)
		}
	}
}

func TestCgroupPairPicksDifferingHierarchy(t *testing.T) {
	host := []string{"9:name=systemd:/", "8:pids:/ctrlabcg1", "0::/"}
	inside := []string{"9:name=systemd:/", "8:pids:/", "0::/"}
	name, before, after := cgroupPair(host, inside)
	if name != "pids" || before != "/ctrlabcg1" || after != "/" {
		t.Fatalf("cgroupPair = %q %q %q", name, before, after)
	}
	name, before, after = cgroupPair([]string{"0::/user.slice/x.scope"}, []string{"0::/"})
	if name != "0::" || before != "/user.slice/x.scope" || after != "/" {
		t.Fatalf("cgroupPair v2 = %q %q %q", name, before, after)
	}
}

func TestBuildReportMarksChangedRows(t *testing.T) {
	r := &Result{
		Kinds:   []ns.Kind{ns.UTS},
		Command: []string{"true"},
		Host:    View{Inodes: map[ns.Kind]uint64{ns.UTS: 1, ns.Net: 2}, Hostname: "vm"},
		Inside:  View{Hostname: "box"},
		Outside: Outside{Inodes: map[ns.Kind]uint64{ns.UTS: 9, ns.Net: 2}, HostnameAfter: "vm"},
	}
	rep := buildReport(r)
	changed := map[string]bool{}
	for _, row := range rep.Rows {
		changed[row.Item] = row.Changed
	}
	if !changed["uts namespace"] || changed["net namespace"] || !changed["uts: hostname"] {
		t.Fatalf("changed = %v", changed)
	}
	if !strings.Contains(strings.Join(rep.Notes, "\n"), "kept by the host: net") {
		t.Fatalf("notes = %q", rep.Notes)
	}
}

func TestSecNsec(t *testing.T) {
	if got := secNsec(-1500 * time.Millisecond); got != "-2 500000000" {
		t.Fatalf("secNsec(-1.5s) = %q", got)
	}
	if got := secNsec(90 * time.Second); got != "90 0" {
		t.Fatalf("secNsec(90s) = %q", got)
	}
}

func TestFeatureErrorNamesVersion(t *testing.T) {
	err := error(&FeatureError{Feature: "time namespaces (CLONE_NEWTIME)", Kernel: "5.6", Running: "5.4.0", Detail: "/proc/self/ns/time is missing"})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "needs Linux 5.6 or newer, running 5.4.0") {
		t.Fatalf("err = %v", err)
	}
}
