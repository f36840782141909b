package doctor

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

// fixture runs the checks against testdata/NAME with the given statfs
// answers (path -> magic) and a fixed machine.
func fixture(t *testing.T, name string, statfs map[string]int64, u Uname, goarch string, extra ...Option) *Report {
	t.Helper()
	dir := filepath.Join("testdata", name)
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	return runWith(os.DirFS(dir), statfs, u, goarch, extra...)
}

func runWith(fsys fs.FS, statfs map[string]int64, u Uname, goarch string, extra ...Option) *Report {
	opts := []Option{
		WithFS(fsys),
		WithStatfs(func(p string) (int64, error) {
			if m, ok := statfs[p]; ok {
				return m, nil
			}
			return 0, fs.ErrNotExist
		}),
		WithUname(func() (Uname, error) { return u, nil }),
		WithEuid(0),
		WithLookPath(func(s string) (string, error) { return "/usr/sbin/" + s, nil }),
		WithArch(goarch, ""),
	}
	return Run(append(opts, extra...)...)
}

func byName(r *Report) map[string]Check {
	m := map[string]Check{}
	for _, c := range r.Checks {
		m[c.Name] = c
	}
	return m
}

var (
	x86    = Uname{Machine: "x86_64", Release: "6.8.0-45-generic"}
	v1fs   = map[string]int64{"/sys/fs/cgroup": TmpfsMagic}
	hybfs  = map[string]int64{"/sys/fs/cgroup": TmpfsMagic, "/sys/fs/cgroup/unified": Cgroup2Magic}
	v2fs   = map[string]int64{"/sys/fs/cgroup": Cgroup2Magic}
	piName = "Raspberry Pi 4 Model B Rev 1.4"
)

func TestCgroupV1(t *testing.T) {
	r := fixture(t, "v1", v1fs, x86, "amd64")
	if r.CgroupMode != "v1" || r.Failed() {
		t.Fatalf("mode %q failed %v: %+v", r.CgroupMode, r.Failed(), r.Checks)
	}
	// hugetlb is enabled but not mounted; net_cls is both: only mounted+enabled count.
	want := []string{"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "net_cls", "pids"}
	if !reflect.DeepEqual(r.Controllers, want) {
		t.Errorf("controllers = %v, want %v", r.Controllers, want)
	}
	c := byName(r)
	if c["cgroup controllers"].Status != OK || c["user namespaces"].Status != OK {
		t.Errorf("checks: %+v", r.Checks)
	}
	if _, ok := c["raspberry pi memory cgroup"]; ok {
		t.Error("Pi row on a PC")
	}
}

func TestCgroupHybrid(t *testing.T) {
	r := fixture(t, "hybrid", hybfs, x86, "amd64")
	if r.CgroupMode != "hybrid" || !strings.Contains(byName(r)["cgroup mode"].Detail, "unified") {
		t.Fatalf("mode %q: %+v", r.CgroupMode, r.Checks)
	}
	if len(r.Controllers) != 9 {
		t.Errorf("controllers = %v", r.Controllers)
	}
	u := byName(r)["user namespaces"]
	if u.Status != Warn || !strings.Contains(u.Fix, "unprivileged_userns_clone=1") {
		t.Errorf("unprivileged_userns_clone=0 not reported: %+v", u)
	}
	if r.Failed() {
		t.Errorf("WARN rows must not fail the report: %+v", r.Checks)
	}
}

func TestCgroupV2(t *testing.T) {
	r := fixture(t, "v2", v2fs, x86, "amd64")
	if r.CgroupMode != "v2" || r.Failed() {
		t.Fatalf("mode %q: %+v", r.CgroupMode, r.Checks)
	}
	want := []string{"cpu", "cpuset", "hugetlb", "io", "memory", "misc", "pids", "rdma"}
	if !reflect.DeepEqual(r.Controllers, want) {
		t.Errorf("controllers = %v (must come from cgroup.controllers, not /proc/cgroups)", r.Controllers)
	}
	u := byName(r)["user namespaces"]
	if u.Status != Warn || !strings.Contains(u.Detail, "apparmor_restrict_unprivileged_userns") {
		t.Errorf("apparmor restriction not reported: %+v", u)
	}
}

func TestRaspberryPiWithoutMemory(t *testing.T) {
	pi := Uname{Machine: "aarch64", Release: "6.6.51+rpt-rpi-v8"}
	r := fixture(t, "pi", v2fs, pi, "arm64")
	c := byName(r)
	p, ok := c["raspberry pi memory cgroup"]
	if !ok || p.Status != Fail || !strings.Contains(p.Detail, piName) || !strings.Contains(p.Fix, "cgroup_enable=memory") {
		t.Fatalf("pi row = %+v", p)
	}
	if cc := c["cgroup controllers"]; cc.Status != Fail || !strings.Contains(cc.Detail, "missing memory") {
		t.Errorf("controllers row = %+v", cc)
	}
	if o := c["overlayfs"]; o.Status != OK || !strings.Contains(o.Detail, "overlay.ko.xz") {
		t.Errorf("overlay module not found: %+v", o)
	}
	if a := c["architecture"]; a.Status != OK || !strings.Contains(a.Detail, "arm64/v8") {
		t.Errorf("arch = %+v", a)
	}
	if !r.Failed() {
		t.Error("report with FAIL rows says not failed")
	}
}

func TestRaspberryPiWithMemoryFlag(t *testing.T) {
	fsys := fstest.MapFS{
		"proc/device-tree/model":            {Data: []byte(piName + "\x00")},
		"proc/cmdline":                      {Data: []byte("console=tty1 cgroup_enable=memory cgroup_memory=1 root=/dev/mmcblk0p2\n")},
		"sys/fs/cgroup/cgroup.controllers":  {Data: []byte("cpuset cpu io memory pids\n")},
		"proc/filesystems":                  {Data: []byte("nodev\toverlay\n")},
		"proc/self/ns/user":                 {},
		"proc/self/ns/time":                 {},
		"proc/sys/user/max_user_namespaces": {Data: []byte("15000\n")},
	}
	r := runWith(fsys, v2fs, Uname{Machine: "armv7l", Release: "6.6.51+rpt-rpi-v7l"}, "arm", WithArch("arm", "7"))
	c := byName(r)
	if p := c["raspberry pi memory cgroup"]; p.Status != OK {
		t.Errorf("pi row = %+v", p)
	}
	if a := c["architecture"]; a.Status != OK || !strings.Contains(a.Detail, "arm/v7 on a armv7l") {
		t.Errorf("arch = %+v", a)
	}
	if r.Failed() {
		t.Errorf("failed: %+v", r.Checks)
	}
}

func TestBrokenMachine(t *testing.T) {
	fsys := fstest.MapFS{
		"proc/filesystems":                  {Data: []byte("nodev\tsysfs\n\text4\n")},
		"proc/self/ns/user":                 {},
		"proc/sys/user/max_user_namespaces": {Data: []byte("0\n")},
	}
	old := Uname{Machine: "x86_64", Release: "4.4.0-210-generic"}
	r := runWith(fsys, map[string]int64{}, old, "amd64",
		WithEuid(1000),
		WithLookPath(func(string) (string, error) { return "", errors.New("not found") }))
	want := map[string]Status{
		"kernel version": Fail, "running as root": Warn, "cgroup mode": Fail,
		"cgroup controllers": Fail, "overlayfs": Fail, "user namespaces": Fail,
		"time namespace": Warn, "iptables / nft": Warn,
	}
	got := byName(r)
	for name, st := range want {
		if got[name].Status != st {
			t.Errorf("%s = %+v, want %s", name, got[name], st)
		}
		if st != OK && got[name].Fix == "" && name != "cgroup controllers" {
			t.Errorf("%s has no fix hint", name)
		}
	}
	if !r.Failed() {
		t.Error("not failed")
	}
}

func TestKernelVersion(t *testing.T) {
	for rel, want := range map[string][2]int{
		"6.18.44-fc-v1272": {6, 18}, "5.15.0-1034-raspi": {5, 15}, "4.19.0": {4, 19}, "6.6.51+rpt-rpi-v8": {6, 6},
	} {
		ma, mi, err := KernelVersion(rel)
		if err != nil || ma != want[0] || mi != want[1] {
			t.Errorf("KernelVersion(%q) = %d.%d, %v", rel, ma, mi, err)
		}
	}
	if _, _, err := KernelVersion("garbage"); err == nil {
		t.Error("accepted garbage")
	}
}

func TestArchVariants(t *testing.T) {
	for _, tt := range []struct {
		goarch, goarm, machine string
		want                   Status
	}{
		{"amd64", "", "x86_64", OK},
		{"arm64", "", "aarch64", OK},
		{"arm", "7", "armv7l", OK},
		{"arm", "7", "aarch64", OK},
		{"arm", "6", "armv6l", Warn},
		{"riscv64", "", "riscv64", Warn},
	} {
		e := env{goarch: tt.goarch, goarm: tt.goarm}
		if c := e.checkArch(Uname{Machine: tt.machine}, nil); c.Status != tt.want {
			t.Errorf("%s/%s on %s = %+v", tt.goarch, tt.goarm, tt.machine, c)
		}
	}
}

func TestLiveSystem(t *testing.T) {
	// The host's own answers: whatever they are, the cgroup mode must
	// agree with what statfs reports, and every row must have a verdict.
	r := Run()
	if len(r.Checks) < 9 {
		t.Fatalf("%d checks", len(r.Checks))
	}
	for _, c := range r.Checks {
		if c.Status != OK && c.Status != Warn && c.Status != Fail {
			t.Errorf("%s: status %q", c.Name, c.Status)
		}
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil && r.CgroupMode != "v2" {
		t.Errorf("cgroup.controllers at the top but mode %q", r.CgroupMode)
	}
	if _, err := os.Stat("/sys/fs/cgroup/unified/cgroup.controllers"); err == nil && r.CgroupMode != "hybrid" {
		t.Errorf("unified hierarchy present but mode %q", r.CgroupMode)
	}
}
