// Package fsutil holds the module's file reading and writing rules: a file
// is a regular file, opened without blocking and checked on the opened
// handle; reads are bounded; files holding secrets are replaced atomically.
// Every file the module reads for a caller (credential files, subject token
// files, certificates and keys, an executable's output file, sign-in
// configurations) is opened here, so that a path swapped to a named pipe
// or a device between a check and the open cannot block a refresh.
package fsutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrNotRegular is the cause of the error for a path that is not a regular
// file (a named pipe, a device, a socket, a directory).
var ErrNotRegular = errors.New("not a regular file")

// OpenRegular opens the file at path for reading. It never blocks on the
// kind of file: a named pipe or a device is opened without waiting (on
// Unix), found on the opened handle and refused with ErrNotRegular. Every
// error is an *fs.PathError naming path.
func OpenRegular(path string) (*os.File, error) { return openNoBlock(path) }

// ReadFileLimited reads the regular file at path (see OpenRegular),
// refusing one larger than limit bytes (a multiple of 1 MiB). Every error is
// an *fs.PathError naming path.
func ReadFileLimited(path string, limit int) ([]byte, error) {
	fh, err := OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > limit {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("larger than %d MiB", limit>>20)}
	}
	return data, nil
}

// WriteFileAtomic replaces the file at path with data, readable as perm:
// the data goes to a temporary file in the same directory, which is synced
// and renamed over path, so that a reader sees the old file or the new one,
// never a part. The temporary file is created private (0600) and given perm
// before any data is written; it is removed when anything fails. The directory must exist.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
