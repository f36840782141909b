package overlay

import (
	"fmt"
	"strings"
)

// MaxLowers is the deepest stack the kernel accepts (OVL_MAX_STACK).
const MaxLowers = 500

// Spec describes one overlay mount.
type Spec struct {
	// Lowers are the read-only layers, TOP FIRST, as in lowerdir=top:...:bottom.
	Lowers []string `json:"lowers"`
	// Upper is the writable layer; empty for a read-only overlay.
	Upper string `json:"upper,omitempty"`
	// Work is overlayfs's scratch directory, on the same filesystem as Upper.
	Work string `json:"work,omitempty"`
	// Target is the mount point where the merged view appears.
	Target string `json:"target"`
	// Options are extra mount options: "ro", "nosuid", "nodev", "noexec"
	// become mount flags; anything else ("userxattr", "index=off",
	// "metacopy=on", "redirect_dir=on") goes to overlayfs as is.
	Options []string `json:"options,omitempty"`
}

// LayerName is the label of layer i of a stack with n lowers: "upper" for
// -1, "lower1" (the top lower) .. "lowerN" (the bottom one).
func LayerName(i int) string {
	if i < 0 {
		return "upper"
	}
	return fmt.Sprintf("lower%d", i+1)
}

var flagOptions = map[string]uintptr{
	"ro": 0x1, "nosuid": 0x2, "nodev": 0x4, "noexec": 0x8,
	"noatime": 0x400, "nodiratime": 0x800, "relatime": 0x200000, "strictatime": 0x1000000,
}

// splitOptions separates mount flags from the filesystem's own options.
func (s Spec) splitOptions() (flags uintptr, fsopts []string) {
	for _, o := range s.Options {
		if o == "" {
			continue
		}
		if f, ok := flagOptions[o]; ok {
			flags |= f
			continue
		}
		fsopts = append(fsopts, o)
	}
	return flags, fsopts
}

// escapeLower escapes the characters overlayfs treats specially inside a
// lowerdir= list: ':' separates layers and '\' escapes.
func escapeLower(p string) string {
	p = strings.ReplaceAll(p, `\`, `\\`)
	return strings.ReplaceAll(p, ":", `\:`)
}

// Data is the option string mount(2) gets for this spec:
// "lowerdir=A:B,upperdir=U,workdir=W[,extra...]".
func (s Spec) Data() string {
	lows := make([]string, len(s.Lowers))
	for i, l := range s.Lowers {
		lows[i] = escapeLower(l)
	}
	parts := []string{"lowerdir=" + strings.Join(lows, ":")}
	if s.Upper != "" {
		parts = append(parts, "upperdir="+s.Upper, "workdir="+s.Work)
	}
	_, fsopts := s.splitOptions()
	parts = append(parts, fsopts...)
	return strings.Join(parts, ",")
}

// Equivalent is the shell command that makes the same mount.
func (s Spec) Equivalent() string {
	flags, _ := s.splitOptions()
	opts := s.Data()
	for _, o := range s.Options {
		if _, ok := flagOptions[o]; ok && flags != 0 {
			opts += "," + o
		}
	}
	return "mount -t overlay overlay -o " + shellQuote(opts) + " " + shellQuote(s.Target)
}

// shellQuote quotes s for a POSIX shell when it holds special characters.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-=,:+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
