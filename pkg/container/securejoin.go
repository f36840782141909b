package container

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// secureJoin resolves unsafe inside root as if root were /: symlinks and
// ".." never lead out of root (what runc does with filepath-securejoin).
// Missing components are appended as they are.
func secureJoin(root, unsafe string) (string, error) {
	var cur string // resolved path, relative to root, starting with /
	rest := strings.Split(filepath.Clean("/"+unsafe), "/")
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		if c == "" || c == "." {
			continue
		}
		if c == ".." {
			cur = filepath.Dir(cur)
			if cur == "." {
				cur = ""
			}
			if cur == "/" {
				cur = ""
			}
			continue
		}
		next := cur + "/" + c
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				cur = next
				continue
			}
			return "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		links++
		if links > 255 {
			return "", errors.New("too many symlinks")
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(target) {
			cur = ""
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return filepath.Join(root, cur), nil
}
