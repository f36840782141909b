// Command gendocs writes ctrlab's CLI reference (Markdown) into docs/cli/.
// Run it with `make docs`; CI fails when the committed pages are stale.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra/doc"

	"github.com/ctrlab/ctrlab/cmd/ctrlab/cli"
)

func main() {
	dir := "docs/cli"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
	root := cli.New(cli.NewApp())
	root.DisableAutoGenTag = true
	if err := doc.GenMarkdownTree(root, dir); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}
