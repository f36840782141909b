package netsetup

import (
	"errors"
	"net/netip"
	"testing"
)

func TestParsePortSpec(t *testing.T) {
	good := map[string]PortMapping{
		"8080:80":     {8080, 80, "tcp"},
		"53:5353/udp": {53, 5353, "udp"},
		"1:65535/TCP": {1, 65535, "tcp"},
	}
	for in, want := range good {
		got, err := ParsePortSpec(in)
		if err != nil || got != want {
			t.Errorf("ParsePortSpec(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "80", "80:", ":80", "0:80", "70000:80", "a:b", "80:80/sctp", "80:80/"} {
		if _, err := ParsePortSpec(in); !errors.Is(err, ErrBadPortSpec) {
			t.Errorf("ParsePortSpec(%q) err = %v, want ErrBadPortSpec", in, err)
		}
	}
}

func TestNames(t *testing.T) {
	if NetnsName("red") != "ctrlab-red" || NetnsName("ctrlabx") != "ctrlabx" {
		t.Error("NetnsName prefixing wrong")
	}
	for _, bad := range []string{"", "..", "a/b", "a b"} {
		if ValidateNetnsName(bad) == nil {
			t.Errorf("ValidateNetnsName(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"br0", "ctrlab-too-long-name", "ctrlab:x"} {
		if ValidateBridgeName(bad) == nil {
			t.Errorf("ValidateBridgeName(%q) accepted", bad)
		}
	}
}

func TestOwnedBy(t *testing.T) {
	c := ruleComment("dnat", "ctrlabv1", "8080/tcp")
	if !ownedBy(c, "ctrlabv1", "") || !ownedBy(c, "ctrlabv1", "8080/tcp") || ownedBy(c, "ctrlabv1", "80/tcp") || ownedBy(c, "ctrlabv", "") {
		t.Errorf("ownedBy(%q) wrong", c)
	}
}

func TestShellSplit(t *testing.T) {
	got := shellSplit(`-A X -s 10.0.0.0/24 ! -o br -m comment --comment "ctrlab:masq:br" -j MASQUERADE`)
	if argAfter(got, "--comment") != "ctrlab:masq:br" || got[0] != "-A" || len(got) != 13 {
		t.Errorf("shellSplit = %q", got)
	}
}

func TestAllocate(t *testing.T) {
	st := &stateFile{Leases: map[string]string{}}
	br := &Bridge{Name: "ctrlabt", Subnet: netip.MustParsePrefix("10.9.0.0/30"), Gateway: netip.MustParseAddr("10.9.0.1")}
	a, err := st.allocate(br, "v1")
	if err != nil || a.String() != "10.9.0.2/30" {
		t.Fatalf("first lease %v, %v", a, err)
	}
	if _, err := st.allocate(br, "v2"); !errors.Is(err, ErrNoFreeAddress) {
		t.Fatalf("full /30: err = %v", err)
	}
	st.release("v1")
	if a, err := st.allocate(br, "v3"); err != nil || a.String() != "10.9.0.2/30" {
		t.Fatalf("after release: %v, %v", a, err)
	}
}
