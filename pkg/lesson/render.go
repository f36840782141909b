package lesson

import (
	"fmt"
	"io"
	"regexp"
	"strings"
)

// Renderer prints lesson Markdown for a terminal: headings, bold, inline
// code, code blocks and block quotes in ANSI styles when Color is set, and
// as plain text otherwise (not a TTY, or NO_COLOR set). It understands the
// small Markdown subset the lessons use; it is not a general renderer.
type Renderer struct {
	Color bool
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiCyan   = "\x1b[36m"
	ansiYellow = "\x1b[33m"
	ansiGreen  = "\x1b[32m"
	ansiRed    = "\x1b[31m"
	ansiBlue   = "\x1b[34m"
)

func (r Renderer) style(code, s string) string {
	if !r.Color || s == "" {
		return s
	}
	return code + s + ansiReset
}

// Bold, Good, Bad, Dim and Code style a short string.
func (r Renderer) Bold(s string) string { return r.style(ansiBold, s) }
func (r Renderer) Good(s string) string { return r.style(ansiGreen, s) }
func (r Renderer) Bad(s string) string  { return r.style(ansiRed, s) }
func (r Renderer) Dim(s string) string  { return r.style(ansiDim, s) }
func (r Renderer) Code(s string) string { return r.style(ansiYellow, s) }

var (
	boldRe = regexp.MustCompile(`\*\*([^*]+)\*\*`)
	codeRe = regexp.MustCompile("`([^`]+)`")
	linkRe = regexp.MustCompile(`\[([^\]]+)\]\(([^)]+)\)`)
)

// Inline styles **bold**, `code` and [links](url) in one line.
func (r Renderer) Inline(s string) string {
	s = linkRe.ReplaceAllString(s, "$1 <$2>")
	if !r.Color {
		return boldRe.ReplaceAllString(s, "$1")
	}
	s = codeRe.ReplaceAllString(s, ansiCyan+"$1"+ansiReset)
	return boldRe.ReplaceAllString(s, ansiBold+"$1"+ansiReset)
}

// Heading prints a heading of the given level (1 or 2 or more).
func (r Renderer) Heading(w io.Writer, level int, text string) {
	text = r.Inline(text)
	if r.Color {
		c := ansiBold + ansiBlue
		if level > 1 {
			c = ansiBold + ansiCyan
		}
		fmt.Fprintf(w, "\n%s%s%s\n\n", c, text, ansiReset)
		return
	}
	u := "="
	if level > 1 {
		u = "-"
	}
	fmt.Fprintf(w, "\n%s\n%s\n\n", text, strings.Repeat(u, min(len(text), 78)))
}

// CodeBlock prints a command or code block, indented.
func (r Renderer) CodeBlock(w io.Writer, code string) {
	for _, l := range strings.Split(strings.TrimRight(code, "\n"), "\n") {
		fmt.Fprintf(w, "    %s\n", r.Code(l))
	}
}

// Callout prints a labelled block quote (Notice, Question).
func (r Renderer) Callout(w io.Writer, label, text string) {
	bar := r.style(ansiYellow, "│")
	fmt.Fprintf(w, "%s %s %s\n", bar, r.Bold(label+":"), r.Inline(text))
}

// Markdown renders a block of lesson Markdown.
func (r Renderer) Markdown(w io.Writer, md string) {
	var fence []string
	inFence := false
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "```") {
			if inFence {
				r.CodeBlock(w, strings.Join(fence, "\n"))
				fence = nil
			}
			inFence = !inFence
			continue
		}
		if inFence {
			fence = append(fence, line)
			continue
		}
		switch {
		case strings.HasPrefix(line, "# "):
			r.Heading(w, 1, strings.TrimPrefix(line, "# "))
		case strings.HasPrefix(line, "## "):
			r.Heading(w, 2, strings.TrimPrefix(line, "## "))
		case strings.HasPrefix(line, "### "):
			fmt.Fprintln(w, r.Bold(r.Inline(strings.TrimPrefix(line, "### "))))
		case strings.HasPrefix(line, ">"):
			fmt.Fprintf(w, "%s %s\n", r.style(ansiYellow, "│"), r.Inline(strings.TrimSpace(strings.TrimPrefix(line, ">"))))
		case strings.HasPrefix(line, "- "), strings.HasPrefix(line, "* "):
			bullet := "-"
			if r.Color {
				bullet = "•"
			}
			fmt.Fprintf(w, "  %s %s\n", bullet, r.Inline(line[2:]))
		default:
			fmt.Fprintln(w, r.Inline(line))
		}
	}
	if inFence {
		r.CodeBlock(w, strings.Join(fence, "\n"))
	}
}

// StepHeader prints "Step i/n: title", the explanation and the command.
func (r Renderer) StepHeader(w io.Writer, l *Lesson, i int) {
	s := l.Steps[i]
	r.Heading(w, 2, fmt.Sprintf("Step %d/%d: %s", i+1, len(l.Steps), s.Title))
	r.Markdown(w, s.Text)
	fmt.Fprintln(w)
	fmt.Fprintln(w, r.Dim("Command:"))
	r.CodeBlock(w, s.Run)
}
