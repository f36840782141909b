package inspect

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ParseMountinfo parses the format of /proc/PID/mountinfo (proc(5)). Paths
// are unescaped (the kernel writes a space as \040).
func ParseMountinfo(r io.Reader) ([]Mount, error) {
	var out []Mount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		m, err := parseMountLine(line)
		if err != nil {
			return nil, fmt.Errorf("parsing mountinfo line %d %q: %w", n, line, err)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading mountinfo: %w", err)
	}
	return out, nil
}

func parseMountLine(line string) (Mount, error) {
	var m Mount
	f := strings.Fields(line)
	sep := -1
	for i := 6; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if len(f) < 7 || sep < 0 || len(f) < sep+3 {
		return m, fmt.Errorf("want 10+ fields with a \"-\" separator, got %d", len(f))
	}
	var err error
	if m.ID, err = strconv.Atoi(f[0]); err != nil {
		return m, fmt.Errorf("mount ID: %w", err)
	}
	if m.ParentID, err = strconv.Atoi(f[1]); err != nil {
		return m, fmt.Errorf("parent ID: %w", err)
	}
	m.MajorMinor = f[2]
	ma, mi, ok := strings.Cut(f[2], ":")
	if !ok {
		return m, fmt.Errorf("major:minor %q", f[2])
	}
	maj, err := strconv.ParseUint(ma, 10, 32)
	if err != nil {
		return m, fmt.Errorf("major %q: %w", ma, err)
	}
	min, err := strconv.ParseUint(mi, 10, 32)
	if err != nil {
		return m, fmt.Errorf("minor %q: %w", mi, err)
	}
	m.Major, m.Minor = uint32(maj), uint32(min)
	m.Root = unescapeOctal(f[3])
	m.MountPoint = unescapeOctal(f[4])
	m.Options = f[5]
	m.Optional = append([]string{}, f[6:sep]...)
	m.Propagation = propagation(m.Optional)
	m.FSType = f[sep+1]
	m.Source = unescapeOctal(f[sep+2])
	if len(f) > sep+3 {
		m.SuperOptions = f[sep+3]
	}
	return m, nil
}

// propagation summarises the optional fields the way findmnt -o PROPAGATION does.
func propagation(opt []string) string {
	var shared, slave, unbindable bool
	for _, o := range opt {
		switch {
		case strings.HasPrefix(o, "shared:"):
			shared = true
		case strings.HasPrefix(o, "master:"):
			slave = true
		case o == "unbindable":
			unbindable = true
		}
	}
	switch {
	case shared && slave:
		return "shared,slave"
	case shared:
		return "shared"
	case slave:
		return "slave"
	case unbindable:
		return "unbindable"
	}
	return "private"
}

// unescapeOctal undoes the kernel's \ooo escaping of space, tab, newline
// and backslash in mountinfo paths.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
