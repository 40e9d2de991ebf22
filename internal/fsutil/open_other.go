//go:build !unix

package fsutil

import (
	"io"
	"io/fs"
	"os"
)

// openNoBlock opens path for reading and refuses anything but a regular
// file, checking the opened handle (not the path, which may have changed
// since a caller looked at it).
func openNoBlock(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: path, Err: ErrNotRegular}
	}
	return f, nil
}

// readLimited reads the regular file at path; see ReadFileLimited.
func readLimited(path string, limit int) ([]byte, error) {
	fh, err := openNoBlock(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return readAllLimited(fh, path, limit)
}

// links returns 1: hard links are not counted on this system.
func links(fs.FileInfo) uint64 { return 1 }

// keepOwner does nothing on this system.
func keepOwner(*os.File, fs.FileInfo) {}

// readAllLimited reads f to its end, refusing more than limit bytes.
func readAllLimited(f *os.File, path string, limit int) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > limit {
		return nil, tooLarge(path, limit)
	}
	return data, nil
}
