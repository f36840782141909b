// Package contentfs loads the learning content ctrlab embeds (lessons,
// quizzes, labs): every file of a pattern, parsed and validated, with every
// file's error reported rather than only the first.
package contentfs

import (
	"fmt"
	"io/fs"
)

// Validator is content that can check itself after parsing.
type Validator interface{ Validate() error }

// ParseAll parses every file of fsys matching pattern (in name order) with
// parse, then validates it. Files that fail go to errs, one error each; the
// returned error is for the file system itself (listing or reading).
func ParseAll[T Validator](fsys fs.FS, pattern, what string, parse func(name string, data []byte) (T, error)) (items []T, errs []error, err error) {
	files, err := fs.Glob(fsys, pattern)
	if err != nil {
		return nil, nil, fmt.Errorf("listing %s: %w", what, err)
	}
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s %s: %w", what, f, err)
		}
		item, err := parse(f, data)
		if err == nil {
			err = item.Validate()
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		items = append(items, item)
	}
	return items, errs, nil
}
