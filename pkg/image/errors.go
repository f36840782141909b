package image

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Callers test them with errors.Is; messages wrap them with
// the reference or path involved, on one line.
var (
	// ErrNotImplemented is returned on systems other than Linux.
	ErrNotImplemented = errors.New("not implemented on this system")
	// ErrInvalidReference: the reference does not parse.
	ErrInvalidReference = errors.New("invalid image reference")
	// ErrNotFound: no image with this reference or ID is in the local store.
	ErrNotFound = errors.New("no such image in the local store")
	// ErrUnknownImage: the registry has no such repository, tag or digest.
	ErrUnknownImage = errors.New("the registry has no such image or tag")
	// ErrNoPlatform: the index lists no image for the wanted platform.
	ErrNoPlatform = errors.New("no image for this platform")
	// ErrUnreachable: the registry did not answer.
	ErrUnreachable = errors.New("registry unreachable")
	// ErrAuth: the registry wants credentials (or refused the ones given).
	ErrAuth = errors.New("registry requires authentication (run `docker login` or `podman login`)")
	// ErrDigestMismatch: content did not hash to the digest that names it.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrDiskFull: the store's file system is full (ENOSPC, EDQUOT).
	ErrDiskFull = errors.New("disk full")
	// ErrUnsafeEntry: a layer entry tried to leave its directory, or is not permitted.
	ErrUnsafeEntry = errors.New("unsafe layer entry")
	// ErrTooLarge: a layer is larger than the unpack limits allow.
	ErrTooLarge = errors.New("layer too large")
	// ErrInUse: the image is still needed (see RemoveResult).
	ErrInUse = errors.New("image in use")
)

// NoPlatformError lists the platforms an index does offer.
type NoPlatformError struct {
	Ref       string   `json:"ref"`
	Want      string   `json:"want"`
	Available []string `json:"available"`
}

func (e *NoPlatformError) Error() string {
	return fmt.Sprintf("%s: %v %s (available: %s; choose one with --platform)",
		e.Ref, ErrNoPlatform, e.Want, strings.Join(e.Available, ", "))
}

// Is makes errors.Is(err, ErrNoPlatform) true.
func (e *NoPlatformError) Is(target error) bool { return target == ErrNoPlatform }

// DigestError reports content whose hash is not the digest that names it.
type DigestError struct {
	What string `json:"what"`
	Want string `json:"want"`
	Got  string `json:"got"`
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("%v: %s should hash to %s but hashes to %s", ErrDigestMismatch, e.What, e.Want, e.Got)
}

// Is makes errors.Is(err, ErrDigestMismatch) true.
func (e *DigestError) Is(target error) bool { return target == ErrDigestMismatch }

// UnsafeEntryError names the tar entry the unpacker refused.
type UnsafeEntryError struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

func (e *UnsafeEntryError) Error() string {
	return fmt.Sprintf("%v %q: %s", ErrUnsafeEntry, e.Name, e.Reason)
}

// Is makes errors.Is(err, ErrUnsafeEntry) true.
func (e *UnsafeEntryError) Is(target error) bool { return target == ErrUnsafeEntry }
