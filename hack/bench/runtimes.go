package main

import (
	"bufio"
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

	"golang.org/x/sys/unix"
)

// sample is one measured start-to-exit.
type sample struct {
	d      time.Duration
	maxRSS int64 // KiB, wait4 rusage of the measured process (0 if unknown)
}

// runner starts one container running /bin/true and waits for it.
type runner struct {
	name string
	run  func(i int) (sample, error)
	// samples and failures, filled by the loop
	samples []sample
	fails   int
	lastErr string
}

// timeCmd runs cmd and measures fork+exec to wait4, with the rusage.
func timeCmd(cmd *exec.Cmd) (sample, error) {
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	s := sample{d: d}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			s.maxRSS = int64(ru.Maxrss)
		}
	}
	if err != nil {
		return s, fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(out.String()))
	}
	return s, nil
}

// makeBundle writes an OCI bundle whose root.path is rootfs (ctrlab's own
// unpacked layer), from `runc spec` edited: args /bin/true, no terminal,
// read-only root, cgroup under a ctrlabbench parent.
func makeBundle(dir, rootfs string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cmd := exec.Command("runc", "spec", "--bundle", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("runc spec: %w: %s", err, out)
	}
	p := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	var spec map[string]any
	if err := json.Unmarshal(b, &spec); err != nil {
		return fmt.Errorf("parsing runc spec: %w", err)
	}
	proc := spec["process"].(map[string]any)
	proc["args"] = []string{"/bin/true"}
	proc["terminal"] = false
	spec["root"] = map[string]any{"path": rootfs, "readonly": true}
	linux := spec["linux"].(map[string]any)
	linux["cgroupsPath"] = "/" + cgroupParent + "/peer"
	b, err = json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(p, b, 0o644)
}

const cgroupParent = "ctrlabbench"

// removePeerCgroups removes the ctrlabbench parent runc/crun left in each
// v1 hierarchy (they remove their own child cgroup, not the parent).
func removePeerCgroups() {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + cgroupParent)
	if d := "/sys/fs/cgroup/" + cgroupParent; exists(d) {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		subs, _ := filepath.Glob(d + "/*")
		for _, s := range subs {
			if st, err := os.Stat(s); err == nil && st.IsDir() {
				_ = os.Remove(s)
			}
		}
		_ = os.Remove(d)
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// crunServer runs crun for the parent, one container per request line, in a
// private mount namespace where the hybrid cgroup2 mount is gone (crun
// refuses hybrid mode). The namespace is the server's own: the host's mounts
// are never changed. Protocol: "RUN ROOT BUNDLE ID" -> "OK NANOS MAXRSS" or
// "ERR message".
func crunServer() {
	if err := unix.Unmount("/sys/fs/cgroup/unified", unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		fmt.Printf("ERR unmounting /sys/fs/cgroup/unified in the private mount namespace: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("READY")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 || f[0] != "RUN" {
			fmt.Println("ERR bad request")
			continue
		}
		s, err := timeCmd(exec.Command("crun", "--root", f[1], "run", "--bundle", f[2], f[3]))
		if err != nil {
			fmt.Println("ERR " + strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		fmt.Printf("OK %d %d\n", s.d.Nanoseconds(), s.maxRSS)
	}
}

// crunClient is the parent's side of crunServer.
type crunClient struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startCrunServer() (*crunClient, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, crunServerArg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the crun helper: %w", err)
	}
	c := &crunClient{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	if !c.out.Scan() || c.out.Text() != "READY" {
		c.close()
		return nil, fmt.Errorf("crun helper: %s", c.out.Text())
	}
	return c, nil
}

func (c *crunClient) run(root, bundle, id string) (sample, error) {
	if _, err := fmt.Fprintf(c.in, "RUN %s %s %s\n", root, bundle, id); err != nil {
		return sample{}, err
	}
	if !c.out.Scan() {
		return sample{}, errors.New("crun helper exited")
	}
	line := c.out.Text()
	if msg, ok := strings.CutPrefix(line, "ERR "); ok {
		return sample{}, errors.New(msg)
	}
	f := strings.Fields(line)
	if len(f) != 3 {
		return sample{}, fmt.Errorf("crun helper said %q", line)
	}
	ns, _ := strconv.ParseInt(f[1], 10, 64)
	rss, _ := strconv.ParseInt(f[2], 10, 64)
	return sample{d: time.Duration(ns), maxRSS: rss}, nil
}

func (c *crunClient) close() {
	_ = c.in.Close()
	_ = c.cmd.Wait()
}
