package cli

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ctrlab/ctrlab/pkg/explain"
	"github.com/ctrlab/ctrlab/pkg/overlay"
)

// newOverlayCmd groups the overlayfs step: demo, mount, layers, diff, umount.
func newOverlayCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "overlay",
		Short: "Stack image layers with overlayfs: copy-up, whiteouts, opaque dirs",
		Long: `A container image is a stack of read-only layers with a thin writable layer on
top. The kernel's overlay filesystem builds that stack: it joins read-only
"lower" directories (the image layers, top first) and one writable "upper"
directory into a merged view mounted on a directory.

  - a read is served by the topmost layer that has the path;
  - the first write to a lower file copies the WHOLE file up into upper
    (copy-up); the lower file never changes;
  - a delete leaves a whiteout in upper: a character device numbered 0/0;
  - a directory removed and made again is marked opaque
    (xattr trusted.overlay.opaque=y): no lower entry shows through.

Syscall: mount(2) with type "overlay" and options lowerdir=,upperdir=,workdir=
(or fsopen(2)/fsconfig(2) "lowerdir+" when the options exceed a page).
Equivalent to: mount -t overlay overlay -o lowerdir=A:B,upperdir=U,workdir=W MERGED

Start with 'ctrlab overlay demo'.`,
		Example: `  sudo ctrlab overlay demo
  sudo ctrlab overlay mount --lower /l/config:/l/app:/l/base --upper /c/up --work /c/work /c/merged
  sudo ctrlab overlay layers /c/merged
  sudo ctrlab overlay diff /c/up
  sudo ctrlab overlay umount /c/merged`,
	}
	cmd.AddCommand(
		newOverlayDemoCmd(app, nil),
		newOverlayMountCmd(app, nil),
		newOverlayLayersCmd(app, nil),
		newOverlayDiffCmd(app, nil),
		newOverlayUmountCmd(app, nil),
	)
	return cmd
}

// ---- demo ----

type overlayDemoOptions struct {
	Keep bool
	JSON bool
	Dir  string
}

func newOverlayDemoCmd(app *App, runF func(*overlayDemoOptions) error) *cobra.Command {
	o := &overlayDemoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Build a three-layer overlay and watch reads, copy-ups, whiteouts and opaque dirs",
		Long: `Builds a small image in a temporary ctrlab-overlay-demo-* directory — three
layers "base", "app" and "config", plus upper/, work/ and merged/ — mounts it
with overlayfs, then acts in the merged view as a container would:

  1. a read (served from a lower layer; nothing is copied),
  2. a write to an existing file (copy-up: upper gets a full copy, the lower
     file keeps its bytes and inode),
  3. a new file (only in upper),
  4. a delete (a 0/0 character device — a whiteout — appears in upper),
  5. a directory replaced (rm -r then mkdir: an opaque directory).

After each action it prints which layer serves every path and the mount's
line in /proc/self/mountinfo. At the end it prints the container's changes as
'docker diff' would, then unmounts and removes the workspace (unless --keep;
on an error or ctrl-C it always cleans up).`,
		Example: `  sudo ctrlab overlay demo
  sudo ctrlab overlay demo --keep     # then look around: ls -la /tmp/ctrlab-overlay-demo-*/upper
  sudo ctrlab overlay demo --json | jq '.steps[3].facts'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			if err := requireRoot("ctrlab overlay demo"); err != nil {
				return err
			}
			return overlayDemoRun(cmd, app, o)
		},
	}
	cmd.Flags().BoolVar(&o.Keep, "keep", false, "leave the workspace mounted at the end")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print every step as JSON")
	cmd.Flags().StringVar(&o.Dir, "dir", "", "parent directory of the workspace (default $TMPDIR or /tmp)")
	return cmd
}

func overlayDemoRun(cmd *cobra.Command, app *App, o *overlayDemoOptions) error {
	// A closed pipe (ctrlab overlay demo | head) must not kill the process
	// by SIGPIPE mid-demo: with SIGPIPE caught, the write fails with EPIPE
	// and the demo unmounts and removes its workspace before exiting.
	sigpipe := make(chan os.Signal, 1)
	signal.Notify(sigpipe, syscall.SIGPIPE)
	defer signal.Stop(sigpipe)
	w := app.Out
	n := 0
	emit := func(st overlay.DemoStep) error {
		if o.JSON {
			return nil
		}
		fmt.Fprintf(w, "\n== Step %d: %s\n$ %s\n", n, st.Title, st.Action)
		n++
		for _, e := range st.Explain {
			fmt.Fprintf(w, "  - %s\n", e)
		}
		if len(st.Facts) > 0 {
			t := newTable(w, "what", "seen on disk")
			for _, f := range st.Facts {
				if err := t.row(f.Item, f.Value); err != nil {
					return err
				}
			}
			if err := t.render(); err != nil {
				return err
			}
		}
		if err := renderLayers(w, st.Layers); err != nil {
			return err
		}
		fmt.Fprintf(w, "mountinfo: %s\n", st.Mountinfo)
		return nil
	}
	res, err := overlay.RunDemo(cmd.Context(), overlay.DemoOptions{Dir: o.Dir, Keep: o.Keep}, emit)
	if err != nil {
		return fmt.Errorf("running the overlay demo: %w", err)
	}
	if o.JSON {
		return writeJSON(w, res)
	}
	fmt.Fprintf(w, "\n== The container's changes (what 'docker diff' would print)\n")
	if err := renderDiff(w, res.Diff); err != nil {
		return err
	}
	fmt.Fprintf(w, "Layers: %s\n", strings.Join(res.LayerNames, ", "))
	fmt.Fprintf(w, "Equivalent to: %s\n", res.Equivalent)
	if res.Kept {
		fmt.Fprintf(app.ErrOut, "kept %s (still mounted); clean up with:\n  sudo ctrlab overlay umount %s && rm -r %s\n",
			res.Workspace, res.Spec.Target, res.Workspace)
	} else {
		fmt.Fprintf(app.ErrOut, "unmounted and removed %s\n", res.Workspace)
	}
	return nil
}

// ---- mount ----

type overlayMountOptions struct {
	Lower   string
	Upper   string
	Work    string
	Target  string
	Options []string
	JSON    bool
}

func (o *overlayMountOptions) spec() overlay.Spec {
	return overlay.Spec{Lowers: strings.Split(o.Lower, ":"), Upper: o.Upper, Work: o.Work, Target: o.Target, Options: o.Options}
}

func newOverlayMountCmd(app *App, runF func(*overlayMountOptions) error) *cobra.Command {
	o := &overlayMountOptions{}
	cmd := &cobra.Command{
		Use:   "mount --lower A:B:C [--upper U --work W] MERGED",
		Short: "Mount an overlay of lower layers and a writable upper layer",
		Long: `Mounts an overlay on MERGED. --lower lists the read-only layers TOP FIRST,
separated by ':' (as the kernel's lowerdir= option does). --upper and --work
make the overlay writable; both must be on the same filesystem and work must
be empty. Without them the overlay is read-only.

ctrlab checks the rules before calling the kernel, so a mistake names the
path and the rule instead of a bare "invalid argument".

Syscall: mount(2) (or, when the option string exceeds a 4096-byte page,
fsopen/fsconfig "lowerdir+"/fsmount/move_mount, Linux 6.8+).`,
		Example: `  mkdir -p /tmp/ctrlab-o/{a,b,up,work,merged}
  sudo ctrlab overlay mount --lower /tmp/ctrlab-o/a:/tmp/ctrlab-o/b \
      --upper /tmp/ctrlab-o/up --work /tmp/ctrlab-o/work /tmp/ctrlab-o/merged`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Target = args[0]
			if o.Lower == "" {
				return flagErrorf("--lower is required: the read-only layers, top first, separated by ':'")
			}
			for _, l := range strings.Split(o.Lower, ":") {
				if l == "" {
					return flagErrorf("--lower %q has an empty layer (two ':' in a row, or one at an end)", o.Lower)
				}
			}
			if (o.Upper == "") != (o.Work == "") {
				return flagErrorf("--upper and --work go together (overlayfs needs the work directory to copy up into upper)")
			}
			if runF != nil {
				return runF(o)
			}
			if err := requireRoot("ctrlab overlay mount"); err != nil {
				return err
			}
			return overlayMountRun(cmd, app, o)
		},
	}
	cmd.Flags().StringVar(&o.Lower, "lower", "", "read-only layers, top first, separated by ':'")
	cmd.Flags().StringVar(&o.Upper, "upper", "", "writable layer directory")
	cmd.Flags().StringVar(&o.Work, "work", "", "empty work directory on the same filesystem as --upper")
	cmd.Flags().StringSliceVarP(&o.Options, "options", "o", nil, "extra options: ro, nosuid, userxattr, index=off, ...")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the report as JSON")
	return cmd
}

func overlayMountRun(cmd *cobra.Command, app *App, o *overlayMountOptions) error {
	s, err := absOverlaySpec(o.spec())
	if err != nil {
		return err
	}
	if err := overlay.Mount(cmd.Context(), s); err != nil {
		return err
	}
	line, _ := overlay.MountinfoLine(s.Target)
	r := &explain.Report{Title: "overlay mounted at " + s.Target}
	r.Add("mountinfo "+s.Target, "(not a mount point)", line)
	for i, l := range s.Lowers {
		r.Add(overlay.LayerName(i)+" (read-only)", "", l)
	}
	if s.Upper != "" {
		r.Add("upper (writable)", "", s.Upper)
		r.Add("work", "", s.Work)
	}
	r.Note("reads come from the topmost layer holding a path; writes copy the file up into upper first")
	r.Note("see which layer serves each path: ctrlab overlay layers " + s.Target)
	r.Equiv(s.Equivalent())
	if o.JSON {
		return writeJSON(app.Out, r)
	}
	return renderStep(app.Out, r)
}

func absOverlaySpec(s overlay.Spec) (overlay.Spec, error) {
	var err error
	abs := func(p string) string {
		if p == "" || err != nil {
			return p
		}
		var a string
		a, err = filepath.Abs(p)
		return a
	}
	for i := range s.Lowers {
		s.Lowers[i] = abs(s.Lowers[i])
	}
	s.Upper, s.Work, s.Target = abs(s.Upper), abs(s.Work), abs(s.Target)
	return s, err
}

// ---- layers ----

type overlayLayersOptions struct {
	Merged string
	JSON   bool
}

func newOverlayLayersCmd(app *App, runF func(*overlayLayersOptions) error) *cobra.Command {
	o := &overlayLayersOptions{}
	cmd := &cobra.Command{
		Use:   "layers MERGED",
		Short: "Show which layer serves each path of a mounted overlay",
		Long: `Reads the overlay's layers from its line in /proc/self/mountinfo (the
lowerdir=, upperdir= super options) and walks the layer directories
themselves, resolving each path as overlayfs does: the topmost layer holding
a path serves it; a whiteout (0/0 character device) deletes it; an opaque
directory (trusted.overlay.opaque=y) hides everything below it.

Reading trusted.* xattrs needs root: without it opaque directories go unseen.`,
		Example: `  sudo ctrlab overlay layers /tmp/ctrlab-o/merged
  sudo ctrlab overlay layers /tmp/ctrlab-o/merged --json | jq '.entries[] | select(.whiteout)'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Merged = args[0]
			if runF != nil {
				return runF(o)
			}
			return overlayLayersRun(app, o)
		},
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the entries as JSON")
	return cmd
}

func overlayLayersRun(app *App, o *overlayLayersOptions) error {
	if os.Geteuid() != 0 {
		fmt.Fprintln(app.ErrOut, "note: not root: trusted.overlay.* xattrs are invisible, opaque directories will not be marked")
	}
	s, err := overlay.MountedSpec(o.Merged)
	if err != nil {
		return err
	}
	es, err := overlay.Layers(s)
	if err != nil {
		return fmt.Errorf("reading the layers of %q: %w", s.Target, err)
	}
	if o.JSON {
		return writeJSON(app.Out, struct {
			Spec    overlay.Spec    `json:"spec"`
			Entries []overlay.Entry `json:"entries"`
		}{s, es})
	}
	if err := renderLayers(app.Out, es); err != nil {
		return err
	}
	fmt.Fprintf(app.Out, "Equivalent to: %s\n", s.Equivalent())
	return nil
}

// renderLayers prints the layer table: which layer serves each path.
func renderLayers(w io.Writer, es []overlay.Entry) error {
	t := newTable(w, "path", "type", "served by", "also in", "note")
	for _, e := range es {
		note := ""
		switch {
		case e.Whiteout:
			note = "whiteout: deleted, hides " + strings.Join(e.Below, " ")
		case e.Opaque:
			note = "opaque dir: lower contents hidden"
		case e.Type != "dir" && e.LayerIndex < 0 && len(e.Below) > 0:
			note = "copied up (lower copy hidden)"
		case e.Type != "dir" && e.LayerIndex < 0:
			note = "new in upper"
		case e.Type != "dir" && len(e.Below) > 0:
			note = "hides the lower copy"
		}
		if e.Whiteout && len(e.Below) == 0 {
			note = "whiteout"
		}
		if err := t.row(e.Path, e.Type, layerLabel(e), strings.Join(e.Below, " "), note); err != nil {
			return err
		}
	}
	return t.render()
}

func layerLabel(e overlay.Entry) string {
	if e.LayerIndex < 0 {
		return e.Layer
	}
	return fmt.Sprintf("%s (%s)", e.Layer, filepath.Base(e.LayerDir))
}

// ---- diff ----

type overlayDiffOptions struct {
	Upper string
	Lower string
	JSON  bool
}

func newOverlayDiffCmd(app *App, runF func(*overlayDiffOptions) error) *cobra.Command {
	o := &overlayDiffOptions{}
	cmd := &cobra.Command{
		Use:   "diff UPPER",
		Short: "List a container's changes from its upper layer, as 'docker diff' does",
		Long: `Walks the upper (writable) directory of an overlay and prints what the
container changed, as 'docker diff' does:

  A  added: only in upper
  C  changed: copied up from a lower layer, or a directory something inside changed
  D  deleted: a whiteout in upper, or a lower entry hidden by an opaque directory

The lower layers tell "added" from "changed". If UPPER belongs to a mounted
overlay they are read from /proc/self/mountinfo; otherwise give --lower. With
neither, ctrlab falls back to the trusted.overlay.origin xattr the kernel
puts on copied-up files.`,
		Example: `  sudo ctrlab overlay diff /tmp/ctrlab-o/up
  sudo ctrlab overlay diff /tmp/ctrlab-o/up --lower /tmp/ctrlab-o/a:/tmp/ctrlab-o/b --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Upper = args[0]
			if runF != nil {
				return runF(o)
			}
			return overlayDiffRun(app, o)
		},
	}
	cmd.Flags().StringVar(&o.Lower, "lower", "", "lower layers, top first, ':'-separated (default: from the mount using UPPER)")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the changes as JSON")
	return cmd
}

func overlayDiffRun(app *App, o *overlayDiffOptions) error {
	fi, err := os.Stat(o.Upper)
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("reading upper directory %q: %w", o.Upper, overlay.ErrUpperMissing)
	}
	var lowers []string
	switch {
	case o.Lower != "":
		lowers = strings.Split(o.Lower, ":")
	default:
		if s, err := overlay.FindByUpper(o.Upper); err == nil {
			lowers = s.Lowers
			fmt.Fprintf(app.ErrOut, "lower layers from the overlay mounted at %s\n", s.Target)
		} else {
			fmt.Fprintln(app.ErrOut, "note: no mounted overlay uses this upper and no --lower given: telling changed from added by the trusted.overlay.origin xattr")
		}
	}
	cs, err := overlay.Diff(o.Upper, lowers...)
	if err != nil {
		return fmt.Errorf("diffing %q: %w", o.Upper, err)
	}
	if o.JSON {
		if cs == nil {
			cs = []overlay.Change{}
		}
		return writeJSON(app.Out, cs)
	}
	return renderDiff(app.Out, cs)
}

func renderDiff(w io.Writer, cs []overlay.Change) error {
	t := newTable(w, "kind", "path", "why")
	for _, c := range cs {
		why := map[string]string{overlay.ChangeAdd: "added (only in upper)", overlay.ChangeModify: "changed (upper's copy hides the lower one)", overlay.ChangeDelete: "deleted"}[c.Kind]
		switch {
		case c.Dir && c.Kind == overlay.ChangeModify && !c.Opaque:
			why = "directory copied up (something inside changed)"
		case c.Whiteout:
			why = "deleted (whiteout in upper)"
		case c.Opaque && c.Kind == overlay.ChangeDelete:
			why = "deleted (hidden by an opaque dir)"
		case c.Opaque:
			why = "directory replaced (opaque)"
		}
		if err := t.row(c.Kind, c.Path, why); err != nil {
			return err
		}
	}
	return t.render()
}

// ---- umount ----

type overlayUmountOptions struct {
	Merged string
	JSON   bool
}

func newOverlayUmountCmd(app *App, runF func(*overlayUmountOptions) error) *cobra.Command {
	o := &overlayUmountOptions{}
	cmd := &cobra.Command{
		Use:     "umount MERGED",
		Aliases: []string{"unmount"},
		Short:   "Unmount an overlay (lazily if it is busy)",
		Long: `Unmounts the overlay at MERGED with umount2(2). If a process still has a file
open or its working directory inside, the mount is detached lazily
(MNT_DETACH): it vanishes from the tree now and the kernel frees it when the
last user goes. The layer directories are left as they are: upper keeps the
container's changes. ctrlab refuses to unmount anything but an overlay.`,
		Example: `  sudo ctrlab overlay umount /tmp/ctrlab-o/merged`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Merged = args[0]
			if runF != nil {
				return runF(o)
			}
			if err := requireRoot("ctrlab overlay umount"); err != nil {
				return err
			}
			line, err := overlay.MountinfoLine(o.Merged)
			if err != nil {
				return err
			}
			if err := overlay.Unmount(o.Merged); err != nil {
				return err
			}
			r := &explain.Report{Title: "overlay unmounted from " + o.Merged}
			r.Add("mountinfo "+o.Merged, line, "(not a mount point)")
			r.Note("the layer directories are untouched: upper still holds the changes (ctrlab overlay diff UPPER)")
			r.Equiv("umount " + o.Merged)
			if o.JSON {
				return writeJSON(app.Out, r)
			}
			return renderStep(app.Out, r)
		},
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the report as JSON")
	return cmd
}
