package caps

import (
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	// runc's default set: CapEff a80425fb in a container's /proc/self/status.
	def := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "audit_write"}
	m, err := Mask(def)
	if err != nil || m != 0xa80425fb {
		t.Fatalf("Mask = %x, %v; want a80425fb", m, err)
	}
	if got := Decode(m); len(got) != 14 || got[0] != "CAP_CHOWN" || got[13] != "CAP_SETFCAP" {
		t.Fatalf("Decode = %v", got)
	}
	if Name(21) != "CAP_SYS_ADMIN" || Name(63) != "CAP_63" || Last != 40 || All != 1<<41-1 {
		t.Fatal("table constants are off")
	}
	if _, err := Number("CAP_TELEPATHY"); err == nil || !strings.Contains(err.Error(), "unknown") {
		t.Fatalf("Number of a bogus name: %v", err)
	}
}
