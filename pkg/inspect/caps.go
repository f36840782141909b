package inspect

import (
	"fmt"

	"github.com/ctrlab/ctrlab/pkg/caps"
)

// CapLast is the highest capability number ctrlab knows by name
// (CAP_CHECKPOINT_RESTORE, Linux 5.9). The running kernel's own limit is
// /proc/sys/kernel/cap_last_cap.
const CapLast = caps.Last

// DecodeCaps turns a capability mask (the hex of CapEff: in
// /proc/PID/status) into names, lowest bit first, the way
// `capsh --decode=HEX` does. Bits newer than ctrlab's table come out as
// "CAP_41" and so on.
func DecodeCaps(mask uint64) []string { return caps.Decode(mask) }

// CapName is the name of capability number bit ("CAP_SYS_ADMIN" for 21).
func CapName(bit int) string { return caps.Name(bit) }

// AllCaps is the mask with every capability ctrlab knows by name set.
const AllCaps = caps.All

func capSet(mask uint64) CapSet {
	return CapSet{Mask: mask, Hex: fmt.Sprintf("%016x", mask), Names: DecodeCaps(mask)}
}
