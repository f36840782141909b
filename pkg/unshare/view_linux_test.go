package unshare

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRootPropagation(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mountinfo")
	data := "22 27 0:21 / /proc rw,relatime shared:14 - proc proc rw\n" +
		"27 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := rootPropagation(p); got != "shared:1" {
		t.Fatalf("rootPropagation = %q, want shared:1", got)
	}
	data = "27 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := rootPropagation(p); got != "private" {
		t.Fatalf("rootPropagation = %q, want private", got)
	}
	if !mountedAt(p, "/") || mountedAt(p, "/proc") {
		t.Fatal("mountedAt is wrong")
	}
}
