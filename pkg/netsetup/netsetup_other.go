//go:build !linux

package netsetup

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Host is the host side of ctrlab's networking (Linux only).
type Host struct{}

// Option configures Open.
type Option func(*Host) error

// DemoStep is one stage of the demo.
type DemoStep struct {
	Title      string   `json:"title"`
	Lines      []string `json:"lines,omitempty"`
	State      *State   `json:"state,omitempty"`
	Equivalent []string `json:"equivalent,omitempty"`
}

// DemoOptions tunes Demo.
type DemoOptions struct {
	Bridge   string
	Subnet   string
	HostPort uint16
}

// EchoServer is a running echo server (Linux only).
type EchoServer struct{}

func WithHostNetns(ns netns.NsHandle) Option { return func(*Host) error { return ErrNotImplemented } }
func WithStateDir(dir string) Option         { return func(*Host) error { return nil } }
func WithNetnsDir(dir string) Option         { return func(*Host) error { return nil } }
func WithFirewall(name string) Option        { return func(*Host) error { return nil } }
func Open(opts ...Option) (*Host, error)     { return nil, ErrNotImplemented }
func (h *Host) Close() error                 { return nil }
func (h *Host) StateDir() string             { return "" }
func (h *Host) NetnsDir() string             { return "" }
func (h *Host) Netlink() *netlink.Handle     { return nil }
func (h *Host) NetnsPath(name string) string { return "" }
func (h *Host) EnsureBridge(ctx context.Context, opts BridgeOptions) (*Bridge, error) {
	return nil, ErrNotImplemented
}
func (h *Host) DeleteBridge(ctx context.Context, name string) ([]string, error) {
	return nil, ErrNotImplemented
}
func (h *Host) AddNetns(ctx context.Context, name string) (*NetnsInfo, error) {
	return nil, ErrNotImplemented
}
func (h *Host) DeleteNetns(ctx context.Context, name string) ([]string, error) {
	return nil, ErrNotImplemented
}
func (h *Host) ListNetns(ctx context.Context) ([]NetnsInfo, error) { return nil, ErrNotImplemented }
func (h *Host) Connect(ctx context.Context, opts ConnectOptions) (*Attachment, error) {
	return nil, ErrNotImplemented
}
func (h *Host) Disconnect(ctx context.Context, att *Attachment) ([]string, error) {
	return nil, ErrNotImplemented
}
func (h *Host) Attachment(key string) (*Attachment, error) { return nil, ErrNotImplemented }
func (h *Host) Attachments() ([]Attachment, error)         { return nil, ErrNotImplemented }
func (h *Host) Publish(ctx context.Context, att *Attachment, pm PortMapping) ([]string, error) {
	return nil, ErrNotImplemented
}
func (h *Host) Unpublish(ctx context.Context, att *Attachment, pm PortMapping) ([]string, error) {
	return nil, ErrNotImplemented
}
func (h *Host) Show(ctx context.Context, name string) (*State, error) { return nil, ErrNotImplemented }
func (h *Host) Cleanup(ctx context.Context) (*CleanupReport, error)   { return nil, ErrNotImplemented }
func (h *Host) Demo(ctx context.Context, opts DemoOptions, report func(DemoStep)) error {
	return ErrNotImplemented
}
func (h *Host) DialFromHost(ctx context.Context, addr string) (net.Conn, error) {
	return nil, ErrNotImplemented
}
func Connect(ctx context.Context, opts ConnectOptions, hostOpts ...Option) (*Attachment, error) {
	return nil, ErrNotImplemented
}
func Disconnect(ctx context.Context, att *Attachment, hostOpts ...Option) error {
	return ErrNotImplemented
}
func Publish(ctx context.Context, att *Attachment, hostPort, ctrPort uint16, hostOpts ...Option) error {
	return ErrNotImplemented
}
func Unpublish(ctx context.Context, att *Attachment, hostPort uint16, hostOpts ...Option) error {
	return ErrNotImplemented
}
func EnsureBridge(ctx context.Context, opts BridgeOptions, hostOpts ...Option) (*Bridge, error) {
	return nil, ErrNotImplemented
}
func StartEchoServer(ctx context.Context, nsPath, addr string) (*EchoServer, error) {
	return nil, ErrNotImplemented
}
func (e *EchoServer) PID() int    { return 0 }
func (e *EchoServer) Stop() error { return nil }
func DialIn(ctx context.Context, ns netns.NsHandle, addr string) (net.Conn, error) {
	return nil, ErrNotImplemented
}
func Exchange(c net.Conn, msg string) (string, error) { return "", ErrNotImplemented }
func Ping(ctx context.Context, ns netns.NsHandle, dst netip.Addr, timeout time.Duration) (time.Duration, error) {
	return 0, ErrNotImplemented
}
