package inspect

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ParseCgroups parses the format of /proc/PID/cgroup (cgroups(7)): one line
// per hierarchy, "hierarchy-ID:controller-list:cgroup-path". Lines with
// hierarchy 0 and no controllers are cgroup v2; the rest are v1.
func ParseCgroups(r io.Reader) ([]Cgroup, error) {
	var out []Cgroup
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("parsing cgroup line %d %q: want ID:CONTROLLERS:PATH", n, line)
		}
		id, err := strconv.Atoi(parts[0])
		if err != nil {
			return nil, fmt.Errorf("parsing cgroup line %d %q: %w", n, line, err)
		}
		c := Cgroup{HierarchyID: id, Controllers: []string{}, Path: parts[2], Version: 1}
		if parts[1] != "" {
			c.Controllers = strings.Split(parts[1], ",")
		}
		if id == 0 && parts[1] == "" {
			c.Version = 2
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading cgroup file: %w", err)
	}
	return out, nil
}
