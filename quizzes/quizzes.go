// Package quizzes embeds ctrlab's quizzes (one YAML file per topic).
// pkg/quiz validates, asks and grades them.
package quizzes

import "embed"

// FS holds every quiz file (*.yaml at the top of this directory).
//
//go:embed *.yaml
var FS embed.FS
