// Package labs embeds the hands-on labs that `ctrlab check` grades: one
// YAML file per lab (goal, background, tasks with hints and kernel checks,
// setup, reference solution, and exactly what reset removes).
package labs

import "embed"

// FS holds every lab file (*.yaml).
//
//go:embed *.yaml
var FS embed.FS
