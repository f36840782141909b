package inspect

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ParseIDMap parses /proc/PID/uid_map or gid_map (user_namespaces(7)):
// lines of "ID-inside ID-outside length". The initial user namespace has
// the single line "0 0 4294967295".
func ParseIDMap(r io.Reader) ([]IDMap, error) {
	out := []IDMap{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("parsing ID map line %q: want 3 fields", sc.Text())
		}
		var v [3]uint32
		for i := range f {
			n, err := strconv.ParseUint(f[i], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("parsing ID map line %q: %w", sc.Text(), err)
			}
			v[i] = uint32(n)
		}
		out = append(out, IDMap{Inside: v[0], Outside: v[1], Size: v[2]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading ID map: %w", err)
	}
	return out, nil
}

// String renders the map line as the kernel prints it.
func (m IDMap) String() string { return fmt.Sprintf("%d %d %d", m.Inside, m.Outside, m.Size) }
