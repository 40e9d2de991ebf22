//go:build unix

package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"syscall"
)

// openNoBlock opens path for reading without waiting: O_NONBLOCK makes the
// open of a named pipe without a writer (or of a device) return at once,
// and the check is made on the opened descriptor, so a path swapped between
// a caller's look at it and the open cannot slip through. A regular file is
// switched back to blocking mode before it is handed out.
func openNoBlock(path string) (*os.File, error) {
	fd, _, err := openRegularFD(path)
	if err != nil {
		return nil, err
	}
	if err := syscall.SetNonblock(fd, false); err != nil {
		syscall.Close(fd)
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// openRegularFD opens the regular file at path as openNoBlock describes,
// and returns its descriptor (still non-blocking, which does not matter to
// a regular file) and its size.
func openRegularFD(path string) (fd int, size int64, err error) {
	for {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return -1, 0, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return -1, 0, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		syscall.Close(fd)
		return -1, 0, &fs.PathError{Op: "open", Path: path, Err: ErrNotRegular}
	}
	return fd, st.Size, nil
}

// readLimited reads the regular file at path (see ReadFileLimited) with
// plain system calls: an open that does not wait, fstat on the descriptor,
// reads into a buffer of the size fstat gave, close. An *os.File would cost
// two more system calls (its flags set back and read again) and three
// allocations, for a file read once.
func readLimited(path string, limit int) ([]byte, error) {
	fd, size, err := openRegularFD(path)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	if size > int64(limit) {
		return nil, tooLarge(path, limit)
	}
	// One byte more than the size, so that a file that is as long as
	// fstat said is read in one call that comes back short: at its end.
	buf := make([]byte, 0, max(size, 0)+1)
	for {
		if len(buf) == cap(buf) {
			if len(buf) > limit {
				return nil, tooLarge(path, limit)
			}
			buf = slices.Grow(buf, min(max(len(buf), 512), limit+1-len(buf)))
		}
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			break // the end of the file
		}
		buf = buf[:len(buf)+n]
		if len(buf) == int(size) && len(buf) < cap(buf) {
			break // as long as fstat said, and the read came back short
		}
	}
	if len(buf) > limit {
		return nil, tooLarge(path, limit)
	}
	return buf, nil
}

// links returns the number of hard links of the file fi describes.
func links(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// keepOwner gives f the owner and group of the file fi describes, where the
// system allows it (a process may give a file its own group, root any
// owner); a refusal leaves f as it is.
func keepOwner(f *os.File, fi fs.FileInfo) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if f.Chown(int(st.Uid), int(st.Gid)) != nil {
			_ = f.Chown(-1, int(st.Gid))
		}
	}
}
