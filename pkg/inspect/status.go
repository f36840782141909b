package inspect

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Status holds the identity and security lines of /proc/PID/status.
type Status struct {
	Name           string       `json:"name"`
	NSPids         []int        `json:"nsPids"`
	UIDs           [4]int       `json:"uids"` // real, effective, saved, filesystem
	GIDs           [4]int       `json:"gids"`
	Groups         []int        `json:"groups"`
	Capabilities   Capabilities `json:"capabilities"`
	NoNewPrivs     bool         `json:"noNewPrivs"`
	Seccomp        string       `json:"seccomp"`
	SeccompFilters int          `json:"seccompFilters"`
}

// seccompModes maps the Seccomp: field of /proc/PID/status to its name.
var seccompModes = map[string]string{"0": "disabled", "1": "strict", "2": "filter"}

// ParseStatus parses the fields ctrlab shows from /proc/PID/status.
func ParseStatus(r io.Reader) (*Status, error) {
	st := &Status{Groups: []int{}, Seccomp: "unknown"}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		var err error
		switch key {
		case "Name":
			st.Name = val
		case "NSpid":
			st.NSPids, err = atoiList(val)
		case "Uid":
			err = fourIDs(val, &st.UIDs)
		case "Gid":
			err = fourIDs(val, &st.GIDs)
		case "Groups":
			st.Groups, err = atoiList(val)
		case "CapInh":
			err = capField(val, &st.Capabilities.Inheritable)
		case "CapPrm":
			err = capField(val, &st.Capabilities.Permitted)
		case "CapEff":
			err = capField(val, &st.Capabilities.Effective)
		case "CapBnd":
			err = capField(val, &st.Capabilities.Bounding)
		case "CapAmb":
			err = capField(val, &st.Capabilities.Ambient)
		case "NoNewPrivs":
			st.NoNewPrivs = val == "1"
		case "Seccomp":
			if m, ok := seccompModes[val]; ok {
				st.Seccomp = m
			} else {
				st.Seccomp = "mode " + val
			}
		case "Seccomp_filters":
			st.SeccompFilters, err = strconv.Atoi(val)
		}
		if err != nil {
			return nil, fmt.Errorf("parsing status field %s %q: %w", key, val, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading status: %w", err)
	}
	return st, nil
}

func atoiList(s string) ([]int, error) {
	out := []int{}
	for _, f := range strings.Fields(s) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func fourIDs(s string, dst *[4]int) error {
	l, err := atoiList(s)
	if err != nil {
		return err
	}
	if len(l) != 4 {
		return fmt.Errorf("want 4 IDs, got %d", len(l))
	}
	copy(dst[:], l)
	return nil
}

func capField(s string, dst *CapSet) error {
	m, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return err
	}
	*dst = capSet(m)
	return nil
}
