package quiz

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Outcome is the grade of one question.
type Outcome struct {
	ID       string `json:"id"`
	Kind     Kind   `json:"kind"`
	Correct  bool   `json:"correct"`
	Skipped  bool   `json:"skipped,omitempty"`
	Given    string `json:"given"`
	Expected string `json:"expected"`
	// Why is the picked wrong choice's explanation, when it has one.
	Why         string `json:"why,omitempty"`
	Explanation string `json:"explanation"`
}

// Result is a graded quiz.
type Result struct {
	Topic string `json:"topic"`
	Score int    `json:"score"`
	// Total counts the questions graded (live questions that cannot be
	// computed on this system are skipped and not counted).
	Total     int       `json:"total"`
	Percent   int       `json:"percent"`
	Questions []Outcome `json:"questions"`
}

func (r *Result) add(o Outcome) {
	r.Questions = append(r.Questions, o)
	if o.Skipped {
		return
	}
	r.Total++
	if o.Correct {
		r.Score++
	}
	r.Percent = r.Score * 100 / r.Total
}

// Answers maps a question id to the learner's answer: a string, a bool or
// a list of strings.
type Answers map[string]any

// ReadAnswers reads an answer file (YAML or JSON: JSON is YAML).
func ReadAnswers(r io.Reader) (Answers, error) {
	var a Answers
	if err := yaml.NewDecoder(r).Decode(&a); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parsing answers: %w", err)
	}
	if a == nil {
		a = Answers{}
	}
	return a, nil
}

// letter returns the label of choice i: a, b, c...
func letter(i int) string { return string(rune('a' + i)) }

// answerText turns an answer value into a comparable string.
func answerText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case []any:
		var s []string
		for _, e := range x {
			s = append(s, fmt.Sprint(e))
		}
		return strings.Join(s, ",")
	default:
		return fmt.Sprint(x)
	}
}

// pick maps an answer to choice indexes (in the order of choices): letters
// (a, b), 1-based numbers, or a choice's full text.
func pick(ans string, choices []Choice) ([]int, bool) {
	seen := map[int]bool{}
	var out []int
	for _, tok := range strings.FieldsFunc(ans, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
		tok = strings.ToLower(strings.TrimSpace(tok))
		i := -1
		if len(tok) == 1 && tok[0] >= 'a' && int(tok[0]-'a') < len(choices) {
			i = int(tok[0] - 'a')
		} else if n, err := strconv.Atoi(tok); err == nil && n >= 1 && n <= len(choices) {
			i = n - 1
		}
		if i < 0 {
			// the whole answer may be a choice's text
			for j, c := range choices {
				if strings.EqualFold(strings.TrimSpace(ans), strings.TrimSpace(c.Text)) {
					return []int{j}, true
				}
			}
			return nil, false
		}
		if !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	sort.Ints(out)
	return out, len(out) > 0
}

func normalize(s string) string {
	s = strings.ToLower(strings.Join(strings.Fields(s), " "))
	switch s {
	case "y", "true", "t":
		return "yes"
	case "n", "false", "f":
		return "no"
	}
	return s
}

func parseBool(s string) (bool, bool) {
	switch normalize(s) {
	case "yes":
		return true, true
	case "no":
		return false, true
	}
	return false, false
}

// Grade grades one question against an answer given as text, with choices
// in the order given (letters refer to that order).
func Grade(q Question, choices []Choice, given string) Outcome {
	o := Outcome{ID: q.ID, Kind: q.Kind, Given: given, Explanation: q.Explanation}
	switch q.Kind {
	case Single, Multiple:
		var want []int
		var names []string
		for i, c := range choices {
			if c.Correct {
				want = append(want, i)
				names = append(names, letter(i))
			}
		}
		o.Expected = strings.Join(names, ",")
		got, ok := pick(given, choices)
		o.Correct = ok && fmt.Sprint(got) == fmt.Sprint(want)
		if ok && !o.Correct {
			for _, i := range got {
				if !choices[i].Correct && choices[i].Why != "" {
					o.Why = strings.TrimSpace(o.Why + " " + choices[i].Why)
				}
			}
		}
	case TrueFalse:
		o.Expected = strconv.FormatBool(*q.Answer)
		b, ok := parseBool(given)
		o.Correct = ok && b == *q.Answer
	case Live:
		ans, err := LiveAnswer(q.Live)
		if err != nil {
			o.Skipped = true
			o.Expected = err.Error()
			return o
		}
		o.Expected = ans
		o.Correct = given != "" && normalize(given) == normalize(ans)
	}
	return o
}

// GradeAnswers grades a whole quiz against an answer file's answers.
// Choice letters refer to the order of choices in the quiz file.
// Unanswered questions are wrong.
func GradeAnswers(q *Quiz, a Answers) *Result {
	res := &Result{Topic: q.Topic}
	for _, qu := range q.Questions {
		res.add(Grade(qu, qu.Choices, answerText(a[qu.ID])))
	}
	return res
}

// Asker runs a quiz interactively: shuffled questions and choices (Seed
// fixes the order), a line of input per answer, the explanation of each
// wrong answer and the score at the end.
type Asker struct {
	In  io.Reader
	Out io.Writer
	// Seed fixes the shuffle; 0 picks one at random.
	Seed uint64
	// Style functions (identity when nil) for good and bad marks and bold.
	Good, Bad, Bold func(string) string
}

func id(s string) string { return s }

// Ask asks every question of q and returns the graded result. End of input
// stops early: unasked questions are not counted.
func (a *Asker) Ask(q *Quiz) (*Result, error) {
	good, bad, bold := a.Good, a.Bad, a.Bold
	if good == nil {
		good = id
	}
	if bad == nil {
		bad = id
	}
	if bold == nil {
		bold = id
	}
	seed := a.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	qs := append([]Question(nil), q.Questions...)
	rng.Shuffle(len(qs), func(i, j int) { qs[i], qs[j] = qs[j], qs[i] })
	in := bufio.NewReader(a.In)
	res := &Result{Topic: q.Topic}
	fmt.Fprintf(a.Out, "%s — %d questions (seed %d)\n", bold(q.Title), len(qs), seed)
	for n, qu := range qs {
		choices := append([]Choice(nil), qu.Choices...)
		if qu.Kind == Single || qu.Kind == Multiple {
			rng.Shuffle(len(choices), func(i, j int) { choices[i], choices[j] = choices[j], choices[i] })
		}
		if qu.Kind == Live {
			if _, err := LiveAnswer(qu.Live); err != nil {
				fmt.Fprintf(a.Out, "\n(skipping a live question: %v)\n", err)
				res.add(Outcome{ID: qu.ID, Kind: qu.Kind, Skipped: true, Expected: err.Error()})
				continue
			}
		}
		fmt.Fprintf(a.Out, "\n%s %s\n", bold(fmt.Sprintf("%d.", n+1)), strings.ReplaceAll(qu.Question, "{pid}", strconv.Itoa(os.Getpid())))
		prompt := "answer> "
		switch qu.Kind {
		case Single, Multiple:
			for i, c := range choices {
				fmt.Fprintf(a.Out, "   %s) %s\n", letter(i), c.Text)
			}
			prompt = "your choice (a letter)> "
			if qu.Kind == Multiple {
				prompt = "your choices (letters, e.g. a,c: pick every correct one)> "
			}
		case TrueFalse:
			prompt = "true or false> "
		case Live:
			prompt = "your answer (look it up on this machine)> "
		}
		fmt.Fprint(a.Out, prompt)
		line, err := in.ReadString('\n')
		if err != nil && line == "" {
			fmt.Fprintln(a.Out)
			break
		}
		o := Grade(qu, choices, strings.TrimSpace(line))
		res.add(o)
		if o.Correct {
			fmt.Fprintln(a.Out, good("✓ correct"))
			continue
		}
		fmt.Fprintf(a.Out, "%s the answer is %s\n", bad("✗"), bold(o.Expected))
		if o.Why != "" {
			fmt.Fprintf(a.Out, "  %s\n", o.Why)
		}
		fmt.Fprintf(a.Out, "  %s\n", strings.TrimSpace(qu.Explanation))
	}
	fmt.Fprintf(a.Out, "\n%s %d/%d (%d%%)\n", bold("Score:"), res.Score, res.Total, res.Percent)
	return res, nil
}
