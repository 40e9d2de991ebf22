// Package fsutil holds the module's file reading and writing rules: reads
// are bounded, and files holding secrets are replaced atomically.
package fsutil

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// ReadFileLimited reads the file at path, refusing one larger than limit
// bytes (a multiple of 1 MiB). Every error is an *fs.PathError naming path.
func ReadFileLimited(path string, limit int) ([]byte, error) {
	fh, err := os.Open(path)
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
