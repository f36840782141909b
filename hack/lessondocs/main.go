// Command lessondocs writes docs/concepts/<lesson>.md, one browsable page
// per lesson, from the embedded lesson Markdown (plus an index). Run it
// with `go run ./hack/lessondocs docs/concepts`.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ctrlab/ctrlab/lessons"
	"github.com/ctrlab/ctrlab/pkg/lesson"
)

func main() {
	dir := "docs/concepts"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := run(dir); err != nil {
		fmt.Fprintln(os.Stderr, "lessondocs:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	set, err := lesson.Load(lessons.FS)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var idx strings.Builder
	idx.WriteString("# Concepts: the course, lesson by lesson\n\n" +
		"Generated from `lessons/*.md` by `go run ./hack/lessondocs`; do not edit by hand.\n" +
		"Take any of them on your own machine with `sudo ctrlab lesson NAME`.\n\n" +
		"| # | Lesson | Minutes | Summary |\n|---|---|---|---|\n")
	for i, l := range set.Lessons {
		fmt.Fprintf(&idx, "| %d | [%s](%s.md) | %d | %s |\n", i+1, l.Title, l.Name, l.Minutes, l.Summary)
		var b strings.Builder
		fmt.Fprintf(&b, "# %s\n\n*%s* — lesson %d, about %d minutes. Run it: `", l.Title, l.Summary, i+1, l.Minutes)
		if l.NeedsRoot {
			b.WriteString("sudo ")
		}
		fmt.Fprintf(&b, "ctrlab lesson %s`; quiz: `ctrlab quiz %s`.\n\n", l.Name, l.Name)
		if len(l.Prerequisites) > 0 {
			var p []string
			for _, n := range l.Prerequisites {
				p = append(p, fmt.Sprintf("[%s](%s.md)", n, n))
			}
			fmt.Fprintf(&b, "Before this: %s.\n\n", strings.Join(p, ", "))
		}
		b.WriteString(l.Intro + "\n")
		for j, s := range l.Steps {
			fmt.Fprintf(&b, "\n## Step %d: %s\n\n%s\n\n```sh\n%s\n```\n\nThe output must contain:\n\n", j+1, s.Title, s.Text, s.Run)
			for _, e := range s.Expect {
				fmt.Fprintf(&b, "- `%s`\n", e)
			}
			fmt.Fprintf(&b, "\n> **Notice:** %s\n", s.Notice)
			if s.Question != "" {
				fmt.Fprintf(&b, "\n> **Question:** %s\n", s.Question)
			}
		}
		if l.Outro != "" {
			b.WriteString("\n" + l.Outro + "\n")
		}
		if err := os.WriteFile(filepath.Join(dir, l.Name+".md"), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "README.md"), []byte(idx.String()), 0o644)
}
