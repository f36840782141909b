package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// ErrBadSize and ErrBadCPU are returned by ParseSize and ParseCPUs.
var (
	ErrBadSize = errors.New("invalid size")
	ErrBadCPU  = errors.New("invalid CPU value")
)

// ParseSize parses a human size: plain bytes ("1048576"), or a number with a
// binary suffix K, M, G, T (optionally followed by "i", "B" or "iB"; case
// does not matter): "64M" = 67108864. "max" and "-1" are Unlimited.
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	switch t {
	case "max", "-1", "unlimited":
		return Unlimited, nil
	}
	m := sizeRE.FindStringSubmatch(t)
	if m == nil || (m[3] == "" && strings.HasPrefix(m[4], "i")) {
		return 0, fmt.Errorf("%w: %q (use bytes or a number with K, M, G: 64M)", ErrBadSize, s)
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("%w: %q (must be more than zero)", ErrBadSize, s)
	}
	mult := map[string]float64{"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m[3]]
	if m[3] == "" && m[2] != "" {
		return 0, fmt.Errorf("%w: %q (bytes must be a whole number)", ErrBadSize, s)
	}
	v := f * mult
	if v > 1<<60 {
		return 0, fmt.Errorf("%w: %q is too large", ErrBadSize, s)
	}
	return int64(v), nil
}

var sizeRE = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?)\s*([kmgt]?)(i?b?)$`)

// FormatSize renders bytes for people: 67108864 -> "64MiB", -1 -> "max".
func FormatSize(n int64) string {
	if n < 0 {
		return "max"
	}
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%dB", n)
	}
	if f == math.Trunc(f) {
		return fmt.Sprintf("%.0f%s", f, units[i])
	}
	return fmt.Sprintf("%.1f%s", f, units[i])
}

// DefaultCPUPeriod is the CFS period the kernel uses by default (100 ms).
const DefaultCPUPeriod uint64 = 100000

// ParseCPUs parses a CPU fraction ("0.5", "2", "150%") into a quota for
// period (DefaultCPUPeriod when 0), in microseconds: 0.5 -> 50000. The
// kernel refuses quotas under 1000us.
func ParseCPUs(s string, period uint64) (quota int64, err error) {
	if period == 0 {
		period = DefaultCPUPeriod
	}
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	t = strings.TrimSuffix(t, "%")
	f, perr := strconv.ParseFloat(t, 64)
	if perr != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 || strings.ContainsAny(t, "eEx_") {
		return 0, fmt.Errorf("%w: %q (use a fraction of one CPU such as 0.5, or 150%%)", ErrBadCPU, s)
	}
	if pct {
		f /= 100
	}
	q := math.Round(f * float64(period))
	if q < 1000 {
		return 0, fmt.Errorf("%w: %q gives a quota of %.0fus per %dus period; the kernel's minimum is 1000us", ErrBadCPU, s, q, period)
	}
	if f > 1024 {
		return 0, fmt.Errorf("%w: %q is more CPUs than any machine has", ErrBadCPU, s)
	}
	return int64(q), nil
}

// WeightToShares converts a v2 cpu.weight (1..10000, default 100) to a v1
// cpu.shares (2..262144, default 1024 for weight 100 is approximated), the
// inverse of the conversion runc and systemd use.
func WeightToShares(w uint64) uint64 {
	if w == 0 {
		return 0
	}
	return 2 + ((w-1)*262142)/9999
}

// ParseFlatKeyed parses "key value" lines (memory.events, cpu.stat,
// pids.events, memory.oom_control, memory.stat) into a map.
func ParseFlatKeyed(content string) map[string]uint64 {
	m := map[string]uint64{}
	sc := bufio.NewScanner(strings.NewReader(content))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		if v, err := strconv.ParseUint(f[1], 10, 64); err == nil {
			m[f[0]] = v
		}
	}
	return m
}

// ParseLimit parses a single-value limit file: "max" (v2) and v1's huge
// "unlimited" values (9223372036854771712, -1) come back as Unlimited.
func ParseLimit(content string) (int64, error) {
	s := strings.TrimSpace(content)
	if s == "max" || s == "-1" {
		return Unlimited, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing limit %q: %w", s, err)
	}
	// v1 reports "no limit" as PAGE_COUNTER_MAX*PAGE_SIZE, close to 2^63.
	if v >= 1<<62 {
		return Unlimited, nil
	}
	return int64(v), nil
}

// ParseUint parses a single-number file such as memory.current.
func ParseUint(content string) (uint64, error) {
	s := strings.TrimSpace(content)
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing %q: %w", s, err)
	}
	return v, nil
}

// ParseCPUMax parses v2 cpu.max, "QUOTA PERIOD" or "max PERIOD".
func ParseCPUMax(content string) (quota int64, period uint64, err error) {
	f := strings.Fields(content)
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("parsing cpu.max %q: want two fields", strings.TrimSpace(content))
	}
	if f[0] == "max" {
		quota = Unlimited
	} else if quota, err = strconv.ParseInt(f[0], 10, 64); err != nil {
		return 0, 0, fmt.Errorf("parsing cpu.max quota %q: %w", f[0], err)
	}
	if period, err = strconv.ParseUint(f[1], 10, 64); err != nil {
		return 0, 0, fmt.Errorf("parsing cpu.max period %q: %w", f[1], err)
	}
	return quota, period, nil
}

// ParseProcs parses cgroup.procs (one pid per line).
func ParseProcs(content string) []int {
	var pids []int
	for _, l := range strings.Fields(content) {
		if p, err := strconv.Atoi(l); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

// statsV2 fills s from the contents of v2 files keyed by base name.
func statsV2(s *Stats, files map[string]string) {
	if v, ok := files["memory.current"]; ok {
		s.MemoryCurrent, _ = ParseUint(v)
	}
	if v, ok := files["memory.peak"]; ok {
		s.MemoryPeak, _ = ParseUint(v)
	}
	s.MemoryMax = Unlimited
	if v, ok := files["memory.max"]; ok {
		s.MemoryMax, _ = ParseLimit(v)
	}
	if v, ok := files["memory.events"]; ok {
		ev := ParseFlatKeyed(v)
		s.OOMKills = ev["oom_kill"]
		s.MemoryFailcnt = ev["max"]
	}
	if v, ok := files["cpu.stat"]; ok {
		st := ParseFlatKeyed(v)
		s.CPUUsageUsec = st["usage_usec"]
		s.NrPeriods = st["nr_periods"]
		s.NrThrottled = st["nr_throttled"]
		s.ThrottledUsec = st["throttled_usec"]
	}
	pidsCommon(s, files)
}

// statsV1 fills s from the contents of v1 files keyed by base name.
func statsV1(s *Stats, files map[string]string) {
	if v, ok := files["memory.usage_in_bytes"]; ok {
		s.MemoryCurrent, _ = ParseUint(v)
	}
	if v, ok := files["memory.max_usage_in_bytes"]; ok {
		s.MemoryPeak, _ = ParseUint(v)
	}
	s.MemoryMax = Unlimited
	if v, ok := files["memory.limit_in_bytes"]; ok {
		s.MemoryMax, _ = ParseLimit(v)
	}
	if v, ok := files["memory.failcnt"]; ok {
		s.MemoryFailcnt, _ = ParseUint(v)
	}
	if v, ok := files["memory.oom_control"]; ok {
		s.OOMKills = ParseFlatKeyed(v)["oom_kill"]
	}
	if v, ok := files["cpuacct.usage"]; ok {
		ns, _ := ParseUint(v)
		s.CPUUsageUsec = ns / 1000
	}
	if v, ok := files["cpu.stat"]; ok {
		st := ParseFlatKeyed(v)
		s.NrPeriods = st["nr_periods"]
		s.NrThrottled = st["nr_throttled"]
		s.ThrottledUsec = st["throttled_time"] / 1000
		if u, ok := st["throttled_usec"]; ok {
			s.ThrottledUsec = u
		}
	}
	pidsCommon(s, files)
}

func pidsCommon(s *Stats, files map[string]string) {
	if v, ok := files["pids.current"]; ok {
		s.PidsCurrent, _ = ParseUint(v)
	}
	s.PidsMax = Unlimited
	if v, ok := files["pids.max"]; ok {
		s.PidsMax, _ = ParseLimit(v)
	}
	if v, ok := files["pids.events"]; ok {
		s.PidsRefused = ParseFlatKeyed(v)["max"]
	}
}
