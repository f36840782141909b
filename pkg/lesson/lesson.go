package lesson

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/ctrlab/ctrlab/internal/contentfs"
	"gopkg.in/yaml.v3"
)

// Meta is a lesson's YAML front matter.
type Meta struct {
	Name          string   `yaml:"name" json:"name"`
	Title         string   `yaml:"title" json:"title"`
	Summary       string   `yaml:"summary" json:"summary"`
	Order         int      `yaml:"order" json:"order"`
	Prerequisites []string `yaml:"prerequisites" json:"prerequisites,omitempty"`
	NeedsRoot     bool     `yaml:"needsRoot" json:"needsRoot"`
	Minutes       int      `yaml:"minutes" json:"minutes"`
}

// Lesson is one parsed lesson file.
type Lesson struct {
	Meta
	// File is the name the lesson was loaded from.
	File string `json:"file"`
	// Intro is the Markdown before the first step.
	Intro string `json:"intro"`
	Steps []Step `json:"steps"`
	// Outro is the Markdown after the last step (a "## " heading that is
	// not a step), shown when the lesson is finished.
	Outro string `json:"outro,omitempty"`
}

// Step is one "## Step: title" section.
type Step struct {
	Title string `json:"title"`
	// Text is the explanation (Markdown), without the run/expect blocks
	// and the notice and question.
	Text string `json:"text"`
	// Run is the shell command line ctrlab runs with `sh -c`.
	Run string `json:"run"`
	// Expect holds one expectation per entry (see Expectation).
	Expect   []string `json:"expect"`
	Notice   string   `json:"notice"`
	Question string   `json:"question,omitempty"`
}

const stepPrefix = "## Step:"

var (
	noticeRe   = regexp.MustCompile(`^>\s*\*\*Notice:?\*\*:?\s*`)
	questionRe = regexp.MustCompile(`^>\s*\*\*Question:?\*\*:?\s*`)
)

// Parse parses one lesson file. It does not validate; call Validate.
func Parse(file string, data []byte) (*Lesson, error) {
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	if !strings.HasPrefix(text, "---\n") {
		return nil, fmt.Errorf("parsing %s: %w: no front matter (the file must start with ---)", file, ErrInvalid)
	}
	end := strings.Index(text[4:], "\n---\n")
	if end < 0 {
		return nil, fmt.Errorf("parsing %s: %w: front matter is not closed by ---", file, ErrInvalid)
	}
	l := &Lesson{File: file}
	dec := yaml.NewDecoder(strings.NewReader(text[4 : 4+end]))
	dec.KnownFields(true)
	if err := dec.Decode(&l.Meta); err != nil {
		return nil, fmt.Errorf("parsing front matter of %s: %w: %v", file, ErrInvalid, err)
	}
	body := text[4+end+5:]

	var (
		cur     *Step
		buf     []string // text of the current part
		inFence string   // "" or the fence's info string
		fence   []string
		quote   *string // the notice or question being continued
		intro   = true
		outro   bool
		errs    []error
	)
	flushText := func() {
		s := strings.TrimSpace(strings.Join(buf, "\n"))
		buf = nil
		switch {
		case cur != nil:
			if s != "" {
				if cur.Text != "" {
					cur.Text += "\n\n"
				}
				cur.Text += s
			}
		case outro:
			if s != "" {
				l.Outro = strings.TrimSpace(l.Outro + "\n\n" + s)
			}
		case intro:
			l.Intro = strings.TrimSpace(l.Intro + "\n\n" + s)
		}
	}
	finishStep := func() {
		flushText()
		if cur != nil {
			l.Steps = append(l.Steps, *cur)
			cur = nil
		}
	}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if inFence != "" {
			if strings.TrimSpace(line) == "```" {
				if err := l.closeFence(cur, inFence, fence, &buf); err != nil {
					errs = append(errs, err)
				}
				inFence, fence = "", nil
				continue
			}
			fence = append(fence, line)
			continue
		}
		if strings.HasPrefix(line, "```") {
			quote = nil
			inFence = strings.TrimSpace(strings.TrimPrefix(line, "```"))
			if inFence == "" {
				inFence = "text"
			}
			continue
		}
		if strings.HasPrefix(line, stepPrefix) {
			finishStep()
			intro, outro = false, false
			cur = &Step{Title: strings.TrimSpace(strings.TrimPrefix(line, stepPrefix))}
			quote = nil
			continue
		}
		if strings.HasPrefix(line, "## ") && !intro {
			finishStep()
			outro = true
			buf = append(buf, line)
			continue
		}
		if cur != nil {
			if m := noticeRe.FindString(line); m != "" {
				flushText()
				cur.Notice = strings.TrimSpace(line[len(m):])
				quote = &cur.Notice
				continue
			}
			if m := questionRe.FindString(line); m != "" {
				flushText()
				cur.Question = strings.TrimSpace(line[len(m):])
				quote = &cur.Question
				continue
			}
			if quote != nil && strings.HasPrefix(line, ">") {
				*quote = strings.TrimSpace(*quote + " " + strings.TrimSpace(strings.TrimPrefix(line, ">")))
				continue
			}
			quote = nil
		}
		buf = append(buf, line)
	}
	if inFence != "" {
		errs = append(errs, fmt.Errorf("a ```%s block is not closed", inFence))
	}
	finishStep()
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("parsing %s: %w: %w", file, ErrInvalid, errors.Join(errs...))
	}
	return l, nil
}

// closeFence files a finished fenced block: run and expect blocks belong to
// the current step; any other block is part of the explanation text.
func (l *Lesson) closeFence(cur *Step, info string, lines []string, buf *[]string) error {
	switch info {
	case "run", "expect":
		if cur == nil {
			return fmt.Errorf("a ```%s block outside a %q section", info, stepPrefix)
		}
		if info == "run" {
			if cur.Run != "" {
				return fmt.Errorf("step %q has more than one ```run block", cur.Title)
			}
			cur.Run = strings.TrimSpace(strings.Join(lines, "\n"))
			return nil
		}
		if cur.Expect != nil {
			return fmt.Errorf("step %q has more than one ```expect block", cur.Title)
		}
		cur.Expect = []string{}
		for _, e := range lines {
			if e = strings.TrimSpace(e); e != "" {
				cur.Expect = append(cur.Expect, e)
			}
		}
		return nil
	}
	*buf = append(*buf, "```"+info)
	*buf = append(*buf, lines...)
	*buf = append(*buf, "```")
	return nil
}

var nameRe = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Validate checks one lesson on its own: front matter fields and, for each
// step, exactly one run block, an expect block with valid expectations and
// a notice.
func (l *Lesson) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !nameRe.MatchString(l.Name) {
		bad("name %q must be lower-case words joined by '-'", l.Name)
	}
	if base := strings.TrimSuffix(path.Base(l.File), ".md"); l.File != "" && base != l.Name {
		bad("name %q must match the file name %q", l.Name, path.Base(l.File))
	}
	if l.Title == "" {
		bad("title is empty")
	}
	if l.Summary == "" {
		bad("summary is empty")
	}
	if l.Order <= 0 {
		bad("order must be a positive number")
	}
	if l.Minutes <= 0 {
		bad("minutes must be a positive number")
	}
	if strings.TrimSpace(l.Intro) == "" {
		bad("no introduction before the first step")
	}
	if len(l.Steps) == 0 {
		bad("no %q sections", stepPrefix)
	}
	for i, s := range l.Steps {
		at := fmt.Sprintf("step %d (%q)", i+1, s.Title)
		if s.Title == "" {
			bad("%s has no title", at)
		}
		if s.Run == "" {
			bad("%s has no ```run block", at)
		}
		if len(s.Expect) == 0 {
			bad("%s has no ```expect block (every step declares what its output must contain)", at)
		}
		for _, e := range s.Expect {
			if _, err := ParseExpectation(e); err != nil {
				bad("%s: %v", at, err)
			}
		}
		if s.Notice == "" {
			bad("%s has no > **Notice:** block", at)
		}
		if strings.TrimSpace(s.Text) == "" {
			bad("%s has no explanation", at)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: %w: %w", l.File, ErrInvalid, errors.Join(errs...))
	}
	return nil
}

// Set is the course: every lesson, in course order.
type Set struct {
	Lessons []*Lesson
}

// Load parses and validates every *.md file at the top of fsys and checks
// the course as a whole: unique names and orders, known prerequisites that
// come earlier in the course.
func Load(fsys fs.FS) (*Set, error) {
	lessons, errs, err := contentfs.ParseAll(fsys, "*.md", "lessons", Parse)
	if err != nil {
		return nil, err
	}
	set := &Set{Lessons: lessons}
	sort.SliceStable(set.Lessons, func(i, j int) bool { return set.Lessons[i].Order < set.Lessons[j].Order })
	names := map[string]int{}
	orders := map[int]string{}
	for _, l := range set.Lessons {
		if _, dup := names[l.Name]; dup {
			errs = append(errs, fmt.Errorf("%w: two lessons are named %q", ErrInvalid, l.Name))
		}
		if other, dup := orders[l.Order]; dup {
			errs = append(errs, fmt.Errorf("%w: %q and %q have the same order %d", ErrInvalid, other, l.Name, l.Order))
		}
		names[l.Name] = l.Order
		orders[l.Order] = l.Name
	}
	for _, l := range set.Lessons {
		for _, p := range l.Prerequisites {
			o, ok := names[p]
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("%w: %s: unknown prerequisite %q", ErrInvalid, l.Name, p))
			case o >= l.Order:
				errs = append(errs, fmt.Errorf("%w: %s: prerequisite %q comes later in the course", ErrInvalid, l.Name, p))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return set, nil
}

// Get returns the lesson with this name, or one whose position in the
// course (1-based) is name.
func (s *Set) Get(name string) (*Lesson, error) {
	for i, l := range s.Lessons {
		if l.Name == name || fmt.Sprint(i+1) == name {
			return l, nil
		}
	}
	return nil, fmt.Errorf("%w %q (run 'ctrlab lesson' for the list)", ErrNotFound, name)
}

// Expectation is one line of an expect block.
type Expectation struct {
	Raw    string
	Substr string
	Re     *regexp.Regexp
}

// ParseExpectation parses one expectation: "re:EXPR" is a Go regular
// expression matched in multi-line mode; anything else is a literal
// substring.
func ParseExpectation(s string) (Expectation, error) {
	if rest, ok := strings.CutPrefix(s, "re:"); ok {
		re, err := regexp.Compile("(?m)" + rest)
		if err != nil {
			return Expectation{}, fmt.Errorf("expectation %q: %w", s, err)
		}
		return Expectation{Raw: s, Re: re}, nil
	}
	return Expectation{Raw: s, Substr: s}, nil
}

// Match reports whether out satisfies the expectation.
func (e Expectation) Match(out []byte) bool {
	if e.Re != nil {
		return e.Re.Match(out)
	}
	return bytes.Contains(out, []byte(e.Substr))
}

// Missing returns the expectations out does not satisfy.
func (s *Step) Missing(out []byte) []string {
	var miss []string
	for _, raw := range s.Expect {
		e, err := ParseExpectation(raw)
		if err != nil || !e.Match(out) {
			miss = append(miss, raw)
		}
	}
	return miss
}
