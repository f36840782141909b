package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctrlab/ctrlab/labs"
	"github.com/ctrlab/ctrlab/pkg/grade"
)

// labCmds returns `ctrlab lab` and `ctrlab check`.
func labCmds(app *App) []*cobra.Command {
	return []*cobra.Command{newLabCmd(app), newCheckCmd(app, nil)}
}

func loadLab(name string) (*grade.Lab, error) {
	all, err := grade.Load(labs.FS)
	if err != nil {
		return nil, err
	}
	l, err := grade.Find(all, name)
	if err != nil {
		return nil, &FlagError{Err: err}
	}
	return l, nil
}

func newLabCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Hands-on labs: build a piece by hand, then let `ctrlab check` grade it",
		Long: `A lab asks you to build one piece of a container by hand with the standard
tools (unshare, nsenter, ip, mount, the cgroup files). 'ctrlab check NAME'
grades your work by reading the live kernel - the namespaces of your process,
the links in your netns, your cgroup's limit - never files you could fake.

Typical flow:
  ctrlab lab list
  sudo ctrlab lab start netns-veth     # instructions + fixtures
  ...do the tasks in a shell...
  sudo ctrlab check netns-veth         # PASS/FAIL per task, with hints
  sudo ctrlab lab reset netns-veth     # remove what the lab and you created`,
	}
	var jsonOut bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the labs in course order",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			all, err := grade.Load(labs.FS)
			if err != nil {
				return err
			}
			if jsonOut {
				return writeJSON(app.Out, all)
			}
			t := newTable(app.Out, "name", "topic", "tasks", "title")
			for _, l := range all {
				if err := t.row(l.Name, l.Topic, len(l.Tasks), l.Title); err != nil {
					return err
				}
			}
			return t.render()
		},
	}
	list.Flags().BoolVar(&jsonOut, "json", false, "print the labs as JSON")

	start := &cobra.Command{
		Use:   "start NAME",
		Short: "Print a lab's instructions and prepare its fixtures",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := loadLab(args[0])
			if err != nil {
				return err
			}
			if err := requireRoot("ctrlab lab start"); err != nil {
				return err
			}
			if err := grade.Start(cmd.Context(), l, app.ErrOut); err != nil {
				return err
			}
			printLab(app.Out, l)
			return nil
		},
	}
	show := &cobra.Command{
		Use:   "show NAME",
		Short: "Print a lab's instructions without preparing anything",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := loadLab(args[0])
			if err != nil {
				return err
			}
			printLab(app.Out, l)
			return nil
		},
	}
	solve := &cobra.Command{
		Use:   "solve NAME",
		Short: "Run the lab's reference solution (for teachers and CI)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := loadLab(args[0])
			if err != nil {
				return err
			}
			if err := requireRoot("ctrlab lab solve"); err != nil {
				return err
			}
			fmt.Fprintf(app.ErrOut, "running the reference solution of %s:\n%s\n", l.Name, indent(l.Solution))
			if err := grade.Solve(cmd.Context(), l, app.ErrOut); err != nil {
				return err
			}
			fmt.Fprintf(app.Out, "solved %s: run 'ctrlab check %s' to grade it\n", l.Name, l.Name)
			return nil
		},
	}
	reset := &cobra.Command{
		Use:   "reset NAME",
		Short: "Remove everything the lab and your attempt created (only what the lab names)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := loadLab(args[0])
			if err != nil {
				return err
			}
			if err := requireRoot("ctrlab lab reset"); err != nil {
				return err
			}
			done, err := grade.Reset(cmd.Context(), l)
			for _, d := range done {
				fmt.Fprintln(app.Out, d)
			}
			if err == nil && len(done) == 0 {
				fmt.Fprintf(app.Out, "nothing of %s to remove\n", l.Name)
			}
			return err
		},
	}
	cmd.AddCommand(list, show, start, solve, reset)
	return cmd
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

func printLab(w io.Writer, l *grade.Lab) {
	fmt.Fprintf(w, "# %s\n\nGoal: %s\n\n%s\n", l.Title, l.Goal, strings.TrimSpace(l.Background))
	for i, t := range l.Tasks {
		fmt.Fprintf(w, "\nTask %d (%s): %s\n%s\n", i+1, t.ID, t.Title, indent(strings.TrimSpace(t.Text)))
	}
	fmt.Fprintf(w, "\nWhen done: sudo ctrlab check %s   (hints appear on failed tasks)\n", l.Name)
}

type checkOptions struct {
	Name   string
	Format string
	Watch  bool
	// Interval between checks with --watch.
	Interval time.Duration
}

func newCheckCmd(app *App, runF func(*checkOptions) error) *cobra.Command {
	opts := &checkOptions{Interval: time.Second}
	cmd := &cobra.Command{
		Use:   "check NAME",
		Short: "Grade a lab by reading the live kernel state",
		Long: `check grades each task of a lab by reading the kernel: /proc/PID/ns and
/proc/PID/status of the process the task names, the hostname inside its UTS
namespace, links, addresses and routes via netlink inside a netns, a real
cgroup's files, /proc/self/mountinfo, an ICMP echo it sends itself. Writing
the expected words into a file never passes.

Exit status 0 only when every task passes; 3 when any fails.
--format json|tap|junit gives output an auto-grader (GitHub Classroom, CI)
can consume; --watch re-checks every second until everything passes.`,
		Example: `  sudo ctrlab check pid-uts
  sudo ctrlab check bridge-nat --format junit > report.xml
  sudo ctrlab check cgroup-memory --watch`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			switch opts.Format {
			case "text", "json", "tap", "junit":
			default:
				return flagErrorf("--format must be text, json, tap or junit (got %q)", opts.Format)
			}
			if runF != nil {
				return runF(opts)
			}
			return checkRun(cmd.Context(), app, opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "text", "output format: text, json, tap or junit")
	cmd.Flags().BoolVar(&opts.Watch, "watch", false, "re-check every second until every task passes")
	return cmd
}

func checkRun(ctx context.Context, app *App, opts *checkOptions) error {
	l, err := loadLab(opts.Name)
	if err != nil {
		return err
	}
	if err := requireRoot("ctrlab check"); err != nil {
		return err
	}
	for {
		r := grade.Grade(ctx, l)
		if !opts.Watch || r.AllPassed() {
			if err := renderReport(app.Out, r, opts.Format); err != nil {
				return err
			}
			if !r.AllPassed() {
				return &ExitError{Code: ExitCheckFails}
			}
			return nil
		}
		if opts.Format == "text" {
			fmt.Fprintf(app.ErrOut, "\r%s: %d/%d tasks pass, checking again... (ctrl-C to stop)", l.Name, r.Passed, r.Total)
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(app.ErrOut)
			_ = renderReport(app.Out, r, opts.Format)
			return &ExitError{Code: ExitCheckFails}
		case <-time.After(opts.Interval):
		}
	}
}

func renderReport(w io.Writer, r *grade.Report, format string) error {
	switch format {
	case "json":
		return grade.WriteJSON(w, r)
	case "tap":
		return grade.WriteTAP(w, r)
	case "junit":
		return grade.WriteJUnit(w, r)
	}
	fmt.Fprintf(w, "%s: %s\n", r.Lab, r.Title)
	t := newTable(w, "", "task", "result", "found")
	for _, task := range r.Tasks {
		res, found := "PASS", ""
		for _, c := range task.Checks {
			if !c.Pass {
				res, found = "FAIL", c.Found
				break
			}
			found = c.Found
		}
		mark := "✔"
		if !task.Pass {
			mark = "✘"
		}
		if err := t.row(mark, task.ID+": "+task.Title, res, found); err != nil {
			return err
		}
	}
	if err := t.render(); err != nil {
		return err
	}
	for _, task := range r.Tasks {
		if task.Pass {
			continue
		}
		fmt.Fprintf(w, "\n✘ %s\n", task.Title)
		for _, c := range task.Checks {
			if !c.Pass {
				fmt.Fprintf(w, "  expected: %s\n  found:    %s\n", c.Expected, c.Found)
			}
		}
		fmt.Fprintf(w, "  hint:     %s\n", strings.TrimSpace(task.Hint))
	}
	fmt.Fprintf(w, "\nscore: %d/%d tasks (%.0f%%)\n", r.Passed, r.Total, r.Score*100)
	return nil
}
