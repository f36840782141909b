// Package lessons embeds ctrlab's lessons (one Markdown file each) so a
// single binary, on a laptop or a Raspberry Pi, carries the whole course.
// pkg/lesson parses, validates and runs them.
package lessons

import "embed"

// FS holds every lesson file (*.md at the top of this directory).
//
//go:embed *.md
var FS embed.FS
