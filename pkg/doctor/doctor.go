package doctor

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/ctrlab/ctrlab/pkg/inspect"
)

// Status is a check's verdict.
type Status string

// The three verdicts. FAIL means some ctrlab steps cannot work here.
const (
	OK   Status = "OK"
	Warn Status = "WARN"
	Fail Status = "FAIL"
)

// Check is one prerequisite: what was found and, unless OK, how to fix it.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Report is the list of checks, in a fixed order.
type Report struct {
	Checks []Check `json:"checks"`
	// CgroupMode is v1, hybrid or v2 ("" when no cgroup filesystem was found).
	CgroupMode string `json:"cgroupMode"`
	// Controllers are the cgroup controllers a container can actually use.
	Controllers []string `json:"controllers"`
}

// Failed reports whether any check is FAIL.
func (r *Report) Failed() bool {
	for _, c := range r.Checks {
		if c.Status == Fail {
			return true
		}
	}
	return false
}

// Uname is the part of uname(2) the checks read.
type Uname struct {
	Machine string `json:"machine"` // x86_64, aarch64, armv7l
	Release string `json:"release"` // 6.8.0-45-generic
}

// Filesystem magic numbers (statfs(2) f_type), from linux/magic.h.
const (
	Cgroup2Magic int64 = 0x63677270
	CgroupMagic  int64 = 0x27e0eb
	TmpfsMagic   int64 = 0x01021994
)

// Option replaces one of the readers Run uses (for tests).
type Option func(*env)

type env struct {
	fsys     fs.FS // the machine's "/"; paths are "proc/cgroups" etc.
	statfs   func(path string) (int64, error)
	uname    func() (Uname, error)
	euid     func() int
	lookPath func(string) (string, error)
	goarch   string
	goarm    string
}

// WithFS reads /proc, /sys and /lib/modules from fsys instead of "/".
func WithFS(fsys fs.FS) Option { return func(e *env) { e.fsys = fsys } }

// WithStatfs replaces statfs(2): it returns the filesystem magic at path.
func WithStatfs(fn func(path string) (int64, error)) Option { return func(e *env) { e.statfs = fn } }

// WithUname replaces uname(2).
func WithUname(fn func() (Uname, error)) Option { return func(e *env) { e.uname = fn } }

// WithEuid sets the effective uid the root check sees.
func WithEuid(uid int) Option { return func(e *env) { e.euid = func() int { return uid } } }

// WithLookPath replaces exec.LookPath for the firewall-tool check.
func WithLookPath(fn func(string) (string, error)) Option { return func(e *env) { e.lookPath = fn } }

// WithArch sets the binary's GOARCH and GOARM the architecture check reports.
func WithArch(goarch, goarm string) Option {
	return func(e *env) { e.goarch, e.goarm = goarch, goarm }
}

// Run performs every check and returns the report. It never fails: a
// reader error becomes the detail of a WARN or FAIL row.
func Run(opts ...Option) *Report {
	e := hostEnv()
	for _, o := range opts {
		o(&e)
	}
	r := &Report{Controllers: []string{}}
	u, uerr := e.uname()
	r.add(e.checkArch(u, uerr))
	r.add(checkKernel(u, uerr))
	r.add(e.checkRoot())
	mode, modeCheck := e.checkCgroupMode()
	r.CgroupMode = mode
	r.add(modeCheck)
	ctl, ctlCheck := e.checkControllers(mode)
	r.Controllers = ctl
	r.add(ctlCheck)
	r.add(e.checkOverlay(u))
	r.add(e.checkUserNS())
	r.add(e.checkTimeNS())
	r.add(e.checkFirewall())
	if c, ok := e.checkPi(ctl); ok {
		r.add(c)
	}
	return r
}

func (r *Report) add(c Check) { r.Checks = append(r.Checks, c) }

func (e *env) read(name string) (string, error) {
	b, err := fs.ReadFile(e.fsys, name)
	return string(b), err
}

func (e *env) exists(name string) bool {
	_, err := fs.Stat(e.fsys, name)
	return err == nil
}

func (e *env) checkArch(u Uname, uerr error) Check {
	c := Check{Name: "architecture", Status: OK}
	bin := e.goarch
	if e.goarch == "arm" && e.goarm != "" {
		bin += "/v" + e.goarm
	}
	if uerr != nil {
		return Check{Name: c.Name, Status: Warn, Detail: fmt.Sprintf("binary %s; uname: %v", bin, uerr)}
	}
	c.Detail = fmt.Sprintf("binary %s on a %s kernel", bin, u.Machine)
	switch {
	case e.goarch == "amd64" && u.Machine == "x86_64":
	case e.goarch == "arm64" && u.Machine == "aarch64":
		c.Detail += " (arm64/v8)"
	case e.goarch == "arm" && (u.Machine == "aarch64" || u.Machine == "armv8l"):
		c.Detail += ": 32-bit userland on a 64-bit CPU"
	case e.goarch == "arm" && strings.HasPrefix(u.Machine, "armv7"):
	case e.goarch == "arm" && strings.HasPrefix(u.Machine, "armv6"):
		c.Status, c.Fix = Warn, "ARMv6 (Pi Zero/1) is not a tested target: rebuild with GOARM=6"
	default:
		c.Status = Warn
		c.Fix = "ctrlab is tested on linux/amd64, linux/arm64 and linux/arm/v7"
	}
	return c
}

// KernelVersion parses "6.8.0-45-generic" into 6, 8.
func KernelVersion(release string) (major, minor int, err error) {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return 0, 0, fmt.Errorf("parsing kernel release %q: want MAJOR.MINOR", release)
	}
	num := func(s string) (int, error) {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return strconv.Atoi(s[:i])
	}
	if major, err = num(parts[0]); err != nil {
		return 0, 0, fmt.Errorf("parsing kernel release %q: %w", release, err)
	}
	if minor, err = num(parts[1]); err != nil {
		return 0, 0, fmt.Errorf("parsing kernel release %q: %w", release, err)
	}
	return major, minor, nil
}

func atLeast(ma, mi, wantMa, wantMi int) bool { return ma > wantMa || ma == wantMa && mi >= wantMi }

func checkKernel(u Uname, uerr error) Check {
	c := Check{Name: "kernel version"}
	if uerr != nil {
		c.Status, c.Detail = Fail, fmt.Sprintf("uname: %v", uerr)
		return c
	}
	ma, mi, err := KernelVersion(u.Release)
	if err != nil {
		c.Status, c.Detail = Warn, err.Error()
		return c
	}
	c.Detail = u.Release
	switch {
	case !atLeast(ma, mi, 4, 6):
		c.Status = Fail
		c.Fix = "needs Linux 4.6 or newer (cgroup namespaces 4.6, overlayfs 3.18): upgrade the kernel"
	case !atLeast(ma, mi, 5, 6):
		c.Status = Warn
		c.Fix = "time namespaces need Linux 5.6, cgroup v2 features 5.x: upgrade for every lesson"
	default:
		c.Status = OK
	}
	return c
}

func (e *env) checkRoot() Check {
	if uid := e.euid(); uid != 0 {
		return Check{Name: "running as root", Status: Warn,
			Detail: fmt.Sprintf("uid %d", uid),
			Fix:    "most steps create kernel objects (namespaces, cgroups, mounts): run them with sudo"}
	}
	return Check{Name: "running as root", Status: OK, Detail: "uid 0"}
}

func (e *env) checkCgroupMode() (string, Check) {
	c := Check{Name: "cgroup mode", Status: OK}
	magic, err := e.statfs("/sys/fs/cgroup")
	switch {
	case err != nil:
		c.Status, c.Detail = Fail, fmt.Sprintf("statfs /sys/fs/cgroup: %v", err)
		c.Fix = "mount cgroup2 /sys/fs/cgroup: mount -t cgroup2 none /sys/fs/cgroup"
		return "", c
	case magic == Cgroup2Magic:
		c.Detail = "v2 (unified): /sys/fs/cgroup is cgroup2"
		return "v2", c
	case magic == TmpfsMagic:
		if m, err := e.statfs("/sys/fs/cgroup/unified"); err == nil && m == Cgroup2Magic {
			c.Detail = "hybrid: v1 controllers under /sys/fs/cgroup/*, an empty v2 tree at /sys/fs/cgroup/unified"
			return "hybrid", c
		}
		c.Detail = "v1 (legacy): one hierarchy per controller under /sys/fs/cgroup/*"
		return "v1", c
	}
	c.Status, c.Detail = Fail, fmt.Sprintf("/sys/fs/cgroup has filesystem type %#x, neither cgroup2 nor tmpfs", magic)
	c.Fix = "mount cgroup2 there: mount -t cgroup2 none /sys/fs/cgroup"
	return "", c
}

var (
	required = []string{"cpu", "memory", "pids"}
	wanted   = map[string][]string{"v2": {"io", "cpuset"}, "v1": {"blkio", "cpuset", "freezer", "devices"}}
)

func (e *env) checkControllers(mode string) ([]string, Check) {
	c := Check{Name: "cgroup controllers"}
	var have []string
	var err error
	switch mode {
	case "v2":
		have, err = e.v2Controllers()
	case "v1", "hybrid":
		have, err = e.v1Controllers()
	default:
		c.Status, c.Detail = Fail, "no cgroup filesystem"
		return []string{}, c
	}
	if err != nil {
		c.Status, c.Detail = Fail, err.Error()
		return []string{}, c
	}
	sort.Strings(have)
	set := map[string]bool{}
	for _, h := range have {
		set[h] = true
	}
	var missReq, missWant []string
	for _, r := range required {
		if !set[r] {
			missReq = append(missReq, r)
		}
	}
	w := wanted["v1"]
	if mode == "v2" {
		w = wanted["v2"]
	}
	for _, r := range w {
		if !set[r] {
			missWant = append(missWant, r)
		}
	}
	c.Detail = "usable: " + strings.Join(have, " ")
	if len(have) == 0 {
		c.Detail = "usable: none"
	}
	switch {
	case len(missReq) > 0:
		c.Status = Fail
		c.Detail += "; missing " + strings.Join(missReq, " ")
		c.Fix = "enable them at boot (e.g. cgroup_enable=memory on the kernel command line)"
		if mode != "v2" {
			c.Fix += " and mount each one: mount -t cgroup -o NAME cgroup /sys/fs/cgroup/NAME"
		}
	case len(missWant) > 0:
		c.Status = Warn
		c.Detail += "; missing " + strings.Join(missWant, " ")
		c.Fix = "the lessons on " + strings.Join(missWant, ", ") + " limits will be skipped"
	default:
		c.Status = OK
	}
	if have == nil {
		have = []string{}
	}
	return have, c
}

// v2Controllers reads the root cgroup's cgroup.controllers.
func (e *env) v2Controllers() ([]string, error) {
	s, err := e.read("sys/fs/cgroup/cgroup.controllers")
	if err != nil {
		return nil, fmt.Errorf("reading /sys/fs/cgroup/cgroup.controllers: %w", err)
	}
	return strings.Fields(s), nil
}

// v1Controllers lists controllers that are enabled in /proc/cgroups and
// mounted as a v1 hierarchy (per /proc/self/mountinfo).
func (e *env) v1Controllers() ([]string, error) {
	s, err := e.read("proc/cgroups")
	if err != nil {
		return nil, fmt.Errorf("reading /proc/cgroups: %w", err)
	}
	enabled := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || strings.HasPrefix(f[0], "#") {
			continue
		}
		enabled[f[0]] = f[3] == "1"
	}
	f, err := e.fsys.Open("proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("reading /proc/self/mountinfo: %w", err)
	}
	defer f.Close()
	mounts, err := inspect.ParseMountinfo(f)
	if err != nil {
		return nil, err
	}
	mounted := map[string]bool{}
	for _, m := range mounts {
		if m.FSType != "cgroup" {
			continue
		}
		for _, o := range strings.Split(m.SuperOptions, ",") {
			mounted[o] = true
		}
	}
	out := []string{}
	for name, on := range enabled {
		if on && mounted[name] {
			out = append(out, name)
		}
	}
	return out, nil
}

func (e *env) checkOverlay(u Uname) Check {
	c := Check{Name: "overlayfs"}
	if s, err := e.read("proc/filesystems"); err == nil {
		for _, l := range strings.Split(s, "\n") {
			f := strings.Fields(l)
			if len(f) > 0 && f[len(f)-1] == "overlay" {
				c.Status, c.Detail = OK, "overlay is in /proc/filesystems"
				return c
			}
		}
	}
	dir := path.Join("lib/modules", u.Release)
	if u.Release != "" {
		if b, err := e.read(path.Join(dir, "modules.builtin")); err == nil && strings.Contains(b, "/overlay.ko") {
			c.Status, c.Detail = OK, "built into the kernel"
			return c
		}
		for _, ext := range []string{"", ".xz", ".zst", ".gz"} {
			p := path.Join(dir, "kernel/fs/overlayfs/overlay.ko"+ext)
			if e.exists(p) {
				c.Status, c.Detail = OK, "module /"+p+" not loaded yet; the first overlay mount loads it"
				c.Fix = "or load it now: modprobe overlay"
				return c
			}
		}
	}
	c.Status, c.Detail = Fail, "no overlay in /proc/filesystems and no overlay module for "+u.Release
	c.Fix = "install the kernel's extra modules (e.g. linux-modules-extra-$(uname -r)) or build with CONFIG_OVERLAY_FS"
	return c
}

func (e *env) sysctl(name string) (int, bool) {
	s, err := e.read("proc/sys/" + strings.ReplaceAll(name, ".", "/"))
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	return n, err == nil
}

func (e *env) checkUserNS() Check {
	c := Check{Name: "user namespaces"}
	if !e.exists("proc/self/ns/user") {
		c.Status, c.Detail = Fail, "no /proc/self/ns/user: kernel built without CONFIG_USER_NS"
		c.Fix = "use a kernel with CONFIG_USER_NS=y"
		return c
	}
	max, ok := e.sysctl("user.max_user_namespaces")
	if ok && max == 0 {
		c.Status, c.Detail = Fail, "user.max_user_namespaces = 0"
		c.Fix = "sysctl -w user.max_user_namespaces=15000"
		return c
	}
	c.Status, c.Detail = OK, "allowed"
	if ok {
		c.Detail = fmt.Sprintf("user.max_user_namespaces = %d", max)
	}
	if v, ok := e.sysctl("kernel.unprivileged_userns_clone"); ok && v == 0 {
		c.Status = Warn
		c.Detail += "; kernel.unprivileged_userns_clone = 0 (root only)"
		c.Fix = "for rootless lessons: sysctl -w kernel.unprivileged_userns_clone=1"
	}
	if v, ok := e.sysctl("kernel.apparmor_restrict_unprivileged_userns"); ok && v == 1 {
		c.Status = Warn
		c.Detail += "; kernel.apparmor_restrict_unprivileged_userns = 1 (AppArmor denies them to unconfined users)"
		fix := "for rootless lessons: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"
		if c.Fix != "" {
			fix = c.Fix + "; " + strings.TrimPrefix(fix, "for rootless lessons: ")
		}
		c.Fix = fix
	}
	return c
}

func (e *env) checkTimeNS() Check {
	if e.exists("proc/self/ns/time") {
		return Check{Name: "time namespace", Status: OK, Detail: "/proc/self/ns/time exists"}
	}
	return Check{Name: "time namespace", Status: Warn, Detail: "no /proc/self/ns/time",
		Fix: "time namespaces need Linux 5.6+ with CONFIG_TIME_NS; `ctrlab unshare time` is unavailable"}
}

func (e *env) checkFirewall() Check {
	var found, missing []string
	for _, tool := range []string{"iptables", "nft"} {
		if p, err := e.lookPath(tool); err == nil {
			found = append(found, p)
		} else {
			missing = append(missing, tool)
		}
	}
	c := Check{Name: "iptables / nft", Status: OK, Detail: strings.Join(found, ", ")}
	if len(found) == 0 {
		c.Status, c.Detail = Warn, "neither iptables nor nft in PATH"
		c.Fix = "the network lessons need NAT for outbound traffic: apt-get install iptables (or nftables)"
	} else if len(missing) > 0 {
		c.Detail += " (no " + strings.Join(missing, ", ") + ")"
	}
	return c
}

// checkPi reports on the memory-cgroup boot flag, only on a Raspberry Pi.
func (e *env) checkPi(controllers []string) (Check, bool) {
	model, err := e.read("proc/device-tree/model")
	if err != nil || !strings.Contains(model, "Raspberry Pi") {
		return Check{}, false
	}
	model = strings.TrimRight(model, "\x00\n")
	c := Check{Name: "raspberry pi memory cgroup"}
	cmdline, err := e.read("proc/cmdline")
	if err != nil {
		c.Status, c.Detail = Warn, fmt.Sprintf("%s; reading /proc/cmdline: %v", model, err)
		return c, true
	}
	memory := false
	for _, ctl := range controllers {
		memory = memory || ctl == "memory"
	}
	flag := false
	for _, f := range strings.Fields(cmdline) {
		flag = flag || f == "cgroup_enable=memory"
	}
	switch {
	case flag:
		c.Status, c.Detail = OK, model+": cgroup_enable=memory is on the kernel command line"
	case memory:
		c.Status, c.Detail = OK, model+": no cgroup_enable=memory, but the memory controller is usable"
	default:
		c.Status, c.Detail = Fail, model+": cgroup_enable=memory missing from /proc/cmdline (the memory controller is off)"
		c.Fix = "append `cgroup_enable=memory cgroup_memory=1` to the single line of /boot/firmware/cmdline.txt " +
			"(/boot/cmdline.txt before Bookworm), then reboot"
	}
	return c, true
}

// errNoStatfs is what a reader stub returns where the OS has no statfs.
var errNoStatfs = errors.New("statfs is not available on this OS")
