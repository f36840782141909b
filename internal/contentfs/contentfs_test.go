package contentfs

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

type doc struct{ name, body string }

func (d doc) Validate() error {
	if strings.Contains(d.body, "bad") {
		return errors.New(d.name + ": bad")
	}
	return nil
}

func TestParseAll(t *testing.T) {
	fsys := fstest.MapFS{
		"a.md": {Data: []byte("good")}, "b.md": {Data: []byte("bad")},
		"c.md": {Data: []byte("broken")}, "d.txt": {Data: []byte("ignored")},
	}
	parse := func(name string, data []byte) (doc, error) {
		if string(data) == "broken" {
			return doc{}, errors.New(name + ": does not parse")
		}
		return doc{name, string(data)}, nil
	}
	items, errs, err := ParseAll(fsys, "*.md", "docs", parse)
	if err != nil || len(items) != 1 || items[0].name != "a.md" || len(errs) != 2 {
		t.Fatalf("items %v, errs %v, err %v", items, errs, err)
	}
}
