package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctrlab/ctrlab/lessons"
	"github.com/ctrlab/ctrlab/pkg/lesson"
)

type lessonOptions struct {
	Name  string
	Auto  bool
	From  int
	Reset bool
	JSON  bool
	// StepTimeout bounds each step's command (0: the runner's default).
	StepTimeout time.Duration
	// FS and Exe are test seams: the lessons to load and the ctrlab binary
	// steps run (default: the embedded lessons and this executable).
	FS  fs.FS
	Exe string
}

func newLessonCmd(app *App, runF func(*lessonOptions) error) *cobra.Command {
	opts := &lessonOptions{}
	cmd := &cobra.Command{
		Use:   "lesson [NAME|NUMBER]",
		Short: "Take a lesson: explanation, a real command, the kernel state it made",
		Long: `Without a name, list the course's lessons in order with your progress.

With a name (or its number in the list), take that lesson. Each step explains
one idea, shows the command it will run, and waits: press Enter to run it for
real on your kernel, s to skip it, q to quit. After the output, a Notice points
at the part that matters, and a Question checks you understood. ctrlab
remembers where you stopped and resumes there next time.

Steps run with 'sh -c' in a private temporary directory; 'ctrlab' in a step is
this very binary. Lessons about namespaces, cgroups, mounts and networks change
kernel state and need root: sudo ctrlab lesson NAME (your progress is still
saved in your own home, not root's).

Progress lives in $XDG_CONFIG_HOME/ctrlab/progress.json (default
~/.config/ctrlab/progress.json; under sudo, the invoking user's).

--auto runs every step without pausing and exits non-zero if any step fails
or its output lacks what the lesson expects: teachers use it to check a
classroom machine, and the test suite to check every lesson.`,
		Example: `  ctrlab lesson                      # the course, with your progress
  sudo ctrlab lesson pid-namespace   # take a lesson (resumes where you stopped)
  sudo ctrlab lesson 3 --from 2      # lesson 3, starting at step 2
  ctrlab lesson chroot --reset       # forget your progress and start over
  sudo ctrlab lesson cgroups --auto  # run every step, fail if one fails`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Name = args[0]
			}
			if opts.From < 0 {
				return flagErrorf("--from must be a step number (1 or more)")
			}
			if opts.StepTimeout < 0 {
				return flagErrorf("--step-timeout must be positive")
			}
			if opts.Name == "" && (opts.Auto || opts.From > 0) {
				return flagErrorf("--auto and --from need a lesson name")
			}
			if opts.Name != "" && opts.JSON {
				return flagErrorf("--json lists lessons; it takes no lesson name")
			}
			if runF != nil {
				return runF(opts)
			}
			return lessonRun(cmd, app, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.Auto, "auto", false, "run every step without pausing; fail if a step fails")
	f.IntVar(&opts.From, "from", 0, "start at step `N` (1-based) instead of where you stopped")
	f.BoolVar(&opts.Reset, "reset", false, "forget your progress (for NAME, or every lesson) first")
	f.BoolVar(&opts.JSON, "json", false, "list lessons and progress as JSON")
	f.DurationVar(&opts.StepTimeout, "step-timeout", 5*time.Minute, "kill a step's commands (its whole process group) after `D`")
	return cmd
}

// lessonListEntry is one row of `ctrlab lesson --json`.
type lessonListEntry struct {
	Number        int      `json:"number"`
	Name          string   `json:"name"`
	Title         string   `json:"title"`
	Summary       string   `json:"summary"`
	Minutes       int      `json:"minutes"`
	NeedsRoot     bool     `json:"needsRoot"`
	Steps         int      `json:"steps"`
	Prerequisites []string `json:"prerequisites,omitempty"`
	Progress      string   `json:"progress"`
}

func lessonRun(cmd *cobra.Command, app *App, opts *lessonOptions) error {
	fsys := opts.FS
	if fsys == nil {
		fsys = lessons.FS
	}
	set, err := lesson.Load(fsys)
	if err != nil {
		return fmt.Errorf("loading lessons: %w", err)
	}
	prog, err := lesson.LoadProgress()
	if err != nil {
		return err
	}
	if opts.Reset {
		name := ""
		if opts.Name != "" {
			l, err := set.Get(opts.Name)
			if err != nil {
				return flagErrorf("%v", err)
			}
			name = l.Name
		}
		if err := prog.Reset(name); err != nil {
			return err
		}
		fmt.Fprintf(app.ErrOut, "progress reset (%s)\n", prog.Path())
	}
	if opts.Name == "" {
		return lessonList(app, set, prog, opts.JSON)
	}
	l, err := set.Get(opts.Name)
	if err != nil {
		return flagErrorf("%v", err)
	}
	if opts.From > len(l.Steps) {
		return flagErrorf("--from %d: lesson %s has %d steps", opts.From, l.Name, len(l.Steps))
	}
	if l.NeedsRoot {
		if err := requireRoot("ctrlab lesson " + l.Name); err != nil {
			return err
		}
	}
	exe := opts.Exe
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return fmt.Errorf("finding the ctrlab binary for the lesson's steps: %w", err)
		}
	}
	r := &lesson.Runner{
		Out: app.Out, In: app.In, Render: lesson.Renderer{Color: useColor(app)},
		Exe: exe, Progress: prog, Auto: opts.Auto, From: opts.From,
		StepTimeout: opts.StepTimeout,
	}
	res, err := r.Run(cmd.Context(), l)
	if err != nil {
		if errors.Is(err, lesson.ErrStepFailed) {
			fmt.Fprintf(app.ErrOut, "ctrlab: %v\n", err)
			return errSilent
		}
		return err
	}
	if res.Quit {
		fmt.Fprintf(app.ErrOut, "\nStopped. 'ctrlab lesson %s' resumes here.\n", l.Name)
		return nil
	}
	rd := r.Render
	fmt.Fprintf(app.Out, "\n%s %s\n", rd.Good("Lesson complete:"), l.Title)
	fmt.Fprintf(app.Out, "Check yourself:  ctrlab quiz %s\n", l.Name)
	for i, x := range set.Lessons {
		if x.Name == l.Name && i+1 < len(set.Lessons) {
			next := set.Lessons[i+1]
			sudo := ""
			if next.NeedsRoot {
				sudo = "sudo "
			}
			fmt.Fprintf(app.Out, "Next lesson:     %sctrlab lesson %s   (%s)\n", sudo, next.Name, next.Title)
		}
	}
	return nil
}

func lessonList(app *App, set *lesson.Set, prog *lesson.Progress, asJSON bool) error {
	var rows []lessonListEntry
	for i, l := range set.Lessons {
		rows = append(rows, lessonListEntry{
			Number: i + 1, Name: l.Name, Title: l.Title, Summary: l.Summary, Minutes: l.Minutes,
			NeedsRoot: l.NeedsRoot, Steps: len(l.Steps), Prerequisites: l.Prerequisites,
			Progress: prog.Status(l),
		})
	}
	if asJSON {
		return writeJSON(app.Out, rows)
	}
	t := newTable(app.Out, "#", "lesson", "title", "min", "root", "progress")
	total, done := 0, 0
	for _, r := range rows {
		root := ""
		if r.NeedsRoot {
			root = "sudo"
		}
		p := r.Progress
		if p == "" {
			p = "-"
		}
		if p == "done" {
			done++
		}
		total += r.Minutes
		if err := t.row(r.Number, r.Name, r.Title, r.Minutes, root, p); err != nil {
			return err
		}
	}
	if err := t.render(); err != nil {
		return err
	}
	fmt.Fprintf(app.ErrOut, "%d of %d lessons done, about %d minutes in all. Start with: ctrlab lesson %s\n",
		done, len(rows), total, firstUndone(set, prog))
	return nil
}

func firstUndone(set *lesson.Set, prog *lesson.Progress) string {
	for _, l := range set.Lessons {
		if prog.Status(l) != "done" {
			return l.Name
		}
	}
	return set.Lessons[0].Name
}
