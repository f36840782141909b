//go:build !linux

package cgroup

import (
	"context"
	"os"
	"os/exec"
)

// Cgroup is a ctrlab cgroup; on this system every operation returns
// ErrNotImplemented.
type Cgroup struct{}

// Option configures New.
type Option func()

// WithCpuset is a no-op here.
func WithCpuset() Option { return func() {} }

// Detect returns ErrNotImplemented.
func Detect() (*Info, error) { return nil, ErrNotImplemented }

// DetectMode needs Linux.
func DetectMode() (Mode, error) { return "", ErrNotImplemented }

// New returns ErrNotImplemented.
func New(string, ...Option) (*Cgroup, error) { return nil, ErrNotImplemented }

// Load returns ErrNotImplemented.
func Load(string) (*Cgroup, error) { return nil, ErrNotImplemented }

// List returns ErrNotImplemented.
func List() ([]string, error) { return nil, ErrNotImplemented }

// Demo returns ErrNotImplemented.
func Demo(context.Context, DemoKind, ...DemoOption) (*DemoResult, error) {
	return nil, ErrNotImplemented
}

// DemoResources returns ErrNotImplemented.
func DemoResources(DemoKind) (Resources, error) { return Resources{}, ErrNotImplemented }

func (c *Cgroup) Name() string                       { return "" }
func (c *Cgroup) Info() *Info                        { return &Info{} }
func (c *Cgroup) Mode() Mode                         { return "" }
func (c *Cgroup) Path(string) string                 { return "" }
func (c *Cgroup) Paths() map[string]string           { return nil }
func (c *Cgroup) AddPID(int) error                   { return ErrNotImplemented }
func (c *Cgroup) FD() (*os.File, bool, error)        { return nil, false, ErrNotImplemented }
func (c *Cgroup) Procs() ([]int, error)              { return nil, ErrNotImplemented }
func (c *Cgroup) Set(Resources) ([]FileWrite, error) { return nil, ErrNotImplemented }
func (c *Cgroup) Limits() ([]FileValue, error)       { return nil, ErrNotImplemented }
func (c *Cgroup) Stats() (Stats, error)              { return Stats{}, ErrNotImplemented }
func (c *Cgroup) Delete() error                      { return ErrNotImplemented }
func (c *Cgroup) Start(*exec.Cmd) error              { return ErrNotImplemented }
func (c *Cgroup) Run(context.Context, *exec.Cmd, ...RunOption) (*RunResult, error) {
	return nil, ErrNotImplemented
}

// ShellCode is the exit code (signals are not decoded here).
func (r *RunResult) ShellCode() int { return r.ExitCode }
