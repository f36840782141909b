// Package testutil holds helpers shared by ctrlab's tests: skips for tests
// that need root or a kernel feature, and unique names for the kernel
// objects a test creates (always prefixed "ctrlab" so leaks are easy to find).
package testutil

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
)

// RequireRoot skips the test unless the effective uid is 0.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Getenv("CTRLAB_TEST_NOROOT") != "" {
		t.Skip("CTRLAB_TEST_NOROOT is set: privileged tests are off for this run")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: run `sudo make test-root` (or `go test -exec 'sudo -n' ./...`)")
	}
}

// Name returns a unique kernel-object name "ctrlab<prefix><hex>", at most
// 15 bytes when prefix is at most 7 bytes (an interface name's limit).
func Name(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	n := "ctrlab" + prefix + hex.EncodeToString(b)
	if len(n) > 15 {
		n = n[:15]
	}
	return n
}
