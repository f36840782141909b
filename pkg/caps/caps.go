// Package caps names Linux capabilities: the numbers of linux/capability.h,
// the bit masks of /proc/PID/status (CapEff, CapBnd, ...), and the names a
// learner types (--cap-add NET_ADMIN). The inspector decodes with it and the
// container runtime encodes with it. See [capabilities(7)].
//
// [capabilities(7)]: https://man7.org/linux/man-pages/man7/capabilities.7.html
package caps

import (
	"fmt"
	"strings"
)

// names is indexed by capability number, as in linux/capability.h.
var names = [...]string{
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

// Last is the highest capability number ctrlab knows by name
// (CAP_CHECKPOINT_RESTORE, Linux 5.9). The running kernel's own limit is
// /proc/sys/kernel/cap_last_cap.
const Last = len(names) - 1

// All is the mask with every capability ctrlab knows by name set.
const All uint64 = 1<<(Last+1) - 1

// Name is the name of capability number n ("CAP_SYS_ADMIN" for 21); bits
// newer than the table come out as "CAP_41" and so on.
func Name(n int) string {
	if n >= 0 && n <= Last {
		return names[n]
	}
	return fmt.Sprintf("CAP_%d", n)
}

// Number returns the number of a capability name, with or without the
// CAP_ prefix, in any case ("CAP_CHOWN", "chown").
func Number(name string) (int, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	for i, c := range names {
		if c == n {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown capability %q", name)
}

// Decode turns a mask (the hex of CapEff: in /proc/PID/status) into names,
// lowest bit first, as `capsh --decode=HEX` does.
func Decode(mask uint64) []string {
	out := []string{}
	for bit := 0; bit < 64; bit++ {
		if mask&(1<<uint(bit)) != 0 {
			out = append(out, Name(bit))
		}
	}
	return out
}

// Mask turns names into a bit mask as /proc/PID/status shows it.
func Mask(list []string) (uint64, error) {
	var m uint64
	for _, n := range list {
		i, err := Number(n)
		if err != nil {
			return 0, err
		}
		m |= 1 << uint(i)
	}
	return m, nil
}
