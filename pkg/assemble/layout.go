package assemble

import (
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
)

// ContainersDir is where container state lives under the store root.
func ContainersDir(root string) string { return filepath.Join(root, "containers") }

// NetDir is where network leases and attachments live under the store root.
func NetDir(root string) string { return filepath.Join(root, "net") }

// NewID returns a fresh 12-hex-digit container ID.
func NewID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// CgroupName is the cgroup (under the ctrlab parent) of container id.
func CgroupName(id string) string { return "ctrlab-" + id }
