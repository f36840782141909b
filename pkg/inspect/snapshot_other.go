//go:build !linux

package inspect

// Snapshot needs Linux /proc and namespaces.
func Snapshot(pid string, opts ...Option) (*Process, error) { return nil, ErrNotImplemented }

// Hostname needs Linux UTS namespaces.
func Hostname(pid string) (string, error) { return "", ErrNotImplemented }

// Links needs Linux netlink.
func Links(pid string) ([]Link, error) { return nil, ErrNotImplemented }
