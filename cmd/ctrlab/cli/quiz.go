package cli

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ctrlab/ctrlab/pkg/lesson"
	"github.com/ctrlab/ctrlab/pkg/quiz"
	"github.com/ctrlab/ctrlab/quizzes"
)

type quizOptions struct {
	Topic   string
	Answers string
	JSON    bool
	Seed    uint64
	Pass    int
	// FS is a test seam: the quizzes to load (default: the embedded ones).
	FS fs.FS
}

func newQuizCmd(app *App, runF func(*quizOptions) error) *cobra.Command {
	opts := &quizOptions{}
	cmd := &cobra.Command{
		Use:   "quiz [TOPIC]",
		Short: "Check what you learned: a quiz per topic, some answered from your own kernel",
		Long: `Without a topic, list the quiz topics. With a topic (or the name of a lesson it
covers), ask its questions in a shuffled order: type a letter for a single
choice, letters (a,c) for a multiple choice, true or false, or — for a live
question — a value you look up on this machine (its correct answer is computed
by ctrlab from /proc and /sys right now). Each wrong answer is explained; the
score comes at the end.

--answers FILE grades an answer file without asking: YAML or JSON mapping each
question id to an answer. Letters there refer to the order of choices in the
quiz file (see docs/teachers-guide.md), not a shuffled order:

  pid-one: b
  pid-proc-mounts: [a, c]
  ns-shared-kernel: true
  live-nspid-depth: "1"

--pass PERCENT makes the exit status 3 when the score is lower (for scripts).`,
		Example: `  ctrlab quiz                              # the topics
  ctrlab quiz namespaces                   # ask interactively
  ctrlab quiz namespaces --seed 7          # the same order every time
  ctrlab quiz cgroups --answers mine.yaml --json --pass 70`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Topic = args[0]
			}
			if opts.Pass < 0 || opts.Pass > 100 {
				return flagErrorf("--pass must be a percentage between 0 and 100")
			}
			if opts.Topic == "" && opts.Answers != "" {
				return flagErrorf("--answers needs a topic: ctrlab quiz TOPIC --answers FILE")
			}
			if runF != nil {
				return runF(opts)
			}
			return quizRun(app, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Answers, "answers", "", "grade the answers in `FILE` (YAML/JSON: question id -> answer; - for stdin)")
	f.BoolVar(&opts.JSON, "json", false, "print the result (or the topic list) as JSON")
	f.Uint64Var(&opts.Seed, "seed", 0, "fix the shuffle of questions and choices (0: random)")
	f.IntVar(&opts.Pass, "pass", 0, "exit 3 when the score is below `PERCENT`")
	return cmd
}

type quizListEntry struct {
	Topic     string   `json:"topic"`
	Title     string   `json:"title"`
	Questions int      `json:"questions"`
	Lessons   []string `json:"lessons"`
}

func quizRun(app *App, opts *quizOptions) error {
	fsys := opts.FS
	if fsys == nil {
		fsys = quizzes.FS
	}
	all, err := quiz.Load(fsys)
	if err != nil {
		return fmt.Errorf("loading quizzes: %w", err)
	}
	if opts.Topic == "" {
		var rows []quizListEntry
		for _, q := range all {
			rows = append(rows, quizListEntry{Topic: q.Topic, Title: q.Title, Questions: len(q.Questions), Lessons: q.Lessons})
		}
		if opts.JSON {
			return writeJSON(app.Out, rows)
		}
		t := newTable(app.Out, "topic", "title", "questions", "lessons")
		for _, r := range rows {
			if err := t.row(r.Topic, r.Title, r.Questions, strings.Join(r.Lessons, " ")); err != nil {
				return err
			}
		}
		return t.render()
	}
	q, err := quiz.Find(all, opts.Topic)
	if err != nil {
		return flagErrorf("%v", err)
	}
	var res *quiz.Result
	if opts.Answers != "" {
		var r io.Reader = app.In
		if opts.Answers != "-" {
			f, err := os.Open(opts.Answers)
			if err != nil {
				return fmt.Errorf("reading answers: %w", err)
			}
			defer f.Close()
			r = f
		}
		ans, err := quiz.ReadAnswers(r)
		if err != nil {
			return err
		}
		res = quiz.GradeAnswers(q, ans)
		if !opts.JSON {
			if err := quizReport(app, res); err != nil {
				return err
			}
		}
	} else {
		rd := lesson.Renderer{Color: useColor(app)}
		out := app.Out
		if opts.JSON {
			out = app.ErrOut // the questions go to stderr, the JSON result to stdout
		}
		a := &quiz.Asker{In: app.In, Out: out, Seed: opts.Seed, Good: rd.Good, Bad: rd.Bad, Bold: rd.Bold}
		if res, err = a.Ask(q); err != nil {
			return err
		}
	}
	if opts.JSON {
		if err := writeJSON(app.Out, res); err != nil {
			return err
		}
	}
	if res.Percent < opts.Pass {
		return &ExitError{Code: ExitCheckFails}
	}
	return nil
}

// quizReport prints a graded answer file: one row per question, then the score.
func quizReport(app *App, res *quiz.Result) error {
	t := newTable(app.Out, "question", "result", "given", "expected")
	for _, o := range res.Questions {
		mark := "wrong"
		switch {
		case o.Skipped:
			mark = "skipped"
		case o.Correct:
			mark = "ok"
		}
		given := o.Given
		if given == "" && !o.Skipped {
			given = "(no answer)"
		}
		if err := t.row(o.ID, mark, given, o.Expected); err != nil {
			return err
		}
	}
	if err := t.render(); err != nil {
		return err
	}
	for _, o := range res.Questions {
		if !o.Correct && !o.Skipped {
			fmt.Fprintf(app.Out, "\n%s: %s\n", o.ID, strings.TrimSpace(strings.TrimSpace(o.Why+" ")+" "+o.Explanation))
		}
	}
	fmt.Fprintf(app.Out, "\nScore: %d/%d (%d%%)\n", res.Score, res.Total, res.Percent)
	return nil
}
