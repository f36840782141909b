package inspect

import "fmt"

// capNames is indexed by capability number, as in linux/capability.h.
var capNames = [...]string{
	0:  "CAP_CHOWN",
	1:  "CAP_DAC_OVERRIDE",
	2:  "CAP_DAC_READ_SEARCH",
	3:  "CAP_FOWNER",
	4:  "CAP_FSETID",
	5:  "CAP_KILL",
	6:  "CAP_SETGID",
	7:  "CAP_SETUID",
	8:  "CAP_SETPCAP",
	9:  "CAP_LINUX_IMMUTABLE",
	10: "CAP_NET_BIND_SERVICE",
	11: "CAP_NET_BROADCAST",
	12: "CAP_NET_ADMIN",
	13: "CAP_NET_RAW",
	14: "CAP_IPC_LOCK",
	15: "CAP_IPC_OWNER",
	16: "CAP_SYS_MODULE",
	17: "CAP_SYS_RAWIO",
	18: "CAP_SYS_CHROOT",
	19: "CAP_SYS_PTRACE",
	20: "CAP_SYS_PACCT",
	21: "CAP_SYS_ADMIN",
	22: "CAP_SYS_BOOT",
	23: "CAP_SYS_NICE",
	24: "CAP_SYS_RESOURCE",
	25: "CAP_SYS_TIME",
	26: "CAP_SYS_TTY_CONFIG",
	27: "CAP_MKNOD",
	28: "CAP_LEASE",
	29: "CAP_AUDIT_WRITE",
	30: "CAP_AUDIT_CONTROL",
	31: "CAP_SETFCAP",
	32: "CAP_MAC_OVERRIDE",
	33: "CAP_MAC_ADMIN",
	34: "CAP_SYSLOG",
	35: "CAP_WAKE_ALARM",
	36: "CAP_BLOCK_SUSPEND",
	37: "CAP_AUDIT_READ",
	38: "CAP_PERFMON",
	39: "CAP_BPF",
	40: "CAP_CHECKPOINT_RESTORE",
}

// CapLast is the highest capability number ctrlab knows by name
// (CAP_CHECKPOINT_RESTORE, Linux 5.9). The running kernel's own limit is
// /proc/sys/kernel/cap_last_cap.
const CapLast = len(capNames) - 1

// DecodeCaps turns a capability mask (the hex of CapEff: in
// /proc/PID/status) into names, lowest bit first, the way
// `capsh --decode=HEX` does. Bits newer than ctrlab's table come out as
// "CAP_41" and so on.
func DecodeCaps(mask uint64) []string {
	names := []string{}
	for bit := 0; bit < 64; bit++ {
		if mask&(1<<uint(bit)) == 0 {
			continue
		}
		if bit <= CapLast {
			names = append(names, capNames[bit])
		} else {
			names = append(names, fmt.Sprintf("CAP_%d", bit))
		}
	}
	return names
}

// CapName is the name of capability number bit ("CAP_SYS_ADMIN" for 21).
func CapName(bit int) string {
	if bit >= 0 && bit <= CapLast {
		return capNames[bit]
	}
	return fmt.Sprintf("CAP_%d", bit)
}

// AllCaps is the mask with every capability ctrlab knows by name set.
const AllCaps uint64 = 1<<(CapLast+1) - 1

func capSet(mask uint64) CapSet {
	return CapSet{Mask: mask, Hex: fmt.Sprintf("%016x", mask), Names: DecodeCaps(mask)}
}
