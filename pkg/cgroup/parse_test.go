package cgroup

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"1048576": 1048576, "64M": 64 << 20, "64m": 64 << 20, "64MiB": 64 << 20, "64MB": 64 << 20,
		"1G": 1 << 30, "512K": 512 << 10, "1.5G": 3 << 29, "12b": 12, "max": Unlimited, "-1": Unlimited,
		" 2g ": 2 << 30,
	}
	for in, want := range good {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "M", "64X", "abc", "-5M", "0", "1e6", "12ib", "1.5", "64 MB extra", "0x10"} {
		if v, err := ParseSize(in); !errors.Is(err, ErrBadSize) {
			t.Errorf("ParseSize(%q) = %d, %v; want ErrBadSize", in, v, err)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for in, want := range map[int64]string{67108864: "64MiB", 100: "100B", 1536: "1.5KiB", -1: "max", 1 << 30: "1GiB"} {
		if got := FormatSize(in); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestParseCPUs(t *testing.T) {
	for in, want := range map[string]int64{"0.5": 50000, "2": 200000, "0.2": 20000, "150%": 150000, "0.01": 1000} {
		got, err := ParseCPUs(in, 0)
		if err != nil || got != want {
			t.Errorf("ParseCPUs(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if got, err := ParseCPUs("0.5", 200000); err != nil || got != 100000 {
		t.Errorf("ParseCPUs(0.5, 200000) = %d, %v", got, err)
	}
	for _, in := range []string{"", "abc", "0", "-1", "0.001", "1e3", "NaN", "Inf", "5000"} {
		if v, err := ParseCPUs(in, 0); !errors.Is(err, ErrBadCPU) {
			t.Errorf("ParseCPUs(%q) = %d, %v; want ErrBadCPU", in, v, err)
		}
	}
}

func TestWeightToShares(t *testing.T) {
	for w, want := range map[uint64]uint64{1: 2, 10000: 262144, 100: 2597} {
		if got := WeightToShares(w); got != want {
			t.Errorf("WeightToShares(%d) = %d, want %d", w, got, want)
		}
	}
}

func TestParseLimitAndCPUMax(t *testing.T) {
	for in, want := range map[string]int64{"max\n": Unlimited, "9223372036854771712\n": Unlimited, "-1": Unlimited, "67108864\n": 67108864} {
		if got, err := ParseLimit(in); err != nil || got != want {
			t.Errorf("ParseLimit(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	q, p, err := ParseCPUMax("50000 100000\n")
	if err != nil || q != 50000 || p != 100000 {
		t.Errorf("ParseCPUMax = %d %d %v", q, p, err)
	}
	q, p, err = ParseCPUMax("max 100000\n")
	if err != nil || q != Unlimited || p != 100000 {
		t.Errorf("ParseCPUMax(max) = %d %d %v", q, p, err)
	}
	if _, _, err := ParseCPUMax("garbage"); err == nil {
		t.Error("ParseCPUMax(garbage): want an error")
	}
}

func readFixtures(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(b)
	}
	return m
}

// Both fixture sets describe the same workload: a 48 MiB limit hit 112
// times with one OOM kill, 0.61 s of CPU throttled 29 times, 42 refused forks.
func TestStatsFromFixtures(t *testing.T) {
	var v1, v2 Stats
	statsV1(&v1, readFixtures(t, "testdata/v1"))
	statsV2(&v2, readFixtures(t, "testdata/v2"))
	for name, s := range map[string]Stats{"v1": v1, "v2": v2} {
		if s.MemoryCurrent != 40<<20 || s.MemoryPeak != 48<<20 || s.MemoryMax != 48<<20 {
			t.Errorf("%s memory: %+v", name, s)
		}
		if s.OOMKills != 1 || s.MemoryFailcnt != 112 {
			t.Errorf("%s oom: kills %d failcnt %d", name, s.OOMKills, s.MemoryFailcnt)
		}
		if s.CPUUsageUsec != 612345 || s.NrPeriods != 31 || s.NrThrottled != 29 || s.ThrottledUsec != 2400000 {
			t.Errorf("%s cpu: %+v", name, s)
		}
		if s.PidsCurrent != 16 || s.PidsRefused != 42 {
			t.Errorf("%s pids: %+v", name, s)
		}
	}
	if v1.PidsMax != Unlimited || v2.PidsMax != 16 {
		t.Errorf("pids.max: v1 %d v2 %d", v1.PidsMax, v2.PidsMax)
	}
}

func TestParseProcs(t *testing.T) {
	got := ParseProcs("12\n345\n\n")
	if len(got) != 2 || got[0] != 12 || got[1] != 345 {
		t.Errorf("ParseProcs = %v", got)
	}
}

func TestControllerErrorNamesTheFix(t *testing.T) {
	err := error(&ControllerError{Controller: "memory", Mode: V2})
	if !errors.Is(err, ErrControllerUnavailable) {
		t.Error("errors.Is(ControllerError, ErrControllerUnavailable) is false")
	}
	for _, want := range []string{"memory", "cgroup_enable=memory"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
