//go:build !unix

package fsutil

import (
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
