package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ctrlab/ctrlab/pkg/overlay"
)

// UnpackLayer extracts one uncompressed layer tar into dir (which must
// exist, normally empty), turning OCI whiteouts into overlay whiteouts.
//
// Every path is resolved inside dir with openat2(2) and
// RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS|RESOLVE_NO_XDEV, so a symlink
// planted by an earlier entry ("etc -> /etc") is followed as if dir were
// "/" and can never lead a later write outside dir. Names climbing out
// with ".." are refused, absolute names are made relative, hardlinks must
// name a file already inside dir, device nodes are skipped unless allowed
// (WithDevices, as root), and sizes are capped. Ownership (as root), modes,
// xattrs (SCHILY.xattr.*) and timestamps are kept; directory modes and
// times are set at the end.
// Equivalent to: `tar -xpf LAYER.tar -C DIR --xattrs` plus
// `mknod DIR/NAME c 0 0` for each ".wh.NAME".
func UnpackLayer(ctx context.Context, r io.Reader, dir string, opts ...UnpackOption) (*UnpackStats, error) {
	o := buildUnpackOptions(opts)
	rootFd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening unpack directory %q: %w", dir, err)
	}
	u := &unpacker{root: rootFd, o: o, st: &UnpackStats{}}
	defer unix.Close(rootFd)
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return u.st, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return u.st, fmt.Errorf("reading layer tar: %w", err)
		}
		u.st.Entries++
		if u.st.Entries > o.maxEntries {
			return u.st, fmt.Errorf("%w: more than %d entries", ErrTooLarge, o.maxEntries)
		}
		if err := u.entry(hdr, tr); err != nil {
			return u.st, err
		}
	}
	return u.st, u.finishDirs()
}

type dirMeta struct {
	rel   string
	mode  uint32
	atime time.Time
	mtime time.Time
}

type unpacker struct {
	root  int
	o     *unpackOptions
	st    *UnpackStats
	total int64
	dirs  []dirMeta
}

const resolveFlags = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV

// openIn resolves rel inside the root, following symlinks only within it.
func (u *unpacker) openIn(rel string, flags int, resolve uint64) (int, error) {
	if rel == "" {
		rel = "."
	}
	for {
		fd, err := unix.Openat2(u.root, rel, &unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: resolve})
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err == unix.ENOSYS {
			// Kernels before 5.6, and qemu-user, lack openat2: resolve by hand.
			return openInRoot(u.root, rel, flags|unix.O_CLOEXEC, resolve&unix.RESOLVE_NO_XDEV != 0)
		}
		return fd, err
	}
}

// openInRoot resolves rel below the directory fd root one component at a
// time, as openat2(RESOLVE_IN_ROOT) does: ".." never climbs above root, an
// absolute symlink restarts at root, a relative one is spliced in, at most
// 40 links are followed (ELOOP), and with noXdev a mount crossing is EXDEV.
// A trailing symlink is followed unless flags has O_NOFOLLOW.
func openInRoot(root int, rel string, flags int, noXdev bool) (int, error) {
	var rootSt unix.Stat_t
	if err := unix.Fstat(root, &rootSt); err != nil {
		return -1, err
	}
	stack := []int{}
	closeAll := func() {
		for _, fd := range stack {
			unix.Close(fd)
		}
		stack = stack[:0]
	}
	cur := func() int {
		if len(stack) == 0 {
			return root
		}
		return stack[len(stack)-1]
	}
	todo := strings.Split(rel, "/")
	hops := 0
	for len(todo) > 0 {
		comp := todo[0]
		todo = todo[1:]
		last := len(todo) == 0
		switch comp {
		case "", ".":
			if last {
				fd, err := unix.Openat(cur(), ".", flags, 0)
				closeAll()
				return fd, err
			}
			continue
		case "..":
			if len(stack) > 0 {
				unix.Close(stack[len(stack)-1])
				stack = stack[:len(stack)-1]
			}
			if last {
				fd, err := unix.Openat(cur(), ".", flags, 0)
				closeAll()
				return fd, err
			}
			continue
		}
		var st unix.Stat_t
		err := unix.Fstatat(cur(), comp, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK && !(last && flags&unix.O_NOFOLLOW != 0) {
			if hops++; hops > 40 {
				closeAll()
				return -1, unix.ELOOP
			}
			buf := make([]byte, unix.PathMax)
			n, err := unix.Readlinkat(cur(), comp, buf)
			if err != nil {
				closeAll()
				return -1, err
			}
			target := string(buf[:n])
			if strings.HasPrefix(target, "/") {
				closeAll()
			}
			todo = append(strings.Split(target, "/"), todo...)
			continue
		}
		if err == nil && noXdev && st.Dev != rootSt.Dev {
			closeAll()
			return -1, unix.EXDEV
		}
		if last {
			fd, err := unix.Openat(cur(), comp, flags|unix.O_NOFOLLOW, 0)
			closeAll()
			return fd, err
		}
		if err != nil {
			closeAll()
			return -1, err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			closeAll()
			return -1, unix.ENOTDIR
		}
		fd, err := unix.Openat(cur(), comp, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			closeAll()
			return -1, err
		}
		stack = append(stack, fd)
	}
	fd, err := unix.Openat(cur(), ".", flags, 0)
	closeAll()
	return fd, err
}

// mkdirAll returns an O_PATH fd for directory rel, creating missing
// components (mode 0755) one at a time with mkdirat on an already-resolved
// parent: a symlink is never followed out of the root.
func (u *unpacker) mkdirAll(rel string) (int, error) {
	fd, err := u.openIn(rel, unix.O_PATH|unix.O_DIRECTORY, resolveFlags)
	if err == nil || rel == "" || !errors.Is(err, unix.ENOENT) {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ENOTDIR) {
			return -1, &UnsafeEntryError{Name: rel, Reason: "parent does not resolve to a directory inside the layer (" + err.Error() + ")"}
		}
		if err != nil {
			return -1, fmt.Errorf("resolving %q in the layer: %w", rel, err)
		}
		return fd, nil
	}
	pfd, err := u.mkdirAll(parentOf(rel))
	if err != nil {
		return -1, err
	}
	err = unix.Mkdirat(pfd, path.Base(rel), 0o755)
	unix.Close(pfd)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, fmt.Errorf("creating directory %q: %w", rel, classifyFS(err))
	}
	fd, err = u.openIn(rel, unix.O_PATH|unix.O_DIRECTORY, resolveFlags)
	if err != nil {
		return -1, &UnsafeEntryError{Name: rel, Reason: "parent is not a directory inside the layer (" + err.Error() + ")"}
	}
	return fd, nil
}

func parentOf(rel string) string {
	p := path.Dir(rel)
	if p == "." {
		return ""
	}
	return p
}

func (u *unpacker) skip(name, why string) { u.st.Skipped = append(u.st.Skipped, name+": "+why) }

func (u *unpacker) entry(hdr *tar.Header, r io.Reader) error {
	rel, err := cleanEntryName(hdr.Name)
	if err != nil {
		return err
	}
	if rel == "" { // the layer root itself
		if hdr.Typeflag == tar.TypeDir {
			u.dirs = append(u.dirs, dirMeta{rel: "", mode: uint32(hdr.Mode & 0o7777), atime: hdr.AccessTime, mtime: hdr.ModTime})
		}
		return nil
	}
	base := path.Base(rel)
	if strings.HasPrefix(base, overlay.OCIWhiteoutPrefix) {
		return u.whiteout(rel, base)
	}
	pfd, err := u.mkdirAll(parentOf(rel))
	if err != nil {
		return err
	}
	defer unix.Close(pfd)

	switch hdr.Typeflag {
	case tar.TypeDir:
		return u.dir(pfd, rel, base, hdr)
	case tar.TypeReg, tar.TypeRegA:
		return u.file(pfd, rel, base, hdr, r)
	case tar.TypeSymlink:
		if err := removeAt(pfd, base); err != nil {
			return err
		}
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return fmt.Errorf("creating symlink %q: %w", rel, classifyFS(err))
		}
		u.st.Symlinks++
		return u.meta(pfd, base, -1, hdr, false)
	case tar.TypeLink:
		return u.hardlink(pfd, rel, base, hdr)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return u.node(pfd, rel, base, hdr)
	case tar.TypeXGlobalHeader:
		return nil
	default:
		u.skip(hdr.Name, fmt.Sprintf("unsupported tar type %q", hdr.Typeflag))
		return nil
	}
}

func (u *unpacker) dir(pfd int, rel, base string, hdr *tar.Header) error {
	var st unix.Stat_t
	err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		if err := removeAt(pfd, base); err != nil {
			return err
		}
		err = unix.ENOENT
	}
	if err != nil {
		if err := unix.Mkdirat(pfd, base, 0o755); err != nil {
			return fmt.Errorf("creating directory %q: %w", rel, classifyFS(err))
		}
	}
	dfd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening directory %q: %w", rel, err)
	}
	defer unix.Close(dfd)
	u.st.Dirs++
	if u.o.chown {
		if err := unix.Fchown(dfd, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("chown %q: %w", rel, err)
		}
	}
	u.xattrs(dfd, hdr)
	u.dirs = append(u.dirs, dirMeta{rel: rel, mode: uint32(hdr.Mode & 0o7777), atime: hdr.AccessTime, mtime: hdr.ModTime})
	return nil
}

func (u *unpacker) file(pfd int, rel, base string, hdr *tar.Header, r io.Reader) error {
	if hdr.Size < 0 || hdr.Size > u.o.maxFile {
		return fmt.Errorf("%w: %q is %d bytes (limit %d)", ErrTooLarge, hdr.Name, hdr.Size, u.o.maxFile)
	}
	if u.total+hdr.Size > u.o.maxTotal {
		return fmt.Errorf("%w: layer exceeds %d bytes at %q", ErrTooLarge, u.o.maxTotal, hdr.Name)
	}
	u.total += hdr.Size
	if err := removeAt(pfd, base); err != nil {
		return err
	}
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("creating %q: %w", rel, classifyFS(err))
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	n, err := io.CopyN(f, r, hdr.Size)
	u.st.Bytes += n
	if err != nil {
		return fmt.Errorf("writing %q: %w", rel, classifyFS(err))
	}
	u.st.Files++
	if err := u.meta(pfd, base, fd, hdr, true); err != nil {
		return err
	}
	return f.Close()
}

func (u *unpacker) hardlink(pfd int, rel, base string, hdr *tar.Header) error {
	trel, err := cleanEntryName(hdr.Linkname)
	if err != nil || trel == "" {
		return &UnsafeEntryError{Name: hdr.Name, Reason: fmt.Sprintf("hardlink target %q is outside the layer", hdr.Linkname)}
	}
	if trel == rel {
		return nil
	}
	tpfd, err := u.openIn(parentOf(trel), unix.O_PATH|unix.O_DIRECTORY, resolveFlags)
	if err != nil {
		return &UnsafeEntryError{Name: hdr.Name, Reason: fmt.Sprintf("hardlink target %q is not in the layer", hdr.Linkname)}
	}
	defer unix.Close(tpfd)
	var st unix.Stat_t
	if err := unix.Fstatat(tpfd, path.Base(trel), &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return &UnsafeEntryError{Name: hdr.Name, Reason: fmt.Sprintf("hardlink target %q is not a file in the layer", hdr.Linkname)}
	}
	if err := removeAt(pfd, base); err != nil {
		return err
	}
	if err := unix.Linkat(tpfd, path.Base(trel), pfd, base, 0); err != nil {
		return fmt.Errorf("linking %q to %q: %w", rel, trel, classifyFS(err))
	}
	u.st.Hardlinks++
	return nil
}

func (u *unpacker) node(pfd int, rel, base string, hdr *tar.Header) error {
	if hdr.Typeflag == tar.TypeChar && hdr.Devmajor == 0 && hdr.Devminor == 0 {
		// Already an overlay whiteout.
		if err := removeAt(pfd, base); err != nil {
			return err
		}
		u.st.Whiteouts++
		return u.makeWhiteout(pfd, base)
	}
	mode := uint32(hdr.Mode & 0o7777)
	var dev int
	switch hdr.Typeflag {
	case tar.TypeFifo:
		mode |= unix.S_IFIFO
	case tar.TypeChar, tar.TypeBlock:
		if !u.o.devices || os.Geteuid() != 0 {
			u.skip(hdr.Name, "device node not permitted")
			return nil
		}
		mode |= unix.S_IFCHR
		if hdr.Typeflag == tar.TypeBlock {
			mode = mode&^unix.S_IFCHR | unix.S_IFBLK
		}
		dev = int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
		u.st.Devices++
	}
	if err := removeAt(pfd, base); err != nil {
		return err
	}
	if err := unix.Mknodat(pfd, base, mode, dev); err != nil {
		return fmt.Errorf("mknod %q: %w", rel, classifyFS(err))
	}
	return u.meta(pfd, base, -1, hdr, false)
}

// whiteout turns ".wh.NAME" into an overlay whiteout NAME (a 0/0 character
// device) and ".wh..wh..opq" into the opaque xattr on its directory.
func (u *unpacker) whiteout(rel, base string) error {
	target, opaque, ok := overlay.ParseOCIWhiteout(base)
	if !ok {
		return &UnsafeEntryError{Name: rel, Reason: "malformed whiteout name"}
	}
	parent := parentOf(rel)
	pfd, err := u.mkdirAll(parent)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	if opaque {
		dfd, err := u.openIn(parent, unix.O_RDONLY|unix.O_DIRECTORY, resolveFlags)
		if err != nil {
			return fmt.Errorf("opening %q to mark it opaque: %w", parent, err)
		}
		defer unix.Close(dfd)
		err = unix.Fsetxattr(dfd, overlay.XattrOpaque, []byte("y"), 0)
		if errors.Is(err, unix.EPERM) {
			err = unix.Fsetxattr(dfd, overlay.XattrUserOpaque, []byte("y"), 0)
		}
		if err != nil {
			return fmt.Errorf("marking %q opaque: %w", parent, err)
		}
		u.st.Opaques++
		return nil
	}
	if err := removeAt(pfd, target); err != nil {
		return err
	}
	u.st.Whiteouts++
	return u.makeWhiteout(pfd, target)
}

// makeWhiteout creates the overlay whiteout NAME in the directory pfd: a
// 0/0 character device as root; without CAP_MKNOD, the xattr form overlayfs
// accepts with userxattr (an empty file with user.overlay.whiteout, and its
// directory marked user.overlay.opaque=x).
func (u *unpacker) makeWhiteout(pfd int, name string) error {
	// overlay.MakeWhiteout with a path, done relative to the resolved parent.
	err := unix.Mknodat(pfd, name, unix.S_IFCHR|0o000, 0)
	if err == nil || !errors.Is(err, unix.EPERM) {
		if err != nil {
			return fmt.Errorf("making whiteout %q: %w", name, classifyFS(err))
		}
		return nil
	}
	fd, err := unix.Openat(pfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o000)
	if err != nil {
		return fmt.Errorf("making whiteout %q: %w", name, err)
	}
	defer unix.Close(fd)
	if err := unix.Fsetxattr(fd, overlay.XattrUserWhiteout, nil, 0); err != nil {
		return fmt.Errorf("making whiteout %q: %w", name, err)
	}
	dfd, err := unix.Openat(pfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	if _, gerr := unix.Fgetxattr(dfd, overlay.XattrUserOpaque, nil); gerr != nil {
		_ = unix.Fsetxattr(dfd, overlay.XattrUserOpaque, []byte("x"), 0)
	}
	return nil
}

// meta applies ownership, mode (files, nodes), xattrs and times to base in
// pfd; fd, when >= 0, is an open descriptor for it.
func (u *unpacker) meta(pfd int, base string, fd int, hdr *tar.Header, chmod bool) error {
	if u.o.chown {
		if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown %q: %w", hdr.Name, err)
		}
	}
	if fd >= 0 {
		if chmod {
			if err := unix.Fchmod(fd, uint32(hdr.Mode&0o7777)); err != nil {
				return fmt.Errorf("chmod %q: %w", hdr.Name, err)
			}
		}
		u.xattrs(fd, hdr)
	}
	if err := unix.UtimesNanoAt(pfd, base, times(hdr.AccessTime, hdr.ModTime), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("setting times of %q: %w", hdr.Name, err)
	}
	return nil
}

// xattrs applies SCHILY.xattr.* records. overlay's own xattrs are refused
// (a layer must not forge opaque dirs or redirects); attributes the file
// system or our privileges refuse are skipped and reported.
func (u *unpacker) xattrs(fd int, hdr *tar.Header) {
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok {
			continue
		}
		if strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.") {
			u.skip(hdr.Name, "overlay xattr "+name+" refused")
			continue
		}
		if err := unix.Fsetxattr(fd, name, []byte(v), 0); err != nil {
			u.skip(hdr.Name, "xattr "+name+": "+err.Error())
		}
	}
}

// finishDirs sets directory modes and times last (writing into a directory
// changes its mtime), resolving without following any symlink.
func (u *unpacker) finishDirs() error {
	for i := len(u.dirs) - 1; i >= 0; i-- {
		d := u.dirs[i]
		dfd, err := u.openIn(d.rel, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, unix.RESOLVE_BENEATH|unix.RESOLVE_NO_SYMLINKS|unix.RESOLVE_NO_XDEV)
		if err != nil {
			continue // replaced by a later entry
		}
		err = unix.Fchmod(dfd, d.mode)
		if err == nil {
			err = unix.UtimesNanoAt(dfd, "", times(d.atime, d.mtime), unix.AT_EMPTY_PATH)
		}
		unix.Close(dfd)
		if err != nil {
			return fmt.Errorf("setting mode and times of directory %q: %w", d.rel, err)
		}
	}
	return nil
}

func times(atime, mtime time.Time) []unix.Timespec {
	if atime.IsZero() {
		atime = mtime
	}
	return []unix.Timespec{ts(atime), ts(mtime)}
}

func ts(t time.Time) unix.Timespec {
	if t.IsZero() || t.Unix() < 0 {
		return unix.Timespec{}
	}
	s, err := unix.TimeToTimespec(t)
	if err != nil {
		return unix.Timespec{}
	}
	return s
}

// removeAt removes name in the directory dirfd, recursively, never
// following a symlink. A missing name is not an error.
func removeAt(dirfd int, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("checking %q: %w", name, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		if err := unix.Unlinkat(dirfd, name, 0); err != nil {
			return fmt.Errorf("removing %q: %w", name, err)
		}
		return nil
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %q: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	names, err := f.Readdirnames(-1)
	if err != nil {
		f.Close()
		return fmt.Errorf("listing %q: %w", name, err)
	}
	for _, n := range names {
		if err := removeAt(fd, n); err != nil {
			f.Close()
			return err
		}
	}
	f.Close()
	if err := unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR); err != nil {
		return fmt.Errorf("removing directory %q: %w", name, err)
	}
	return nil
}
