//go:build !linux

package testutil

import "testing"

// RequireCgroup2 skips: cgroups exist only on Linux.
func RequireCgroup2(t testing.TB) { t.Skip("cgroups need Linux") }

// RequireUserNS skips: namespaces exist only on Linux.
func RequireUserNS(t testing.TB) { t.Skip("namespaces need Linux") }

// RequireKernel skips: not a Linux kernel.
func RequireKernel(t testing.TB, major, minor int) { t.Skip("needs a Linux kernel") }
