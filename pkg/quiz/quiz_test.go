package quiz_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ctrlab/ctrlab/lessons"
	"github.com/ctrlab/ctrlab/pkg/lesson"
	"github.com/ctrlab/ctrlab/pkg/quiz"
	"github.com/ctrlab/ctrlab/quizzes"
)

func init() {
	quiz.RegisterLive("test-fixed", func() (string, error) { return "42", nil })
	quiz.RegisterLive("test-unavailable", func() (string, error) {
		return "", fmt.Errorf("test: %w", quiz.ErrUnavailable)
	})
}

// TestEmbeddedQuizzes validates every quiz file and checks that every
// lesson is covered by a quiz.
func TestEmbeddedQuizzes(t *testing.T) {
	all, err := quiz.Load(quizzes.FS)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "quizzes", "*.yaml"))
	if len(all) != len(files) {
		t.Fatalf("loaded %d of %d quiz files", len(all), len(files))
	}
	set, err := lesson.Load(lessons.FS)
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, q := range all {
		if len(q.Questions) < quiz.MinQuestions {
			t.Errorf("%s: %d questions", q.Topic, len(q.Questions))
		}
		for _, l := range q.Lessons {
			if _, err := set.Get(l); err != nil {
				t.Errorf("%s covers unknown lesson %q", q.Topic, l)
			}
			covered[l] = true
		}
		for _, qu := range q.Questions {
			correct := 0
			for _, c := range qu.Choices {
				if c.Correct {
					correct++
				}
			}
			switch qu.Kind {
			case quiz.Single:
				if correct != 1 {
					t.Errorf("%s/%s: %d correct", q.Topic, qu.ID, correct)
				}
			case quiz.Multiple:
				if correct < 1 {
					t.Errorf("%s/%s: no correct choice", q.Topic, qu.ID)
				}
			case quiz.TrueFalse:
				if qu.Answer == nil {
					t.Errorf("%s/%s: no answer", q.Topic, qu.ID)
				}
			}
			if qu.Explanation == "" {
				t.Errorf("%s/%s: no explanation", q.Topic, qu.ID)
			}
		}
	}
	for _, l := range set.Lessons {
		if !covered[l.Name] {
			t.Errorf("lesson %s is covered by no quiz", l.Name)
		}
	}
}

func loadFixture(t *testing.T) *quiz.Quiz {
	t.Helper()
	b, err := os.ReadFile("testdata/fixture.yaml")
	if err != nil {
		t.Fatal(err)
	}
	q, err := quiz.Parse("fixture.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Validate(); err != nil {
		t.Fatal(err)
	}
	return q
}

// TestGradeKnownAnswerFile grades a known answer file to a known score.
func TestGradeKnownAnswerFile(t *testing.T) {
	q := loadFixture(t)
	f, err := os.Open("testdata/fixture-answers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := quiz.ReadAnswers(f)
	if err != nil {
		t.Fatal(err)
	}
	res := quiz.GradeAnswers(q, a)
	if res.Score != 5 || res.Total != 7 || res.Percent != 71 {
		t.Fatalf("score %d/%d (%d%%), want 5/7 (71%%): %+v", res.Score, res.Total, res.Percent, res.Questions)
	}
	got := map[string]quiz.Outcome{}
	for _, o := range res.Questions {
		got[o.ID] = o
	}
	if o := got["live-gone"]; !o.Skipped {
		t.Errorf("unavailable live question not skipped: %+v", o)
	}
	if o := got["tf-no"]; o.Correct || o.Expected != "false" {
		t.Errorf("tf-no: %+v", o)
	}
	if o := got["unanswered"]; o.Correct || o.Given != "" {
		t.Errorf("unanswered: %+v", o)
	}
	// The same answers as JSON grade the same.
	j := `{"single-q":"b","multi-q":"c,a","tf-q":true,"tf-no":"yes","live-q":"42","text-q":"beta"}`
	a, err = quiz.ReadAnswers(strings.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	if res := quiz.GradeAnswers(q, a); res.Score != 5 || res.Total != 7 {
		t.Fatalf("JSON answers: %d/%d", res.Score, res.Total)
	}
}

func TestGradeWrongChoiceWhy(t *testing.T) {
	q := loadFixture(t)
	o := quiz.Grade(q.Questions[0], q.Questions[0].Choices, "a")
	if o.Correct || o.Why != "alpha is wrong." || o.Expected != "b" {
		t.Fatalf("%+v", o)
	}
	// A multiple choice needs exactly the correct set.
	if o := quiz.Grade(q.Questions[1], q.Questions[1].Choices, "a"); o.Correct {
		t.Fatal("partial multiple answer graded correct")
	}
	if o := quiz.Grade(q.Questions[1], q.Questions[1].Choices, "a,b,c"); o.Correct {
		t.Fatal("over-complete multiple answer graded correct")
	}
}

func TestValidateRejects(t *testing.T) {
	b, _ := os.ReadFile("testdata/fixture.yaml")
	good := string(b)
	cases := map[string]string{
		"two correct in single": strings.Replace(good, "{text: gamma}", "{text: gamma, correct: true}", 1),
		"none correct multiple": strings.NewReplacer("{text: one, correct: true}", "{text: one}", "{text: three, correct: true}", "{text: three}").Replace(good),
		"truefalse no answer":   strings.Replace(good, "    answer: true\n", "", 1),
		"no explanation":        strings.Replace(good, "    explanation: b is beta.\n", "", 1),
		"unknown kind":          strings.Replace(good, "kind: truefalse", "kind: essay", 1),
		"unknown generator":     strings.Replace(good, "live: test-fixed", "live: no-such", 1),
		"duplicate id":          strings.Replace(good, "id: tf-no", "id: tf-q", 1),
		"too few":               good[:strings.Index(good, "  - id: text-q")],
		"unknown field":         strings.Replace(good, "lessons: [fixture]", "lessons: [fixture]\nlesons: [x]", 1),
	}
	for name, src := range cases {
		q, err := quiz.Parse("fixture.yaml", []byte(src))
		if err == nil {
			err = q.Validate()
		}
		if !errors.Is(err, quiz.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
	if _, err := quiz.Load(fstest.MapFS{"fixture.yaml": {Data: []byte(cases["duplicate id"])}}); err == nil {
		t.Error("Load accepted an invalid file")
	}
}

// TestAskSeeded: the same seed gives the same order; answers typed are
// graded, wrong ones explained.
func TestAskSeeded(t *testing.T) {
	q := loadFixture(t)
	run := func(in string) (string, *quiz.Result) {
		var out bytes.Buffer
		a := &quiz.Asker{In: strings.NewReader(in), Out: &out, Seed: 7}
		res, err := a.Ask(q)
		if err != nil {
			t.Fatal(err)
		}
		return out.String(), res
	}
	out1, _ := run("")
	out2, res := run("")
	if out1 != out2 {
		t.Fatal("same seed, different questions")
	}
	if res.Total != 0 {
		t.Fatalf("no input but %d graded", res.Total)
	}
	// Answer "zzz" to everything: all wrong, every explanation shown.
	out, res := run(strings.Repeat("zzz\n", 10))
	if res.Score != 0 || res.Total != 7 {
		t.Fatalf("score %d/%d\n%s", res.Score, res.Total, out)
	}
	for _, e := range []string{"b is beta.", "It is 42.", "Score: 0/7 (0%)", "skipping a live question"} {
		if !strings.Contains(out, e) {
			t.Errorf("output lacks %q", e)
		}
	}
}
