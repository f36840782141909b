package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctrlab/ctrlab/pkg/container"
	"github.com/ctrlab/ctrlab/pkg/netsetup"
)

// TestRunSelf runs the default image (ctrlab/self, built from the binary):
// no registry, no busybox.
func TestRunSelf(t *testing.T) {
	e := newEnv(t)
	e.needFirewall()
	out, errs, code := e.run("run", "--rm", "--json-self-test-unknown-flag")
	if code != 2 {
		t.Errorf("an unknown flag: exit %d, want 2 (%s%s)", code, out, errs)
	}
	out = e.mustRun("run", "--rm", "--entrypoint", "/ctrlab", "ctrlab/self", "inspect", "self", "--json")
	for _, want := range []string{`"pid": 1`, `"noNewPrivs": true`} {
		if !strings.Contains(strings.ReplaceAll(out, " ", ""), strings.ReplaceAll(want, " ", "")) {
			t.Errorf("ctrlab/self inspect self --json lacks %s:\n%.2000s", want, out)
		}
	}
	e.assertNoLeftovers()
}

// TestRunKernelView asserts, from inside a busybox container and from the
// host, what runc would give: PID 1, new namespaces, overlay rootfs,
// default caps, NoNewPrivs, masked and read-only paths, image config.
func TestRunKernelView(t *testing.T) {
	e := newEnv(t)
	e.needBusybox()
	script := `echo pid=$$; for n in mnt pid net ipc uts cgroup; do echo ns:$n=$(readlink /proc/self/ns/$n); done
grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/self/status
awk '$5 == "/" {print "rootmount=" $0}' /proc/self/mountinfo
echo kcore=$(cat /proc/kcore | wc -c) keys=$(cat /proc/keys | wc -c) firmware=$(ls -A /sys/firmware | wc -l)
echo x > /proc/sys/kernel/domainname 2>/dev/null && echo procsys=writable || echo procsys=readonly
echo pwd=$(pwd) env=$E2E_IMAGE_ENV user=$(id -u) host=$(hostname)
touch /upper-marker && echo wrote-upper`
	out := e.mustRun("run", "--rm", "--network", "none", "--hostname", "e2ehost", BusyboxRef, "sh", "-c", script)
	kv := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		for _, f := range strings.Fields(l) {
			if k, v, ok := strings.Cut(f, "="); ok {
				kv[k] = v
			}
		}
		if k, v, ok := strings.Cut(l, ":"); ok {
			kv[k] = strings.TrimSpace(v)
		}
	}
	checks := map[string]string{
		"pid": "1", "CapEff": "00000000a80425fb", "CapBnd": "00000000a80425fb", "NoNewPrivs": "1",
		"kcore": "0", "keys": "0", "firmware": "0", "procsys": "readonly",
		"pwd": "/tmp", "env": "from-image", "user": "0", "host": "e2ehost",
	}
	for k, want := range checks {
		if kv[k] != want {
			t.Errorf("%s = %q, want %q\noutput:\n%s", k, kv[k], want, out)
		}
	}
	for _, n := range []string{"mnt", "pid", "net", "ipc", "uts", "cgroup"} {
		in := kv["ns:"+n]
		if in == "" || in == nsLink(os.Getpid(), n) {
			t.Errorf("namespace %s inside %q: want a new one (host %q)", n, in, nsLink(os.Getpid(), n))
		}
	}
	root := kv["rootmount"]
	if !strings.Contains(out, " - overlay overlay ") || !strings.Contains(out, "upperdir="+filepath.Join(e.root, "containers")) {
		t.Errorf("/ inside is not the overlay with an upper under the store root %s: %q\n%s", e.root, root, out)
	}
	if !strings.Contains(out, "wrote-upper") {
		t.Errorf("rootfs not writable: %s", out)
	}
	e.assertNoLeftovers()
	// The layer itself must be untouched by the container's write.
	m, _ := filepath.Glob(filepath.Join(e.root, "layers", "sha256", "*", "upper-marker"))
	if len(m) > 0 {
		t.Errorf("a container's write reached a shared layer: %v", m)
	}
}

func cgFile(id, controller, file string) string {
	v2 := filepath.Join("/sys/fs/cgroup/ctrlab", "ctrlab-"+id, file)
	if _, err := os.Stat(filepath.Dir(v2)); err == nil {
		return v2
	}
	return filepath.Join("/sys/fs/cgroup", controller, "ctrlab", "ctrlab-"+id, file)
}

// TestRunLimits: the limits are in the container's cgroup (read from the
// host), its PID 1 is in it, and the kernel enforces them: forks beyond
// pids.max are refused, a process beyond the memory limit is OOM-killed.
func TestRunLimits(t *testing.T) {
	e := newEnv(t)
	e.needBusybox()
	name := "lim" + fmt.Sprint(rand.IntN(1e6))
	script := `sh -c 'x=$(head -c 100000000 /dev/zero | tr "\0" a); echo survived'; echo child=$?
(for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 1000 & done) 2>/dev/null; echo forks-done; exec sleep 1000`
	e.mustRun("run", "-d", "--name", name, "--network", "none", "-m", "32m", "--pids-limit", "8", "--cpus", "0.5",
		BusyboxRef, "sh", "-c", script)
	st := e.waitRunning(name)
	procs := readTrim(t, cgFile(st.ID, "pids", "cgroup.procs"))
	if !strings.Contains("\n"+procs+"\n", fmt.Sprintf("\n%d\n", st.Pid)) {
		t.Errorf("PID 1 (host %d) is not in its cgroup: cgroup.procs = %q", st.Pid, procs)
	}
	if got := readTrim(t, cgFile(st.ID, "pids", "pids.max")); got != "8" {
		t.Errorf("pids.max = %q, want 8", got)
	}
	mem := cgFile(st.ID, "memory", "memory.limit_in_bytes")
	if strings.HasPrefix(mem, "/sys/fs/cgroup/ctrlab") {
		mem = cgFile(st.ID, "memory", "memory.max")
	}
	if got := readTrim(t, mem); got != fmt.Sprint(32<<20) {
		t.Errorf("%s = %q, want %d", mem, got, 32<<20)
	}
	cpu := cgFile(st.ID, "cpu", "cpu.cfs_quota_us")
	if strings.HasPrefix(cpu, "/sys/fs/cgroup/ctrlab") {
		cpu = cgFile(st.ID, "cpu", "cpu.max")
	}
	if got := readTrim(t, cpu); !strings.HasPrefix(got, "50000") {
		t.Errorf("%s = %q, want a 50000us quota", cpu, got)
	}
	poll(t, "the forks beyond pids.max are refused", func() error {
		logs := e.mustRun("logs", name)
		if !strings.Contains(logs, "forks-done") {
			return fmt.Errorf("logs so far: %q", logs)
		}
		if !strings.Contains(logs, "child=137") {
			t.Errorf("the memory hog was not OOM-killed (want child=137): %q", logs)
		}
		return nil
	})
	if got := readTrim(t, cgFile(st.ID, "pids", "pids.current")); got < "2" || got > "8" || len(got) != 1 {
		t.Errorf("pids.current = %q, want 2..8 (PID 1, the sleeps that got in, at most the limit)", got)
	}
	if ev := readTrim(t, cgFile(st.ID, "pids", "pids.events")); !strings.HasPrefix(ev, "max ") || ev == "max 0" {
		t.Errorf("pids.events = %q: want refused forks counted", ev)
	}
	oom := cgFile(st.ID, "memory", "memory.oom_control")
	if strings.HasPrefix(oom, "/sys/fs/cgroup/ctrlab") {
		oom = cgFile(st.ID, "memory", "memory.events")
	}
	if got := readTrim(t, oom); !strings.Contains(got, "oom_kill ") || strings.Contains(got, "oom_kill 0") {
		t.Errorf("%s = %q: want an OOM kill counted", oom, got)
	}
	e.mustRun("rm", "-f", name)
	e.assertNoLeftovers()
}

// TestRunBridge: two containers on the test's bridge reach each other, a
// published port answers on the host's 127.0.0.1, exec joins the
// container's namespaces, and rm releases everything.
func TestRunBridge(t *testing.T) {
	e := newEnv(t)
	e.needFirewall()
	e.needBusybox()
	web, client := "web"+fmt.Sprint(rand.IntN(1e6)), "cli"+fmt.Sprint(rand.IntN(1e6))
	port := 20000 + rand.IntN(20000)
	e.mustRun("run", "-d", "--name", web, "-p", fmt.Sprintf("%d:80", port), BusyboxRef, "httpd", "-f", "-p", "80", "-h", "/www")
	e.mustRun("run", "-d", "--name", client, BusyboxRef, "sleep", "1000")
	ws, cs := e.waitRunning(web), e.waitRunning(client)

	// exec joins every namespace of the running container.
	out := e.mustRun("exec", web, "sh", "-c", "for n in mnt pid net ipc uts cgroup; do echo $n=$(readlink /proc/self/ns/$n); done")
	for _, n := range []string{"mnt", "pid", "net", "ipc", "uts", "cgroup"} {
		if want := n + "=" + nsLink(ws.Pid, n); !strings.Contains(out, want+"\n") {
			t.Errorf("exec: %s not joined: want %q in\n%s", n, want, out)
		}
	}
	ipOut := e.mustRun("exec", web, "ip", "-4", "-o", "addr", "show", "eth0")
	f := strings.Fields(ipOut)
	if len(f) < 4 {
		t.Fatalf("ip addr in %s: %q", web, ipOut)
	}
	webIP := strings.Split(f[3], "/")[0]
	if !strings.HasPrefix(f[3], strings.TrimSuffix(e.subnet, "0/24")) {
		t.Errorf("address %s is not in the test subnet %s", f[3], e.subnet)
	}
	// The host end of each container's veth is enslaved to the test bridge.
	links := e.mustRunIn("ip", "-o", "link", "show", "master", e.bridge)
	if n := strings.Count(links, "ctrlabv"); n != 2 {
		t.Errorf("bridge %s has %d ctrlab veths, want 2:\n%s", e.bridge, n, links)
	}
	// container -> container over the bridge
	poll(t, "client fetches the web container's page over the bridge", func() error {
		out, errs, code := e.run("exec", client, "timeout", "10", "wget", "-q", "-O", "-", "http://"+webIP+"/")
		if code != 0 || !strings.Contains(out, "hello from busybox httpd") {
			return fmt.Errorf("exit %d: %s%s", code, out, errs)
		}
		return nil
	})
	if out, errs, code := e.run("exec", client, "ping", "-c", "1", "-W", "5", webIP); code != 0 {
		t.Errorf("ping %s from %s: exit %d %s%s", webIP, client, code, out, errs)
	}
	// host -> published port on 127.0.0.1
	poll(t, "127.0.0.1:PORT answers from the host", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := netsetup.DialIn(ctx, e.ns, fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET / HTTP/1.0\r\n\r\n")
		b, _ := io.ReadAll(c)
		if !strings.Contains(string(b), "hello from busybox httpd") {
			return fmt.Errorf("answer %q", b)
		}
		return nil
	})
	_ = cs
	e.mustRun("rm", "-f", web, client)
	e.assertNoLeftovers()
}

func (e *env) mustRunIn(args ...string) string {
	e.t.Helper()
	out, err := execIn(e.nsPath, args...)
	if err != nil {
		e.t.Fatalf("%q in the test netns: %v %s", args, err, out)
	}
	return out
}

// TestRunExitCodesAndSignals: the container's exit status is ctrlab's, a
// signal death is 128+N, SIGTERM to ctrlab reaches the container, and
// everything is released after each.
func TestRunExitCodesAndSignals(t *testing.T) {
	e := newEnv(t)
	e.needFirewall()
	e.needBusybox()
	if _, _, code := e.run("run", "--rm", BusyboxRef, "sh", "-c", "exit 42"); code != 42 {
		t.Errorf("exit 42 inside: ctrlab exited %d", code)
	}
	if _, _, code := e.run("run", "--rm", "--init", BusyboxRef, "sh", "-c", "kill -KILL $$"); code != 137 {
		t.Errorf("SIGKILL inside: ctrlab exited %d, want 137", code)
	}
	name := "sig" + fmt.Sprint(rand.IntN(1e6))
	c, out := e.start("run", "--rm", "--init", "--name", name, BusyboxRef, "sleep", "1000")
	e.waitRunning(name)
	if err := c.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := c.Wait()
	code := c.ProcessState.ExitCode()
	if code != 143 {
		t.Errorf("SIGTERM to ctrlab: exit %d (%v), want 143 (the container's sleep killed by SIGTERM)\n%s", code, err, out)
	}
	e.assertNoLeftovers()
}

// TestRunSIGKILLedOwner: ctrlab is SIGKILLed while its container runs
// (with a veth, a published port, a cgroup, an overlay); `ctrlab rm -f`
// then leaves nothing.
func TestRunSIGKILLedOwner(t *testing.T) {
	e := newEnv(t)
	e.needFirewall()
	e.needBusybox()
	name := "kld" + fmt.Sprint(rand.IntN(1e6))
	port := 20000 + rand.IntN(20000)
	c, _ := e.start("run", "--name", name, "-m", "64m", "-p", fmt.Sprintf("%d:80", port), BusyboxRef, "sleep", "1000")
	st := e.waitRunning(name)
	if len(e.leftovers()) == 0 {
		t.Fatal("a running container shows no kernel objects: the leftovers check cannot see anything")
	}
	_ = c.Process.Kill()
	_ = c.Wait()
	// Pdeathsig takes the container's init down with its owner.
	poll(t, "the init dies with its owner", func() error {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d/ns", st.Pid)); err == nil {
			return fmt.Errorf("PID %d still alive", st.Pid)
		}
		return nil
	})
	e.mustRun("rm", "-f", name)
	e.assertNoLeftovers()
}

// TestRunLeak100 runs 100 containers with --rm on the bridge, one after
// another, then asserts that nothing of theirs remains.
func TestRunLeak100(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	e := newEnv(t)
	e.needFirewall()
	e.needBusybox()
	start := time.Now()
	for i := 0; i < 100; i++ {
		out, errs, code := e.run("run", "--rm", BusyboxRef, "sh", "-c", "ip -4 -o addr show eth0 | grep -q inet && echo ok")
		if code != 0 || strings.TrimSpace(out) != "ok" {
			t.Fatalf("run %d: exit %d: %s%s", i, code, out, errs)
		}
	}
	t.Logf("100 runs with --rm and bridge networking: %v", time.Since(start).Round(time.Millisecond))
	e.assertNoLeftovers()
}

// TestInspectContainer: `ctrlab inspect NAME` looks at the container's PID 1.
func TestInspectContainer(t *testing.T) {
	e := newEnv(t)
	e.needBusybox()
	name := "insp" + fmt.Sprint(rand.IntN(1e6))
	e.mustRun("run", "-d", "--name", name, "--network", "none", BusyboxRef, "sleep", "1000")
	st := e.waitRunning(name)
	out := e.mustRun("inspect", name, "--json")
	if want := strings.TrimPrefix(strings.TrimSuffix(nsLink(st.Pid, "pid"), "]"), "pid:["); !strings.Contains(out, want) {
		t.Errorf("inspect %s does not show its pid namespace %s:\n%.1500s", name, want, out)
	}
	if !strings.Contains(out, fmt.Sprint(st.Pid)) {
		t.Errorf("inspect %s does not mention host PID %d", name, st.Pid)
	}
	_ = container.Running
	_ = bufio.ScanLines
}
