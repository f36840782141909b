package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/ctrlab/ctrlab/pkg/container"
	"github.com/ctrlab/ctrlab/pkg/testutil"
)

// env is one test's world: a store root, a network namespace standing in
// for the host, a bridge name and subnet of its own.
type env struct {
	t      *testing.T
	root   string
	ns     netns.NsHandle
	nsPath string
	bridge string
	subnet string
	cgBase map[string]bool // ctrlab-<id> cgroups that existed before the test
}

func newEnv(t *testing.T) *env {
	t.Helper()
	testutil.RequireRoot(t)
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	h := testutil.NewNetNS(t)
	b := make([]byte, 1)
	_, _ = rand.Read(b)
	e := &env{
		t: t, root: t.TempDir(), ns: h,
		nsPath: fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), int(h)),
		bridge: testutil.Name("br"),
		subnet: fmt.Sprintf("10.213.%d.0/24", b[0]),
		cgBase: containerCgroups(),
	}
	if out, err := exec.Command("nsenter", "--net="+e.nsPath, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up in the test netns: %v %s", err, out)
	}
	t.Cleanup(e.removeAll)
	return e
}

// needBusybox loads the busybox test image into the env's store.
func (e *env) needBusybox() {
	e.t.Helper()
	if busyboxOCI == "" {
		e.t.Skipf("no busybox test image: %s", busyboxSkip)
	}
	e.mustRun("load", busyboxOCI)
}

// needFirewall skips a test that uses bridge networking (the default, or
// -p) where neither iptables nor nft is installed, as in the busybox test
// VMs (hack/cgroup2-vm): ctrlab's NAT and published ports need one of them.
func (e *env) needFirewall() {
	e.t.Helper()
	for _, n := range []string{"iptables", "nft"} {
		if _, err := exec.LookPath(n); err == nil {
			return
		}
	}
	e.t.Skip("bridge networking needs iptables or nft, neither is in PATH (the busybox test VM has none)")
}

func (e *env) command(ctx context.Context, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + e.nsPath, ctrlabBin}, args...)...)
	c.Env = append(os.Environ(), "CTRLAB_ROOT="+e.root, "CTRLAB_BRIDGE="+e.bridge, "CTRLAB_SUBNET="+e.subnet)
	c.WaitDelay = 5 * time.Second
	return c
}

// run runs ctrlab and returns stdout, stderr and the exit code.
func (e *env) run(args ...string) (string, string, int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	c := e.command(ctx, args...)
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	} else if err != nil {
		e.t.Fatalf("ctrlab %q: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func (e *env) mustRun(args ...string) string {
	e.t.Helper()
	out, errs, code := e.run(args...)
	if code != 0 {
		e.t.Fatalf("ctrlab %q: exit %d\nstdout: %s\nstderr: %s", args, code, out, errs)
	}
	return out
}

// start starts ctrlab in the background (for foreground runs the test signals).
func (e *env) start(args ...string) (*exec.Cmd, *bytes.Buffer) {
	e.t.Helper()
	var out bytes.Buffer
	c := e.command(context.Background(), args...)
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	return c, &out
}

func (e *env) list() []container.State {
	e.t.Helper()
	var all []container.State
	if err := json.Unmarshal([]byte(e.mustRun("ps", "-a", "--json")), &all); err != nil {
		e.t.Fatalf("ps --json: %v", err)
	}
	return all
}

// waitRunning polls ps until name is running and returns its state.
func (e *env) waitRunning(name string) container.State {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		for _, st := range e.list() {
			if st.Name == name && st.Status == container.Running && st.Pid > 0 {
				return st
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("container %s did not reach running in 60s: %+v", name, e.list())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// poll calls fn until it returns nil or 60 s pass.
func poll(t *testing.T, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after 60s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *env) removeAll() {
	out, _, code := e.run("ps", "-a", "--json")
	if code != 0 {
		return
	}
	var all []container.State
	_ = json.Unmarshal([]byte(out), &all)
	for _, st := range all {
		if _, errs, code := e.run("rm", "-f", st.ID); code != 0 {
			e.t.Errorf("cleanup: rm -f %s: %s", st.Name, errs)
		}
	}
}

var ctrCgroupRe = regexp.MustCompile(`^ctrlab-[0-9a-f]{12}$`)

// containerCgroups lists the ctrlab-<id> container cgroups on the machine.
func containerCgroups() map[string]bool {
	out := map[string]bool{}
	for _, pat := range []string{"/sys/fs/cgroup/*/ctrlab/ctrlab-*", "/sys/fs/cgroup/ctrlab/ctrlab-*"} {
		m, _ := filepath.Glob(pat)
		for _, p := range m {
			if ctrCgroupRe.MatchString(filepath.Base(p)) {
				out[p] = true
			}
		}
	}
	return out
}

// leftovers lists every kernel object or file of this env's containers
// still present: mounts under the root, container cgroups that appeared
// during the test, veths and port rules in the test netns, leases and
// attachments, container state dirs.
func (e *env) leftovers() []string {
	e.t.Helper()
	var left []string
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mi), "\n") {
		if strings.Contains(l, e.root) {
			left = append(left, "mount: "+l)
		}
	}
	for p := range containerCgroups() {
		if !e.cgBase[p] {
			left = append(left, "cgroup: "+p)
		}
	}
	links, _ := exec.Command("nsenter", "--net="+e.nsPath, "ip", "-o", "link").Output()
	for _, l := range strings.Split(string(links), "\n") {
		if strings.Contains(l, "ctrlabv") || strings.Contains(l, "ctrlabp") {
			left = append(left, "link: "+l)
		}
	}
	rules, _ := exec.Command("nsenter", "--net="+e.nsPath, "iptables-save").Output()
	for _, l := range strings.Split(string(rules), "\n") {
		if strings.Contains(l, "ctrlab:dnat") || strings.Contains(l, "ctrlab:hairpin") {
			left = append(left, "rule: "+l)
		}
	}
	if b, err := os.ReadFile(filepath.Join(e.root, "net", "state.json")); err == nil {
		var st struct {
			Leases      map[string]string          `json:"leases"`
			Attachments map[string]json.RawMessage `json:"attachments"`
		}
		if err := json.Unmarshal(b, &st); err != nil {
			left = append(left, "net state unreadable: "+err.Error())
		}
		for k, v := range st.Leases {
			left = append(left, "lease: "+k+" "+v)
		}
		for k := range st.Attachments {
			left = append(left, "attachment: "+k)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(e.root, "containers"))
	for _, d := range ents {
		if d.IsDir() {
			left = append(left, "state dir: "+d.Name())
		}
	}
	sort.Strings(left)
	return left
}

func (e *env) assertNoLeftovers() {
	e.t.Helper()
	if left := e.leftovers(); len(left) > 0 {
		e.t.Errorf("leftovers:\n%s", strings.Join(left, "\n"))
	}
}

func nsLink(pid int, kind string) string {
	l, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, kind))
	return l
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return strings.TrimSpace(string(b))
}

func execIn(nsPath string, args ...string) (string, error) {
	out, err := exec.Command("nsenter", append([]string{"--net=" + nsPath}, args...)...).CombinedOutput()
	return string(out), err
}
