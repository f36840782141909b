package grade

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/ctrlab/ctrlab/pkg/inspect"
	"golang.org/x/sys/unix"
)

// StateDir keeps what `lab start` recorded (sysctl values to restore).
var StateDir = "/run/ctrlab/labs"

// Ctrlab is the ctrlab binary that lab scripts call as `ctrlab` and that
// reset uses to remove containers. Empty means this process's executable
// (the running ctrlab); tests point it at a freshly built binary.
var Ctrlab string

func ctrlabBinary() (string, error) {
	if Ctrlab != "" {
		return Ctrlab, nil
	}
	return os.Executable()
}

// runScript runs a lab's sh script with output to w and `ctrlab` first on
// its PATH. Children it leaves running in the background must not hold w
// open (scripts redirect them).
func runScript(ctx context.Context, what, script string, w io.Writer) error {
	bin, err := ctrlabBinary()
	if err != nil {
		return fmt.Errorf("finding the ctrlab binary: %w", err)
	}
	dir, err := os.MkdirTemp("", "ctrlab-labbin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.Symlink(bin, filepath.Join(dir, "ctrlab")); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "/bin/sh", "-eu", "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
	cmd.Stdout, cmd.Stderr = w, w
	cmd.Stdin = nil
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("running the %s script: %w", what, err)
	}
	return nil
}

// Start prepares the lab's fixtures and records the sysctls reset restores.
func Start(ctx context.Context, l *Lab, w io.Writer) error {
	if len(l.Reset.Sysctls) > 0 {
		saved := map[string]string{}
		for _, s := range l.Reset.Sysctls {
			b, err := os.ReadFile(sysctlPath(s))
			if err != nil {
				return fmt.Errorf("reading sysctl %s: %w", s, err)
			}
			saved[s] = strings.TrimSpace(string(b))
		}
		if err := os.MkdirAll(StateDir, 0o755); err != nil {
			return fmt.Errorf("making %s: %w", StateDir, err)
		}
		data, _ := json.Marshal(saved)
		p := filepath.Join(StateDir, l.Name+".sysctl.json")
		if _, err := os.Stat(p); err != nil { // keep the first record: it is the machine's own value
			if err := os.WriteFile(p, data, 0o644); err != nil {
				return fmt.Errorf("recording sysctls: %w", err)
			}
		}
	}
	if strings.TrimSpace(l.Setup) == "" {
		return nil
	}
	return runScript(ctx, "setup", l.Setup, w)
}

// Solve runs the lab's reference solution (after its setup), then waits
// until every process the lab names is up, so a check right after passes.
func Solve(ctx context.Context, l *Lab, w io.Writer) error {
	if err := Start(ctx, l, w); err != nil {
		return err
	}
	if err := runScript(ctx, "solution", l.Solution, w); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range l.Reset.Processes {
		for len(FindProcesses(p)) == 0 {
			if time.Now().After(deadline) {
				return fmt.Errorf("the solution did not leave %q running", p)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return settle(ctx, l)
}

// settle waits (bounded) until the process-based checks see the final
// state the solution's background shells are still producing.
func settle(ctx context.Context, l *Lab) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok := true
		for _, t := range l.Tasks {
			for _, c := range t.Checks {
				if c.Process != "" && !evaluate(ctx, c).Pass {
					ok = false
				}
			}
		}
		if ok || time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func sysctlPath(name string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(name, ".", "/"))
}

// Reset removes exactly what the lab names, and restores recorded sysctls.
// It returns one line per object it removed.
func Reset(ctx context.Context, l *Lab) ([]string, error) {
	if err := l.Reset.validate(); err != nil {
		return nil, err
	}
	var done []string
	var errs []error
	note := func(s string) { done = append(done, s) }
	r := l.Reset
	for _, name := range r.Containers {
		bin, err := ctrlabBinary()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out, err := exec.CommandContext(ctx, bin, "rm", "-f", name).CombinedOutput()
		switch {
		case err == nil:
			note("removed container " + name)
		case !strings.Contains(string(out), "no such container"):
			errs = append(errs, fmt.Errorf("removing container %s: %v: %s", name, err, strings.TrimSpace(string(out))))
		}
	}
	for _, p := range r.Processes {
		for _, pid := range FindProcesses(p) {
			if err := killWait(pid); err != nil {
				errs = append(errs, err)
				continue
			}
			note(fmt.Sprintf("killed PID %d (%s)", pid, p))
		}
	}
	for _, c := range r.Cgroups {
		for _, dir := range cgroupDirs(c) {
			if err := removeCgroup(dir); err != nil {
				errs = append(errs, err)
				continue
			}
			note("removed cgroup " + dir)
		}
	}
	for _, m := range r.Mounts {
		for isMounted(m) {
			if err := unix.Unmount(m, unix.MNT_DETACH); err != nil {
				errs = append(errs, fmt.Errorf("unmounting %s: %w", m, err))
				break
			}
			note("unmounted " + m)
		}
	}
	// Links first: deleting one end of a veth removes both at once, while a
	// netns teardown frees its veths later, in the kernel's own time.
	for _, name := range r.Links {
		if l, err := netlink.LinkByName(name); err == nil {
			if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
				errs = append(errs, fmt.Errorf("deleting link %s: %w", name, err))
				continue
			}
			note("deleted link " + name)
		}
	}
	for _, n := range r.Netns {
		p := netnsPath(n)
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		_ = unix.Unmount(p, unix.MNT_DETACH)
		if err := os.Remove(p); err != nil {
			errs = append(errs, fmt.Errorf("removing netns %s: %w", n, err))
			continue
		}
		note("deleted netns " + n)
	}
	// Wait (bounded) until the kernel has finished tearing the namespaces'
	// links down, so that "reset" means gone, not going.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		busy := false
		for _, name := range r.Links {
			if _, err := netlink.LinkByName(name); err == nil {
				busy = true
			}
		}
		if !busy {
			break
		}
	}
	for _, rule := range r.Iptables {
		args := strings.Fields(strings.Replace(" "+rule+" ", " -A ", " -D ", 1))
		for i := 0; i < 10; i++ {
			if exec.CommandContext(ctx, "iptables", append([]string{"-w"}, args...)...).Run() != nil {
				break
			}
			note("deleted iptables rule " + rule)
		}
	}
	for _, p := range r.Paths {
		for _, m := range mountsBelow(p) {
			_ = unix.Unmount(m, unix.MNT_DETACH)
		}
		if _, err := os.Lstat(p); err == nil {
			if err := os.RemoveAll(p); err != nil {
				errs = append(errs, fmt.Errorf("removing %s: %w", p, err))
				continue
			}
			note("removed " + p)
		}
	}
	if len(r.Sysctls) > 0 {
		rec := filepath.Join(StateDir, l.Name+".sysctl.json")
		if data, err := os.ReadFile(rec); err == nil {
			saved := map[string]string{}
			_ = json.Unmarshal(data, &saved)
			for k, v := range saved {
				if err := os.WriteFile(sysctlPath(k), []byte(v), 0o644); err != nil {
					errs = append(errs, fmt.Errorf("restoring %s: %w", k, err))
					continue
				}
				note(fmt.Sprintf("restored %s = %s", k, v))
			}
			_ = os.Remove(rec)
		}
	}
	return done, errors.Join(errs...)
}

func killWait(pid int) error {
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 100; i++ {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
			return nil
		}
		// a zombie whose parent is gone is reaped by init; ours by Wait
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("PID %d did not exit after SIGKILL", pid)
}

// cgroupDirs lists the existing directories of cgroup path: one on v2,
// one per controller hierarchy on v1.
func cgroupDirs(path string) []string {
	if cgroup2() {
		d := filepath.Join("/sys/fs/cgroup", path)
		if isCgroupFS(d) {
			return []string{d}
		}
		return nil
	}
	var out []string
	ents, _ := os.ReadDir("/sys/fs/cgroup")
	for _, e := range ents {
		d := filepath.Join("/sys/fs/cgroup", e.Name(), path)
		if fi, err := os.Stat(d); err == nil && fi.IsDir() && isCgroupFS(d) {
			out = append(out, d)
		}
	}
	return out
}

func removeCgroup(dir string) error {
	for i := 0; i < 100; i++ {
		b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("removing cgroup %s: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("removing cgroup %s: still busy", dir)
}

func isMounted(path string) bool {
	_, _, ok := mountAt(path)
	return ok
}

// mountsBelow lists mount points at or under dir, deepest first.
func mountsBelow(dir string) []string {
	mounts, _ := inspect.ReadMountinfo("self")
	var out []string
	for _, m := range mounts {
		if m.MountPoint == dir || strings.HasPrefix(m.MountPoint, dir+"/") {
			out = append([]string{m.MountPoint}, out...)
		}
	}
	return out
}
