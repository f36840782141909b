// Package lesson parses, validates, renders and runs ctrlab's lessons.
//
// A lesson is one Markdown file with YAML front matter:
//
//	---
//	name: pid-namespace
//	title: The PID namespace
//	summary: One line for the lesson list.
//	order: 30
//	prerequisites: [containers-vs-vms]
//	needsRoot: true
//	minutes: 10
//	---
//	Introduction (Markdown).
//
//	## Step: A title
//	Explanation (Markdown).
//
//	```run
//	ctrlab unshare pid -- sh -c 'echo "my PID is $$"'
//	```
//
//	```expect
//	my PID is 1
//	re:(?i)pid
//	```
//
//	> **Notice:** what in the output matters.
//
//	> **Question:** optional, something to think about.
//
// Each "## Step:" section holds exactly one ```run block (a shell command
// line run for real with `sh -c`), exactly one ```expect block (one
// expectation per line: a literal substring, or a Go regular expression
// after "re:", matched in multi-line mode against stdout+stderr), one
// Notice and at most one Question. Text before the first step is the
// lesson's introduction; a "## " heading that is not a step ends the steps
// and starts the closing text.
package lesson
