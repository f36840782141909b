package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ctrlab/ctrlab/pkg/image"
)

type pullOptions struct {
	Ref      string
	Platform string
	Insecure bool
	Root     string
	JSON     bool
}

// newPullCmd builds `ctrlab pull REF`.
func newPullCmd(app *App, runF func(*pullOptions) error) *cobra.Command {
	o := &pullOptions{}
	cmd := &cobra.Command{
		Use:   "pull REF",
		Short: "Pull an image for this platform into the local store, showing every object",
		Long: `Pull resolves an image reference at its registry and downloads it into ctrlab's
content-addressed store (an OCI image layout under --root, default /var/lib/ctrlab
or $CTRLAB_ROOT), printing each object it walks through:

  reference  "alpine" is short for index.docker.io/library/alpine:latest. A TAG
             (":latest") is a movable name; a DIGEST ("@sha256:...") names exact
             bytes and never changes.
  index      a multi-platform image is an index (manifest list) with one manifest
             per platform; ctrlab picks this host's (linux/amd64, linux/arm64,
             linux/arm/v7 ...) unless --platform says otherwise.
  manifest   the chosen platform's list of blobs: one config and N layers. Its
             digest is the "registry digest" (docker's RepoDigest).
  config     JSON with entrypoint, cmd, env, and the diff IDs of the layers. Its
             digest is the IMAGE ID: the same bytes pulled from anywhere give the
             same ID, while the manifest digest changes with compression.
  layers     compressed tar blobs, each verified against its digest as it is
             written; a blob already in the store is not downloaded again.

Nothing is recorded until every blob is stored: a pull interrupted midway leaves
no half image. Credentials come from ~/.docker/config.json (docker/podman login).
Equivalent to: skopeo copy docker://REF oci:ROOT/images:REF`,
		Example: `  ctrlab pull alpine
  ctrlab pull --platform linux/arm64 busybox:1.36
  ctrlab pull --insecure 127.0.0.1:5000/busybox:latest
  ctrlab pull --json alpine@sha256:...`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Ref = args[0]
			if o.Platform != "" && strings.Count(o.Platform, "/") < 1 {
				return flagErrorf("--platform %q: want os/arch[/variant], like linux/arm64 or linux/arm/v7", o.Platform)
			}
			if runF != nil {
				return runF(o)
			}
			return pullRun(cmd, app, o)
		},
	}
	cmd.Flags().StringVar(&o.Platform, "platform", "", "platform to pull from an index, os/arch[/variant] (default: this host's)")
	cmd.Flags().BoolVar(&o.Insecure, "insecure", false, "allow plain HTTP to the registry (a local test registry)")
	addRootFlag(cmd, &o.Root)
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the result as JSON")
	return cmd
}

func rootOf(s string) string {
	if s == "" {
		return image.DefaultRoot()
	}
	return s
}

func pullRun(cmd *cobra.Command, app *App, o *pullOptions) error {
	store, err := image.Open(rootOf(o.Root))
	if err != nil {
		return err
	}
	opts := []image.Option{}
	if o.Platform != "" {
		opts = append(opts, image.WithPlatform(o.Platform))
	}
	if o.Insecure {
		opts = append(opts, image.WithInsecure())
	}
	pr := newProgress(app.ErrOut)
	opts = append(opts, image.WithProgress(pr.update))
	fmt.Fprintf(app.ErrOut, "Pulling %s\n", o.Ref)
	var res *image.PullResult
	if isSelfRef(o.Ref) {
		// The built-in image is made from this binary, never downloaded.
		res, err = image.EnsureSelf(cmd.Context(), store)
	} else {
		res, err = store.Pull(cmd.Context(), o.Ref, opts...)
	}
	pr.finish()
	if err != nil {
		return err
	}
	if o.JSON {
		return writeJSON(app.Out, res)
	}
	return renderPull(app.Out, res)
}

// isSelfRef reports whether ref names the built-in image ctrlab/self.
func isSelfRef(ref string) bool {
	r, err := image.ParseReference(ref, false)
	if err != nil {
		return false
	}
	self, _ := image.ParseReference(image.SelfRef, false)
	return r.Name() == self.Name()
}

func renderPull(w io.Writer, r *image.PullResult) error {
	host := image.HostPlatform()
	fmt.Fprintf(w, "reference  %s\n", r.Reference)
	if r.IndexDigest != "" {
		fmt.Fprintf(w, "index      %s  (%s)\n           a list of per-platform manifests: %s\n", r.IndexDigest, shortMT(r.IndexMediaType), strings.Join(r.Platforms, ", "))
	} else {
		fmt.Fprintf(w, "index      (none: the reference names a single-platform manifest)\n")
	}
	fmt.Fprintf(w, "platform   %s  (this host: %s/%s%s)\n", r.Platform, host.OS, host.Architecture, variantSuffix(host.Variant))
	fmt.Fprintf(w, "manifest   %s  (%s)\n           the registry digest: this platform's config + layer list\n", r.ManifestDigest, shortMT(r.ManifestMediaType))
	fmt.Fprintf(w, "config     %s\n           the IMAGE ID: sha256 of the config JSON (entrypoint, env, diff IDs)\n", r.ConfigDigest)
	t := newTable(w, "#", "layer digest (compressed blob)", "size", "media type", "status")
	for i, l := range r.Layers {
		st := "downloaded, verified"
		if !l.Downloaded {
			st = "already stored"
		}
		if err := t.row(i+1, l.Digest, humanBytes(l.Size), shortMT(l.MediaType), st); err != nil {
			return err
		}
	}
	if err := t.render(); err != nil {
		return err
	}
	fmt.Fprintf(w, "downloaded %s of blobs (%d bytes)\n", humanBytes(r.BytesDownloaded), r.BytesDownloaded)
	return nil
}

func variantSuffix(v string) string {
	if v == "" {
		return ""
	}
	return "/" + v
}

// shortMT drops the common prefix of OCI/Docker media types.
func shortMT(mt string) string {
	for _, p := range []string{"application/vnd.oci.image.", "application/vnd.docker.distribution.", "application/vnd.docker.image.rootfs."} {
		if strings.HasPrefix(mt, p) {
			return strings.TrimPrefix(mt, p)
		}
	}
	return mt
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// progress draws one bar per layer on a terminal, or prints one plain line
// per finished layer otherwise. All output goes to stderr.
type progress struct {
	w     io.Writer
	tty   bool
	mu    sync.Mutex
	rows  map[int]image.Progress
	drawn int
	last  time.Time
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, rows: map[int]image.Progress{}}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

func (p *progress) update(ev image.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	prev, seen := p.rows[ev.Index]
	p.rows[ev.Index] = ev
	if !p.tty {
		if ev.Complete && !(seen && prev.Complete) {
			st := "downloaded"
			if ev.Cached {
				st = "already stored"
			}
			fmt.Fprintf(p.w, "layer %d %s %s %s\n", ev.Index+1, shortDigest(ev.Digest), humanBytes(ev.Total), st)
		}
		return
	}
	if !ev.Complete && time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.draw()
}

func (p *progress) draw() {
	if p.drawn > 0 {
		fmt.Fprintf(p.w, "\033[%dA", p.drawn)
	}
	n := 0
	for i := 0; n < len(p.rows); i++ {
		ev, ok := p.rows[i]
		if !ok {
			if i > 1000 {
				break
			}
			continue
		}
		n++
		const width = 30
		fill := width
		if ev.Total > 0 {
			fill = int(ev.Done * width / ev.Total)
		}
		if fill > width {
			fill = width
		}
		st := fmt.Sprintf("%s/%s", humanBytes(ev.Done), humanBytes(ev.Total))
		if ev.Cached {
			st = "already stored"
		} else if ev.Complete {
			st += " verified"
		}
		fmt.Fprintf(p.w, "\033[2K layer %-2d %s [%s%s] %s\n", i+1, shortDigest(ev.Digest),
			strings.Repeat("=", fill), strings.Repeat(" ", width-fill), st)
	}
	p.drawn = n
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && len(p.rows) > 0 {
		p.draw()
	}
}

func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		d = d[:12]
	}
	return d
}
