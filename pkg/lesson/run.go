package lesson

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// StepResult is what running (or skipping) one step produced.
type StepResult struct {
	// Index is the 1-based step number.
	Index    int           `json:"index"`
	Title    string        `json:"title"`
	Skipped  bool          `json:"skipped,omitempty"`
	ExitCode int           `json:"exitCode"`
	Missing  []string      `json:"missing,omitempty"`
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration"`
	Output   string        `json:"-"`
}

// OK reports whether the step ran, exited 0 and met every expectation.
func (s StepResult) OK() bool {
	return !s.Skipped && s.ExitCode == 0 && s.Error == "" && len(s.Missing) == 0
}

// Result sums up one lesson run.
type Result struct {
	Lesson   string       `json:"lesson"`
	Steps    []StepResult `json:"steps"`
	Quit     bool         `json:"quit,omitempty"`
	Finished bool         `json:"finished"`
	Failed   int          `json:"failed"`
}

// Runner runs lessons: interactively (Enter runs a step, s skips, q quits)
// or, with Auto, every step without pausing.
type Runner struct {
	// Out receives the rendered lesson and each command's output.
	Out io.Writer
	// In supplies the learner's keys (one line each) when not Auto.
	In     io.Reader
	Render Renderer
	// Exe is the ctrlab binary: step commands find it first on PATH as
	// "ctrlab" (a symlink in a private bin directory).
	Exe string
	// Progress, when not nil, is read to resume and updated after each step.
	Progress *Progress
	Auto     bool
	// From is the 1-based step to start at (0: resume from progress).
	From int
	// StepTimeout bounds each command (default 5 minutes).
	StepTimeout time.Duration

	in *bufio.Reader
}

// Run runs lesson l. In Auto mode it returns an error wrapping
// ErrStepFailed when any step failed; interactively a failed step may be
// retried or skipped. Quitting is not an error: Result.Quit is set.
func (r *Runner) Run(ctx context.Context, l *Lesson) (*Result, error) {
	if r.in == nil && r.In != nil {
		r.in = bufio.NewReader(r.In)
	}
	res := &Result{Lesson: l.Name}
	start := 0
	var prev LessonProgress
	if r.Progress != nil {
		prev = r.Progress.Lessons[l.Name]
	}
	switch {
	case r.From > 0:
		if r.From > len(l.Steps) {
			return nil, fmt.Errorf("step %d: %q has %d steps", r.From, l.Name, len(l.Steps))
		}
		start = r.From - 1
	case !prev.Done && prev.Next > 0 && prev.Next < len(l.Steps):
		start = prev.Next
	}

	env, cleanup, err := r.stepEnv(l)
	if err != nil {
		return nil, err
	}
	defer cleanup()

	r.Render.Heading(r.Out, 1, fmt.Sprintf("%s (%d min)", l.Title, l.Minutes))
	if start > 0 {
		fmt.Fprintf(r.Out, "%s\n\n", r.Render.Dim(fmt.Sprintf("Resuming at step %d of %d (--reset starts over).", start+1, len(l.Steps))))
	} else {
		r.Render.Markdown(r.Out, l.Intro)
	}

	for i := start; i < len(l.Steps); {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		step := &l.Steps[i]
		r.Render.StepHeader(r.Out, l, i)
		if !r.Auto {
			switch r.ask("[Enter] run it   [s] skip   [q] quit > ") {
			case "q":
				res.Quit = true
				return res, r.save(l, LessonProgress{Next: i})
			case "s":
				res.Steps = append(res.Steps, StepResult{Index: i + 1, Title: step.Title, Skipped: true})
				i++
				if err := r.save(l, LessonProgress{Next: i}); err != nil {
					return res, err
				}
				continue
			}
		}
		sr := RunStep(ctx, step, env.dir, env.vars, r.Out, r.timeout())
		sr.Index = i + 1
		res.Steps = append(res.Steps, sr)
		r.verdict(sr)
		fmt.Fprintln(r.Out)
		r.Render.Callout(r.Out, "Notice", step.Notice)
		if step.Question != "" {
			r.Render.Callout(r.Out, "Question", step.Question)
		}
		if !sr.OK() {
			res.Failed++
			if !r.Auto {
				fmt.Fprintln(r.Out, r.Render.Dim("This step did not do what the lesson expects: Enter tries it again, s skips it."))
				continue
			}
		}
		i++
		if err := r.save(l, LessonProgress{Next: i}); err != nil {
			return res, err
		}
	}
	res.Finished = true
	if l.Outro != "" {
		r.Render.Markdown(r.Out, l.Outro)
	}
	if err := r.save(l, LessonProgress{Next: len(l.Steps), Done: res.Failed == 0 || !r.Auto}); err != nil {
		return res, err
	}
	if r.Auto && res.Failed > 0 {
		var names []string
		for _, s := range res.Steps {
			if !s.OK() {
				names = append(names, fmt.Sprintf("%d (%s)", s.Index, s.Title))
			}
		}
		return res, fmt.Errorf("%s: %w: step %s", l.Name, ErrStepFailed, strings.Join(names, ", step "))
	}
	return res, nil
}

func (r *Runner) timeout() time.Duration {
	if r.StepTimeout > 0 {
		return r.StepTimeout
	}
	return 5 * time.Minute
}

// ask prompts and returns "" (run), "s" or "q". End of input quits.
func (r *Runner) ask(prompt string) string {
	for {
		fmt.Fprint(r.Out, "\n"+r.Render.Bold(prompt))
		if r.in == nil {
			fmt.Fprintln(r.Out)
			return "q"
		}
		line, err := r.in.ReadString('\n')
		a := strings.ToLower(strings.TrimSpace(line))
		if err != nil && line == "" {
			fmt.Fprintln(r.Out)
			return "q"
		}
		switch a {
		case "", "r", "run":
			return ""
		case "s", "skip":
			return "s"
		case "q", "quit", "exit":
			return "q"
		}
		fmt.Fprintf(r.Out, "%q? Press Enter to run the step, s to skip it, q to quit.\n", a)
	}
}

func (r *Runner) verdict(sr StepResult) {
	switch {
	case sr.Error != "":
		fmt.Fprintf(r.Out, "\n%s %s\n", r.Render.Bad("✗"), sr.Error)
	case sr.ExitCode != 0:
		fmt.Fprintf(r.Out, "\n%s the command exited with status %d\n", r.Render.Bad("✗"), sr.ExitCode)
	}
	if len(sr.Missing) > 0 {
		fmt.Fprintf(r.Out, "%s the output lacks what the lesson expects:\n", r.Render.Bad("✗"))
		for _, m := range sr.Missing {
			fmt.Fprintf(r.Out, "    %s\n", m)
		}
	}
	if sr.OK() {
		fmt.Fprintf(r.Out, "\n%s %s\n", r.Render.Good("✓"), r.Render.Dim(fmt.Sprintf("the output shows what the lesson expects (%s)", sr.Duration.Round(time.Millisecond))))
	}
}

func (r *Runner) save(l *Lesson, lp LessonProgress) error {
	if r.Progress == nil {
		return nil
	}
	return r.Progress.Set(l.Name, lp)
}

type stepEnv struct {
	dir  string
	vars []string
}

// stepEnv makes a private working directory and a bin directory holding a
// "ctrlab" symlink to r.Exe, and the environment that puts it first on PATH.
func (r *Runner) stepEnv(l *Lesson) (stepEnv, func(), error) {
	dir, err := os.MkdirTemp("", "ctrlab-lesson-")
	if err != nil {
		return stepEnv{}, nil, fmt.Errorf("making the lesson's working directory: %w", err)
	}
	bin := filepath.Join(dir, ".bin")
	work := filepath.Join(dir, "work")
	cleanup := func() { removeUnlessMounted(dir) }
	if err := os.Mkdir(bin, 0o755); err == nil {
		err = os.Mkdir(work, 0o755)
	}
	if err != nil {
		cleanup()
		return stepEnv{}, nil, fmt.Errorf("making the lesson's working directory: %w", err)
	}
	vars := os.Environ()
	if r.Exe != "" {
		exe, err := filepath.EvalSymlinks(r.Exe)
		if err == nil {
			err = os.Symlink(exe, filepath.Join(bin, "ctrlab"))
		}
		if err != nil {
			cleanup()
			return stepEnv{}, nil, fmt.Errorf("putting ctrlab on the lesson's PATH: %w", err)
		}
		path := bin
		if p := os.Getenv("PATH"); p != "" {
			path += ":" + p
		} else {
			path += ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		}
		vars = append(vars, "PATH="+path)
	}
	vars = append(vars, "CTRLAB_LESSON="+l.Name)
	return stepEnv{dir: work, vars: vars}, cleanup, nil
}

// removeUnlessMounted removes dir unless something is still mounted under
// it (a step that failed to clean up): RemoveAll would then delete the
// mounted filesystem's files.
func removeUnlessMounted(dir string) {
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir) {
			return
		}
	}
	_ = os.RemoveAll(dir)
}

// RunStep runs one step's command with `sh -c` in dir with env, streaming
// its output to out, and checks the combined stdout+stderr against the
// step's expectations. stdin is /dev/null: steps never wait for input. The
// command runs in its own process group, killed on timeout or cancel.
func RunStep(ctx context.Context, s *Step, dir string, env []string, out io.Writer, timeout time.Duration) StepResult {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var buf bytes.Buffer
	w := io.MultiWriter(out, &buf)
	cmd := exec.CommandContext(ctx, "sh", "-c", s.Run)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	fmt.Fprintln(out)
	t0 := time.Now()
	err := cmd.Run()
	sr := StepResult{Title: s.Title, Duration: time.Since(t0)}
	sr.Output = buf.String()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		sr.Error = fmt.Sprintf("the command did not finish within %s", timeout)
		sr.ExitCode = -1
	case errors.As(err, &ee):
		sr.ExitCode = ee.ExitCode()
	case err != nil:
		sr.Error = fmt.Sprintf("running the step: %v", err)
		sr.ExitCode = -1
	}
	sr.Missing = s.Missing(buf.Bytes())
	return sr
}
