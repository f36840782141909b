package container

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// openPTY allocates a pseudo-terminal pair without cgo: open /dev/ptmx,
// ask its number (TIOCGPTN), unlock it (TIOCSPTLCK 0), open /dev/pts/N.
// Equivalent to posix_openpt(3) + grantpt(3) + unlockpt(3) + ptsname(3).
func openPTY() (master, slave *os.File, err error) {
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening /dev/ptmx: %w", err)
	}
	n, err := unix.IoctlGetUint32(m, unix.TIOCGPTN)
	if err != nil {
		unix.Close(m)
		return nil, nil, fmt.Errorf("ioctl(TIOCGPTN): %w", err)
	}
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(m)
		return nil, nil, fmt.Errorf("ioctl(TIOCSPTLCK): %w", err)
	}
	name := "/dev/pts/" + strconv.Itoa(int(n))
	s, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(m)
		return nil, nil, fmt.Errorf("opening %s: %w", name, err)
	}
	return os.NewFile(uintptr(m), "/dev/ptmx"), os.NewFile(uintptr(s), name), nil
}

// ResizeConsole copies the window size of the terminal fd from onto the pty
// master to (what SIGWINCH forwarding does).
func ResizeConsole(to *os.File, from int) error {
	ws, err := unix.IoctlGetWinsize(from, unix.TIOCGWINSZ)
	if err != nil {
		return err
	}
	return unix.IoctlSetWinsize(int(to.Fd()), unix.TIOCSWINSZ, ws)
}
