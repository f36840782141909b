package quiz

import (
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

// Kind is a question kind.
type Kind string

// Question kinds.
const (
	Single    Kind = "single"
	Multiple  Kind = "multiple"
	TrueFalse Kind = "truefalse"
	Live      Kind = "live"
)

// Choice is one option of a single or multiple choice question.
type Choice struct {
	Text    string `yaml:"text" json:"text"`
	Correct bool   `yaml:"correct" json:"correct"`
	// Why explains why this choice is wrong (or right), shown when picked.
	Why string `yaml:"why" json:"why,omitempty"`
}

// Question is one quiz question.
type Question struct {
	ID       string   `yaml:"id" json:"id"`
	Kind     Kind     `yaml:"kind" json:"kind"`
	Question string   `yaml:"question" json:"question"`
	Choices  []Choice `yaml:"choices" json:"choices,omitempty"`
	// Answer is the correct answer of a truefalse question.
	Answer *bool `yaml:"answer" json:"answer,omitempty"`
	// Live names the generator that computes a live question's answer.
	Live        string `yaml:"live" json:"live,omitempty"`
	Explanation string `yaml:"explanation" json:"explanation"`
}

// Quiz is one topic's questions.
type Quiz struct {
	Topic     string     `yaml:"topic" json:"topic"`
	Title     string     `yaml:"title" json:"title"`
	Order     int        `yaml:"order" json:"order"`
	Lessons   []string   `yaml:"lessons" json:"lessons"`
	Questions []Question `yaml:"questions" json:"questions"`
	File      string     `yaml:"-" json:"file"`
}

// MinQuestions is the least number of questions a topic must have.
const MinQuestions = 8

// Parse parses one quiz file (unknown fields are errors).
func Parse(file string, data []byte) (*Quiz, error) {
	q := &Quiz{File: file}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(q); err != nil {
		return nil, fmt.Errorf("parsing %s: %w: %v", file, ErrInvalid, err)
	}
	return q, nil
}

var idRe = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Validate checks the schema: ids unique, a question and an explanation on
// every question, exactly one correct choice for single, at least one for
// multiple, an answer for truefalse, a known generator for live, and at
// least MinQuestions questions.
func (q *Quiz) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !idRe.MatchString(q.Topic) {
		bad("topic %q must be lower-case words joined by '-'", q.Topic)
	}
	if base := strings.TrimSuffix(path.Base(q.File), path.Ext(q.File)); q.File != "" && base != q.Topic {
		bad("topic %q must match the file name %q", q.Topic, path.Base(q.File))
	}
	if q.Title == "" {
		bad("title is empty")
	}
	if len(q.Lessons) == 0 {
		bad("lessons is empty: name the lessons this quiz covers")
	}
	if len(q.Questions) < MinQuestions {
		bad("%d questions, at least %d needed", len(q.Questions), MinQuestions)
	}
	ids := map[string]bool{}
	for i, qu := range q.Questions {
		at := fmt.Sprintf("question %d (%s)", i+1, qu.ID)
		if !idRe.MatchString(qu.ID) {
			bad("%s: id must be lower-case words joined by '-'", at)
		}
		if ids[qu.ID] {
			bad("%s: duplicate id", at)
		}
		ids[qu.ID] = true
		if strings.TrimSpace(qu.Question) == "" {
			bad("%s: no question text", at)
		}
		if strings.TrimSpace(qu.Explanation) == "" {
			bad("%s: no explanation", at)
		}
		correct := 0
		for j, c := range qu.Choices {
			if strings.TrimSpace(c.Text) == "" {
				bad("%s: choice %d has no text", at, j+1)
			}
			if c.Correct {
				correct++
			}
		}
		switch qu.Kind {
		case Single, Multiple:
			if len(qu.Choices) < 2 || len(qu.Choices) > 26 {
				bad("%s: %d choices, want 2 to 26", at, len(qu.Choices))
			}
			if qu.Kind == Single && correct != 1 {
				bad("%s: single choice with %d correct choices, want exactly 1", at, correct)
			}
			if qu.Kind == Multiple && correct < 1 {
				bad("%s: multiple choice with no correct choice", at)
			}
			if qu.Answer != nil || qu.Live != "" {
				bad("%s: answer/live are for truefalse/live questions", at)
			}
		case TrueFalse:
			if qu.Answer == nil {
				bad("%s: truefalse question without answer: true|false", at)
			}
			if len(qu.Choices) > 0 || qu.Live != "" {
				bad("%s: a truefalse question has no choices or live generator", at)
			}
		case Live:
			if _, ok := generators[qu.Live]; !ok {
				bad("%s: unknown live generator %q (have: %s)", at, qu.Live, strings.Join(Generators(), ", "))
			}
			if len(qu.Choices) > 0 || qu.Answer != nil {
				bad("%s: a live question has no choices or fixed answer", at)
			}
		default:
			bad("%s: kind %q, want single, multiple, truefalse or live", at, qu.Kind)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: %w: %w", q.File, ErrInvalid, errors.Join(errs...))
	}
	return nil
}

// Load parses and validates every *.yaml file at the top of fsys, sorted
// by order then topic.
func Load(fsys fs.FS) ([]*Quiz, error) {
	out, errs, err := contentfs.ParseAll(fsys, "*.yaml", "quizzes", Parse)
	if err != nil {
		return nil, err
	}
	topics := map[string]bool{}
	for _, q := range out {
		if topics[q.Topic] {
			errs = append(errs, fmt.Errorf("%w: two quizzes have topic %q", ErrInvalid, q.Topic))
		}
		topics[q.Topic] = true
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Order != out[j].Order {
			return out[i].Order < out[j].Order
		}
		return out[i].Topic < out[j].Topic
	})
	return out, nil
}

// Find returns the quiz for a topic, or the one that covers a lesson of
// that name.
func Find(all []*Quiz, topic string) (*Quiz, error) {
	for _, q := range all {
		if q.Topic == topic {
			return q, nil
		}
	}
	for _, q := range all {
		for _, l := range q.Lessons {
			if l == topic {
				return q, nil
			}
		}
	}
	var names []string
	for _, q := range all {
		names = append(names, q.Topic)
	}
	return nil, fmt.Errorf("%w %q (topics: %s)", ErrNotFound, topic, strings.Join(names, ", "))
}
