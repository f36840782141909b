//go:build !linux

package quiz

import "fmt"

// platformGenerators registers the Linux generators' names so the quizzes
// validate everywhere; off Linux each answer is unavailable.
func platformGenerators() map[string]Generator {
	m := map[string]Generator{}
	for _, n := range []string{"kernel-release", "machine-platform", "hostname", "nspid-depth",
		"ns-shared-with-pid1", "ns-entries-self", "cgroup-mode", "cgroup-self-v1-mem", "overlay-supported",
		"ip-forward", "no-new-privs-self", "seccomp-self", "root-propagation", "uid-map-self",
		"time-ns-supported", "max-user-namespaces", "net-interfaces"} {
		m[n] = func() (string, error) { return "", fmt.Errorf("%s: %w: not Linux", n, ErrUnavailable) }
	}
	return m
}

// CgroupMode is only meaningful on Linux.
func CgroupMode() (string, error) {
	return "", fmt.Errorf("cgroup mode: %w: not Linux", ErrUnavailable)
}
