package overlay

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// mountinfoPath is read by the mount lookups; tests point it at fixtures.
var mountinfoPath = "/proc/self/mountinfo"

// MountInfo is one parsed line of /proc/self/mountinfo (see proc(5)).
type MountInfo struct {
	ID           int    `json:"id"`
	Parent       int    `json:"parent"`
	MajorMinor   string `json:"majorMinor"`
	Root         string `json:"root"`
	MountPoint   string `json:"mountPoint"`
	MountOptions string `json:"mountOptions"`
	Optional     string `json:"optional,omitempty"`
	FSType       string `json:"fsType"`
	Source       string `json:"source"`
	SuperOptions string `json:"superOptions"`
	// Line is the raw line as the kernel printed it.
	Line string `json:"line"`
}

// ParseMountinfoLine parses one line of /proc/PID/mountinfo:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// Path fields are unescaped (the kernel writes space as \040).
func ParseMountinfoLine(line string) (MountInfo, error) {
	f := strings.Fields(line)
	sep := -1
	for i := 6; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if len(f) < 10 || sep < 0 || len(f) < sep+4 {
		return MountInfo{}, fmt.Errorf("parsing mountinfo line %q: too few fields", line)
	}
	id, err1 := strconv.Atoi(f[0])
	parent, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return MountInfo{}, fmt.Errorf("parsing mountinfo line %q: bad mount ids", line)
	}
	return MountInfo{
		ID: id, Parent: parent, MajorMinor: f[2],
		Root: unescapeOctal(f[3]), MountPoint: unescapeOctal(f[4]), MountOptions: f[5],
		Optional: strings.Join(f[6:sep], " "),
		FSType:   f[sep+1], Source: unescapeOctal(f[sep+2]), SuperOptions: f[sep+3],
		Line: line,
	}, nil
}

// unescapeOctal undoes the kernel's seq_escape: "\040" -> " ".
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) && isOctal(s[i+1:i+4]) {
			n, _ := strconv.ParseUint(s[i+1:i+4], 8, 8)
			b.WriteByte(byte(n))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '7' {
			return false
		}
	}
	return s[0] <= '3'
}

// readMountinfo returns every mount of this process's mount namespace.
func readMountinfo() ([]MountInfo, error) {
	f, err := os.Open(mountinfoPath)
	if err != nil {
		return nil, fmt.Errorf("reading mount table: %w", err)
	}
	defer f.Close()
	var out []MountInfo
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		mi, err := ParseMountinfoLine(sc.Text())
		if err != nil {
			return nil, err
		}
		out = append(out, mi)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading mount table: %w", err)
	}
	return out, nil
}

// cleanPath makes p absolute and resolves symlinks where it can, the way
// the kernel records mount points.
func cleanPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		p = a
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	return filepath.Clean(p)
}

// FindMount returns the topmost mount at target (the last line that names
// it: a later mount on the same point hides the earlier ones).
func FindMount(target string) (MountInfo, error) {
	all, err := readMountinfo()
	if err != nil {
		return MountInfo{}, err
	}
	t := cleanPath(target)
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].MountPoint == t {
			return all[i], nil
		}
	}
	return MountInfo{}, fmt.Errorf("looking up %q in %s: %w", t, mountinfoPath, ErrNotMounted)
}

// MountinfoLine returns the raw /proc/self/mountinfo line of the mount at
// target. Equivalent to: `grep " TARGET " /proc/self/mountinfo`.
func MountinfoLine(target string) (string, error) {
	mi, err := FindMount(target)
	if err != nil {
		return "", err
	}
	return mi.Line, nil
}

// MountedSpec reads back the Spec of the overlay mounted at target from
// the super options in mountinfo (lowerdir=, lowerdir+=, upperdir=, workdir=).
func MountedSpec(target string) (Spec, error) {
	mi, err := FindMount(target)
	if err != nil {
		return Spec{}, err
	}
	if mi.FSType != "overlay" {
		return Spec{}, fmt.Errorf("reading layers of %q: %w (it is %s)", mi.MountPoint, ErrNotOverlay, mi.FSType)
	}
	s, err := SpecFromSuperOptions(mi.SuperOptions)
	if err != nil {
		return Spec{}, fmt.Errorf("reading layers of %q: %w", mi.MountPoint, err)
	}
	s.Target = mi.MountPoint
	return s, nil
}

// FindByUpper returns the Spec of the mounted overlay whose upperdir is upper.
func FindByUpper(upper string) (Spec, error) {
	all, err := readMountinfo()
	if err != nil {
		return Spec{}, err
	}
	u := cleanPath(upper)
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].FSType != "overlay" {
			continue
		}
		s, err := SpecFromSuperOptions(all[i].SuperOptions)
		if err == nil && s.Upper == u {
			s.Target = all[i].MountPoint
			return s, nil
		}
	}
	return Spec{}, fmt.Errorf("looking for an overlay with upperdir %q: %w", u, ErrNotMounted)
}

// SpecFromSuperOptions parses overlayfs's super options as mountinfo
// shows them. Both forms are understood:
//
//	lowerdir=/a:/b::/data,upperdir=/u,workdir=/w      (mount(2); "::" starts data-only layers)
//	lowerdir+=/a,lowerdir+=/b,datadir+=/d,upperdir=/u (fsconfig, Linux 6.8+)
//
// Values are octal-unescaped; inside a lowerdir= list "\:" is a literal
// colon. Data-only layers serve no path of the merged view and are skipped.
func SpecFromSuperOptions(opts string) (Spec, error) {
	var s Spec
	for _, kv := range strings.Split(opts, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "lowerdir":
			for _, l := range splitLowerdir(unescapeOctal(v)) {
				s.Lowers = append(s.Lowers, l)
			}
		case "lowerdir+":
			s.Lowers = append(s.Lowers, unescapeOctal(v))
		case "upperdir":
			s.Upper = unescapeOctal(v)
		case "workdir":
			s.Work = unescapeOctal(v)
		case "datadir+", "rw", "ro":
		default:
			if k != "" {
				s.Options = append(s.Options, kv)
			}
		}
	}
	if len(s.Lowers) == 0 {
		return s, fmt.Errorf("parsing overlay options %q: %w", opts, ErrNoLower)
	}
	for _, p := range append(append([]string{}, s.Lowers...), s.Upper, s.Work) {
		if p != "" && !filepath.IsAbs(p) {
			return s, fmt.Errorf("layer %q: %w (mounted from another working directory)", p, ErrRelativeLayers)
		}
	}
	return s, nil
}

// splitLowerdir splits "a:b\:c::data" into ["a", "b:c"]: unescaped ':'
// separates layers, "::" starts the data-only layers (dropped).
func splitLowerdir(v string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '\\' && i+1 < len(v):
			i++
			cur.WriteByte(v[i])
		case v[i] == ':':
			if i+1 < len(v) && v[i+1] == ':' {
				return append(out, cur.String())
			}
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(v[i])
		}
	}
	if cur.Len() > 0 || len(out) > 0 {
		out = append(out, cur.String())
	}
	return out
}
