package quiz

import (
	"fmt"
	"sort"
)

// Generator computes a live question's correct answer from the running
// system. It returns an error wrapping ErrUnavailable when it cannot.
type Generator func() (string, error)

var generators = platformGenerators()

// RegisterLive adds (or replaces) a live generator; tests use it for fixed
// answers.
func RegisterLive(name string, g Generator) { generators[name] = g }

// Generators lists the names of the live generators.
func Generators() []string {
	var n []string
	for k := range generators {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// LiveAnswer computes the answer of the generator called name.
func LiveAnswer(name string) (string, error) {
	g, ok := generators[name]
	if !ok {
		return "", fmt.Errorf("unknown live generator %q", name)
	}
	return g()
}
