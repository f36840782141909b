package container

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/ctrlab/ctrlab/pkg/caps"
)

// CapNumber returns the number of a capability name ("CAP_CHOWN" or "chown").
func CapNumber(name string) (int, error) { return caps.Number(name) }

// CapName returns the name of capability number n.
func CapName(n int) string { return caps.Name(n) }

// CapMask turns names into a bit mask as /proc/PID/status shows it.
func CapMask(names []string) (uint64, error) { return caps.Mask(names) }

// CapNames decodes a mask into sorted names.
func CapNames(mask uint64) []string {
	out := caps.Decode(mask)
	sort.Strings(out)
	return out
}

// AdjustCaps applies docker-style --cap-add/--cap-drop to base. "ALL" is
// accepted in either list.
func AdjustCaps(base, add, drop []string) ([]string, error) {
	set := map[string]bool{}
	for _, c := range base {
		set[normCap(c)] = true
	}
	for _, c := range drop {
		if strings.EqualFold(c, "ALL") {
			set = map[string]bool{}
			continue
		}
		if _, err := CapNumber(c); err != nil {
			return nil, err
		}
		delete(set, normCap(c))
	}
	for _, c := range add {
		if strings.EqualFold(c, "ALL") {
			for _, n := range caps.Decode(caps.All) {
				set[n] = true
			}
			continue
		}
		if _, err := CapNumber(c); err != nil {
			return nil, err
		}
		set[normCap(c)] = true
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out, nil
}

func normCap(c string) string {
	c = strings.ToUpper(strings.TrimSpace(c))
	if !strings.HasPrefix(c, "CAP_") {
		c = "CAP_" + c
	}
	return c
}

// ParseStatusCaps reads a CapXxx line value from /proc/PID/status ("00000000a80425fb").
func ParseStatusCaps(status, field string) (uint64, error) {
	for _, line := range strings.Split(status, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == field {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, fmt.Errorf("no %s line in status", field)
}

// statusField returns the trimmed value of a /proc/PID/status field.
func statusField(status, field string) string {
	for _, line := range strings.Split(status, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == field {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
