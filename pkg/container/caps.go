package container

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// capNames maps capability numbers (linux/capability.h) to names.
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// CapNumber returns the number of a capability name ("CAP_CHOWN" or "chown").
func CapNumber(name string) (int, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	for i, c := range capNames {
		if c == n {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown capability %q", name)
}

// CapName returns the name of capability number n.
func CapName(n int) string {
	if n >= 0 && n < len(capNames) {
		return capNames[n]
	}
	return "CAP_" + strconv.Itoa(n)
}

// CapMask turns names into a bit mask as /proc/PID/status shows it.
func CapMask(names []string) (uint64, error) {
	var m uint64
	for _, n := range names {
		i, err := CapNumber(n)
		if err != nil {
			return 0, err
		}
		m |= 1 << uint(i)
	}
	return m, nil
}

// CapNames decodes a mask into sorted names.
func CapNames(mask uint64) []string {
	var out []string
	for i := 0; i < 64; i++ {
		if mask&(1<<uint(i)) != 0 {
			out = append(out, CapName(i))
		}
	}
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
			for _, n := range capNames {
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
