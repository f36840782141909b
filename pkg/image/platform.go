package image

import (
	"bufio"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// armVariant reads "CPU architecture" from /proc/cpuinfo: 5 -> v5, 6 -> v6,
// 7 or 8 (a 32-bit userland on a 64-bit CPU) -> v7. GOARM in the
// environment wins; v7 is the default.
func armVariant() string {
	if g := os.Getenv("GOARM"); g != "" {
		return "v" + strings.TrimPrefix(strings.SplitN(g, ",", 2)[0], "v")
	}
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "v7"
	}
	defer f.Close()
	return armVariantFrom(bufio.NewScanner(f))
}

func armVariantFrom(sc *bufio.Scanner) string {
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(k) != "CPU architecture" {
			continue
		}
		switch strings.TrimSpace(v) {
		case "5", "5TE", "5TEJ":
			return "v5"
		case "6", "6TEJ":
			return "v6"
		}
		return "v7"
	}
	return "v7"
}

// platformString formats p as os/arch[/variant].
func platformString(p *v1.Platform) string {
	if p == nil {
		return ""
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// normVariant treats arm64 "v8" and "" as the same variant.
func normVariant(arch, variant string) string {
	if arch == "arm64" && variant == "v8" {
		return ""
	}
	return variant
}

// matchPlatform scores how well have fits want: 0 = no, 3 = exact,
// 2 = no variant given on one side, 1 = an older arm variant that runs on
// a newer CPU (v6 image on a v7 host).
func matchPlatform(want, have v1.Platform) int {
	if want.OS != have.OS || want.Architecture != have.Architecture {
		return 0
	}
	wv, hv := normVariant(want.Architecture, want.Variant), normVariant(have.Architecture, have.Variant)
	switch {
	case wv == hv:
		return 3
	case wv == "" || hv == "":
		return 2
	case want.Architecture == "arm" && hv < wv:
		return 1
	}
	return 0
}

// choose picks the best manifest for want from an index, or returns -1.
func choose(want v1.Platform, manifests []v1.Descriptor) int {
	best, bestScore := -1, 0
	for i, d := range manifests {
		if d.Platform == nil || !d.MediaType.IsImage() {
			continue
		}
		if s := matchPlatform(want, *d.Platform); s > bestScore {
			best, bestScore = i, s
		}
	}
	return best
}

// availablePlatforms lists the runnable platforms in an index (attestation
// manifests, "unknown/unknown", are left out).
func availablePlatforms(manifests []v1.Descriptor) []string {
	var out []string
	for _, d := range manifests {
		if d.Platform == nil || d.Platform.OS == "unknown" {
			continue
		}
		out = append(out, platformString(d.Platform))
	}
	return out
}
