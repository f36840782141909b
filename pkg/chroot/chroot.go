package chroot

import (
	"io"
	"strings"

	"github.com/ctrlab/ctrlab/pkg/explain"
)

// Config says which directory becomes "/" and what to run there. It crosses
// the re-exec boundary as JSON.
type Config struct {
	Root string `json:"root"`
	// Args is the command, looked up inside the new root. Empty runs
	// ctrlab's built-in view: the working directory and the listing of "/"
	// as the chrooted process sees them (the ctrlab binary is already
	// loaded, so nothing has to be copied into the rootfs).
	Args []string `json:"args,omitempty"`
}

// Stdio are the streams the command inherits.
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
}

// Result is what the host saw of the chrooted process.
type Result struct {
	Root       string          `json:"root"`
	Command    []string        `json:"command"`
	HostPID    int             `json:"hostPid"`
	RootBefore string          `json:"rootBefore"` // readlink /proc/self/root
	RootAfter  string          `json:"rootAfter"`  // readlink /proc/PID/root
	CwdBefore  string          `json:"cwdBefore"`
	CwdAfter   string          `json:"cwdAfter"`
	ListBefore []string        `json:"listBefore"` // ls / on the host
	ListAfter  []string        `json:"listAfter"`  // ls / inside
	Report     *explain.Report `json:"report"`
	ExitCode   int             `json:"exitCode"`
}

// Option tunes Run.
type Option func(*options)

type options struct{ ready func(*Result) error }

// WithReady calls fn once the root is changed and before the command runs.
func WithReady(fn func(*Result) error) Option {
	return func(o *options) {
		if fn != nil {
			o.ready = fn
		}
	}
}

// EscapeResult is the evidence of the classic chroot escape.
type EscapeResult struct {
	Dir          string          `json:"dir"`
	Rootfs       string          `json:"rootfs"`
	Marker       string          `json:"marker"`
	HostRoot     string          `json:"hostRoot"`     // dev:ino of "/" on the host
	ChrootRoot   string          `json:"chrootRoot"`   // dev:ino of "/" after chroot(rootfs)
	EscapedRoot  string          `json:"escapedRoot"`  // dev:ino of "/" after the escape
	MarkerInside bool            `json:"markerInside"` // marker readable inside the chroot (should be false)
	MarkerRead   string          `json:"markerRead"`   // marker content read after the escape
	Escaped      bool            `json:"escaped"`
	Steps        []string        `json:"steps"`
	Report       *explain.Report `json:"report"`
}

// EscapeOption tunes EscapeDemo.
type EscapeOption func(*escapeOptions)

type escapeOptions struct{ dir, busybox string }

// WithTempDir builds the throw-away rootfs under dir instead of os.TempDir().
func WithTempDir(dir string) EscapeOption { return func(o *escapeOptions) { o.dir = dir } }

// WithBusybox uses this static busybox binary (default /bin/busybox).
func WithBusybox(path string) EscapeOption { return func(o *escapeOptions) { o.busybox = path } }

// Applets are the busybox applet links MakeBusyboxRootfs creates in bin/.
var Applets = []string{"sh", "ls", "cat", "echo", "mkdir", "pwd", "id", "ps", "mount", "hostname", "stat", "chroot"}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && !strings.ContainsAny(a, " \t'\"$;&|<>*?`\\") {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

func shortList(names []string) string {
	if len(names) > 8 {
		return strings.Join(names[:8], " ") + " …"
	}
	if len(names) == 0 {
		return "(empty)"
	}
	return strings.Join(names, " ")
}

func runReport(r *Result) *explain.Report {
	what := shellJoin(r.Command)
	if len(r.Command) == 0 {
		what = "ctrlab's built-in view (pwd; ls /)"
	}
	rep := &explain.Report{Title: "chroot: " + r.Root + " becomes / for " + what}
	rep.Add("root directory (readlink /proc/PID/root)", r.RootBefore, r.RootAfter)
	rep.Add("working directory (readlink /proc/PID/cwd)", r.CwdBefore, r.CwdAfter)
	rep.Add("ls /", shortList(r.ListBefore), shortList(r.ListAfter))
	rep.Note("chroot(2) only changes where path lookup starts for this process; mounts, PIDs, network and users are still the host's")
	rep.Note("a root process can leave a chroot: see `ctrlab chroot --escape-demo`; runtimes use pivot_root(2) in a new mount namespace")
	cmd := "sh -c 'pwd; ls /'"
	if len(r.Command) > 0 {
		cmd = shellJoin(r.Command)
	}
	rep.Equiv("chroot " + shellJoin([]string{r.Root}) + " " + cmd)
	return rep
}
