package container

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ctrlab/ctrlab/pkg/reexec"
	"github.com/ctrlab/ctrlab/pkg/testutil"
)

func TestMain(m *testing.M) {
	if reexec.Init() {
		return
	}
	os.Exit(m.Run())
}

func init() {
	// ctrlab-test-run plays `ctrlab run` in the foreground: it reads the
	// store root and Config from its environment and forwards signals.
	reexec.Register("ctrlab-test-run", func() {
		var cfg Config
		if err := json.Unmarshal([]byte(os.Getenv("CTRLAB_TEST_CONFIG")), &cfg); err != nil {
			os.Exit(100)
		}
		sigs := make(chan os.Signal, 8)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
		code, err := NewStore(os.Getenv("CTRLAB_TEST_ROOT")).Run(context.Background(), &cfg,
			RunOptions{Signals: sigs}, WithStdio(nil, os.Stdout, os.Stderr))
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(101)
		}
		os.Exit(code)
	})
	// ctrlab-test-escape tries the classic chroot escape and reports whether
	// the file named by argv[1] (outside the container) became reachable.
	reexec.Register("ctrlab-test-escape", func() {
		_ = os.Mkdir("/escape-x", 0o755)
		if err := unix.Chroot("/escape-x"); err != nil {
			os.Stdout.WriteString("chroot: " + err.Error() + "\n")
		}
		for i := 0; i < 64; i++ {
			_ = unix.Chdir("..")
		}
		_ = unix.Chroot(".")
		if _, err := os.Stat(os.Args[1]); err == nil {
			os.Stdout.WriteString("ESCAPED\n")
			return
		}
		os.Stdout.WriteString("contained\n")
	})
}

// busyboxRootfs builds a minimal rootfs in a temp dir: /bin/busybox plus a
// symlink per applet, /etc/passwd and /etc/group.
func busyboxRootfs(t *testing.T) string {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("needs busybox (apt-get install busybox-static)")
	}
	if f, err := elf.Open(bb); err == nil {
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				f.Close()
				t.Skip("needs a static busybox (busybox-static)")
			}
		}
		f.Close()
	}
	root := filepath.Join(t.TempDir(), "rootfs")
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "tmp", "root"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, bb, filepath.Join(root, "bin/busybox"), 0o755)
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" {
			_ = os.Symlink("busybox", filepath.Join(root, "bin", a))
		}
	}
	write(t, filepath.Join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
	write(t, filepath.Join(root, "etc/group"), "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n")
	return root
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// newStore returns a store in a temp dir that force-removes every container
// left in it when the test ends.
func newStore(t *testing.T) *Store {
	t.Helper()
	s := NewStore(filepath.Join(t.TempDir(), "containers"))
	t.Cleanup(func() {
		all, _ := s.load()
		for _, st := range all {
			if err := s.Remove(st.ID, true); err != nil {
				t.Errorf("cleanup: removing %s: %v", st.Name, err)
			}
		}
	})
	return s
}

// syncBuffer is a bytes.Buffer safe for a writer and a poller.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// run runs args in a fresh busybox container and returns its output and exit code.
func run(t *testing.T, s *Store, cfg *Config) (string, int) {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = testutil.Name("c")
	}
	var out syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code, err := s.Run(ctx, cfg, RunOptions{AutoRemove: true}, WithStdio(nil, &out, &out))
	if err != nil {
		t.Fatalf("running %v: %v (output %q)", cfg.Args, err, out.String())
	}
	return out.String(), code
}

// poll calls cond until it is true or the (generous) deadline passes.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func osexec(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
