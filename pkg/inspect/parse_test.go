package inspect

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func open(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestParseMountinfoPropagationAndEscapes(t *testing.T) {
	m, err := ParseMountinfo(open(t, "mountinfo.propagation"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 5 {
		t.Fatalf("got %d mounts, want 5", len(m))
	}
	want := Mount{
		ID: 36, ParentID: 35, MajorMinor: "98:0", Major: 98, Minor: 0, Root: "/mnt1",
		MountPoint: "/mnt2", Options: "rw,noatime", Optional: []string{"master:1"},
		Propagation: "slave", FSType: "ext3", Source: "/dev/root", SuperOptions: "rw,errors=continue",
	}
	if !reflect.DeepEqual(m[1], want) {
		t.Errorf("proc(5) example:\n got %+v\nwant %+v", m[1], want)
	}
	props := []string{"shared", "slave", "shared,slave", "unbindable", "shared"}
	for i, p := range props {
		if m[i].Propagation != p {
			t.Errorf("mount %d propagation = %q, want %q", m[i].ID, m[i].Propagation, p)
		}
	}
	if m[2].MountPoint != "/mnt/my disk" || m[2].Source != "tmp\tfs" {
		t.Errorf("escapes not undone: mountpoint %q source %q", m[2].MountPoint, m[2].Source)
	}
	if m[3].Root != `/a\b` || len(m[3].Optional) != 1 {
		t.Errorf("backslash escape: root %q optional %v", m[3].Root, m[3].Optional)
	}
	if m[3].SuperOptions != "rw,lowerdir=/l,upperdir=/u,workdir=/w" {
		t.Errorf("super options = %q", m[3].SuperOptions)
	}
}

func TestParseMountinfoHostFixture(t *testing.T) {
	m, err := ParseMountinfo(open(t, "mountinfo.host"))
	if err != nil {
		t.Fatal(err)
	}
	byPoint := map[string]Mount{}
	for _, x := range m {
		byPoint[x.MountPoint] = x
	}
	if p := byPoint["/proc"]; p.FSType != "proc" || p.Propagation != "private" || len(p.Optional) != 0 {
		t.Errorf("/proc = %+v", p)
	}
	if c := byPoint["/sys/fs/cgroup/memory"]; c.FSType != "cgroup" || c.SuperOptions != "rw,memory" {
		t.Errorf("/sys/fs/cgroup/memory = %+v", c)
	}
	if u := byPoint["/sys/fs/cgroup/unified"]; u.FSType != "cgroup2" {
		t.Errorf("/sys/fs/cgroup/unified = %+v", u)
	}
}

func TestParseMountinfoRejectsGarbage(t *testing.T) {
	for _, bad := range []string{
		"1 2 3",
		"x 1 0:1 / / rw - tmpfs t rw",
		"1 1 01 / / rw - tmpfs t rw",
		"1 1 0:1 / / rw shared:1 tmpfs t rw", // no separator
	} {
		if _, err := ParseMountinfo(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseMountinfo(%q) accepted garbage", bad)
		}
	}
}

func TestParseCgroups(t *testing.T) {
	tests := []struct {
		file     string
		n        int
		first    Cgroup
		versions map[int]int
		lastPath string
	}{
		{"cgroup.v2", 1, Cgroup{0, []string{}, "/user.slice/user-1000.slice/session-2.scope", 2}, map[int]int{2: 1}, "/user.slice/user-1000.slice/session-2.scope"},
		{"cgroup.v1", 4, Cgroup{12, []string{"cpuset"}, "/docker/abc", 1}, map[int]int{1: 4}, "/docker/abc"},
		{"cgroup.hybrid", 10, Cgroup{9, []string{"name=systemd"}, "/", 1}, map[int]int{1: 9, 2: 1}, "/"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cg, err := ParseCgroups(open(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(cg) != tt.n {
				t.Fatalf("got %d lines, want %d: %+v", len(cg), tt.n, cg)
			}
			if !reflect.DeepEqual(cg[0], tt.first) {
				t.Errorf("first = %+v, want %+v", cg[0], tt.first)
			}
			got := map[int]int{}
			for _, c := range cg {
				got[c.Version]++
			}
			if !reflect.DeepEqual(got, tt.versions) {
				t.Errorf("versions = %v, want %v", got, tt.versions)
			}
			if cg[len(cg)-1].Path != tt.lastPath {
				t.Errorf("last path = %q", cg[len(cg)-1].Path)
			}
		})
	}
	cg, err := ParseCgroups(strings.NewReader("11:cpu,cpuacct:/a:b\n"))
	if err != nil || !reflect.DeepEqual(cg[0].Controllers, []string{"cpu", "cpuacct"}) || cg[0].Path != "/a:b" {
		t.Errorf("comounted controllers / colon in path: %+v, %v", cg, err)
	}
	if _, err := ParseCgroups(strings.NewReader("nonsense\n")); err == nil {
		t.Error("accepted a line without colons")
	}
}

func TestDecodeCaps(t *testing.T) {
	// Docker's default set.
	got := DecodeCaps(0xa80425fb)
	want := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW",
		"CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DecodeCaps(0xa80425fb) =\n %v\nwant\n %v", got, want)
	}
	all := DecodeCaps(0x1ffffffffff)
	if len(all) != 41 || all[40] != "CAP_CHECKPOINT_RESTORE" || all[21] != "CAP_SYS_ADMIN" {
		t.Errorf("DecodeCaps(all 41) = %d names, last %q", len(all), all[len(all)-1])
	}
	if AllCaps != 0x1ffffffffff {
		t.Errorf("AllCaps = %#x", AllCaps)
	}
	if n := DecodeCaps(1 << 42); len(n) != 1 || n[0] != "CAP_42" {
		t.Errorf("unknown bit decoded as %v", n)
	}
	if n := DecodeCaps(0); n == nil || len(n) != 0 {
		t.Errorf("DecodeCaps(0) = %#v, want empty non-nil", n)
	}
}

func TestParseStatus(t *testing.T) {
	st, err := ParseStatus(open(t, "status.container"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "sh" || !reflect.DeepEqual(st.NSPids, []int{4242, 1}) {
		t.Errorf("name/nspid = %q %v", st.Name, st.NSPids)
	}
	if st.UIDs != [4]int{1000, 0, 0, 0} || !reflect.DeepEqual(st.Groups, []int{10, 1000}) {
		t.Errorf("uids %v groups %v", st.UIDs, st.Groups)
	}
	if !st.NoNewPrivs || st.Seccomp != "filter" || st.SeccompFilters != 1 {
		t.Errorf("nnp %v seccomp %q filters %d", st.NoNewPrivs, st.Seccomp, st.SeccompFilters)
	}
	c := st.Capabilities
	if c.Effective.Hex != "00000000a80425fb" || len(c.Effective.Names) != 14 || len(c.Ambient.Names) != 0 {
		t.Errorf("effective %+v ambient %+v", c.Effective, c.Ambient)
	}

	root, err := ParseStatus(open(t, "status.root"))
	if err != nil {
		t.Fatal(err)
	}
	if root.NoNewPrivs || root.Seccomp != "disabled" || len(root.Groups) != 0 {
		t.Errorf("root status: nnp %v seccomp %q groups %v", root.NoNewPrivs, root.Seccomp, root.Groups)
	}
	// This fixture's bounding set lacks CAP_SYS_RESOURCE (bit 24).
	for _, n := range root.Capabilities.Bounding.Names {
		if n == "CAP_SYS_RESOURCE" {
			t.Error("decoded CAP_SYS_RESOURCE from 000001fffeffffff")
		}
	}
	if len(root.Capabilities.Bounding.Names) != 40 {
		t.Errorf("bounding has %d names, want 40", len(root.Capabilities.Bounding.Names))
	}
	if _, err := ParseStatus(strings.NewReader("Uid:\t0 0\n")); err == nil {
		t.Error("accepted a Uid line with two fields")
	}
}

func TestParseIDMap(t *testing.T) {
	h, err := ParseIDMap(open(t, "uid_map.host"))
	if err != nil || len(h) != 1 || h[0] != (IDMap{0, 0, 4294967295}) {
		t.Fatalf("host map = %v, %v", h, err)
	}
	u, err := ParseIDMap(open(t, "uid_map.userns"))
	if err != nil || len(u) != 2 || u[1] != (IDMap{1, 100000, 65536}) || u[0].String() != "0 1000 1" {
		t.Fatalf("userns map = %v, %v", u, err)
	}
	if _, err := ParseIDMap(strings.NewReader("0 0\n")); err == nil {
		t.Error("accepted a 2-field line")
	}
}

func TestCheckPID(t *testing.T) {
	for _, ok := range []string{"self", "1", "4242"} {
		if err := CheckPID(ok); err != nil {
			t.Errorf("CheckPID(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "0", "-1", "abc", "1x", "../1"} {
		if err := CheckPID(bad); err == nil {
			t.Errorf("CheckPID(%q) accepted", bad)
		}
	}
}
