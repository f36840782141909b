package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPkgHasNoCLIDeps enforces STYLE.md §1: nothing under pkg/ imports cobra
// or tablewriter, or writes to os.Stdout; writers come in as io.Writer.
func TestPkgHasNoCLIDeps(t *testing.T) {
	banned := []string{"github.com/spf13/cobra", "github.com/olekukonko/tablewriter"}
	root := filepath.Join("..", "..", "pkg")
	checked := 0
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			path := strings.Trim(imp.Path.Value, `"`)
			for _, b := range banned {
				if strings.HasPrefix(path, b) {
					t.Errorf("%s imports %s: pkg/ must not depend on CLI libraries", p, path)
				}
			}
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.Contains(string(src), "os.Stdout") && !strings.Contains(p, "/testutil/") {
			// Re-exec entrypoints run as their own process and may own stdout.
			if !strings.Contains(string(src), "reexec.Register") {
				t.Errorf("%s writes to os.Stdout: take an io.Writer instead", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("found no Go files under pkg/: is the test running from cmd/ctrlab?")
	}
}
