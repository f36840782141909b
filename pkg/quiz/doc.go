// Package quiz loads, validates, asks and grades ctrlab's quizzes.
//
// A quiz is one YAML file per topic:
//
//	topic: namespaces
//	title: Namespaces
//	lessons: [pid-namespace, uts-namespace]   # the lessons it covers
//	questions:
//	  - id: pid-first
//	    kind: single            # single | multiple | truefalse | live
//	    question: Which PID does the first process in a new PID namespace get?
//	    choices:
//	      - {text: "1", correct: true}
//	      - {text: "the next free host PID", why: "that is its PID outside"}
//	    explanation: Shown after a wrong answer.
//	  - id: tf
//	    kind: truefalse
//	    question: ...
//	    answer: true
//	    explanation: ...
//	  - id: live-depth
//	    kind: live
//	    live: nspid-depth        # a generator in this package (see Generators)
//	    question: ...
//	    explanation: ...
//
// Live questions have their correct answer computed by ctrlab from the
// running system (/proc, /sys), so it is the learner's own machine that is
// right. An answer file (YAML or JSON) maps question id to answer: a
// choice letter in file order ("b"), a list of letters for multiple
// (["a","c"] or "a,c"), true/false, or the text of a live answer.
package quiz
