// Package fsutil holds the module's file reading and writing rules: a file
// is a regular file, opened without blocking and checked on the opened
// handle; reads are bounded; files holding secrets are replaced atomically.
// Every file the module reads for a caller (credential files, subject token
// files, certificates and keys, an executable's output file, sign-in
// configurations) is opened here, so that a path swapped to a named pipe
// or a device between a check and the open cannot block a refresh.
package fsutil

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/stsgo/sts/internal/errs"
)

// ErrNotRegular is the cause of the error for a path that is not a regular
// file (a named pipe, a device, a socket, a directory).
var ErrNotRegular = errors.New("not a regular file")

// OpenRegular opens the file at path for reading. It never blocks on the
// kind of file: a named pipe or a device is opened without waiting (on
// Unix), found on the opened handle and refused with ErrNotRegular. Every
// error is an *fs.PathError naming path.
func OpenRegular(path string) (*os.File, error) { return openNoBlock(path) }

// ReadUpTo reads r to its end or to limit+1 bytes, whichever comes first:
// a result longer than limit means r holds more than limit bytes. (It reads
// with bytes.Buffer, which net/http links already, rather than io.ReadAll.)
func ReadUpTo(r io.Reader, limit int64) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(io.LimitReader(r, limit+1))
	return b.Bytes(), err
}

// ReadFileLimited reads the regular file at path (see OpenRegular),
// refusing one larger than limit bytes (a multiple of 1 MiB). Every error is
// an *fs.PathError naming path.
func ReadFileLimited(path string, limit int) ([]byte, error) { return readLimited(path, limit) }

// tooLarge is the error for a file at path over limit bytes. (Not inlined:
// readers call it from several places.)
//
//go:noinline
func tooLarge(path string, limit int) error {
	return &fs.PathError{Op: "read", Path: path, Err: errs.Errorf("larger than %d MiB", limit>>20)}
}

// WriteFileAtomic replaces the file at path with data, readable as perm:
// the data goes to a temporary file in the same directory, which is synced
// and renamed over path, so that a reader sees the old file or the new one,
// never a part. The temporary file is created private (0600) and given perm
// before any data is written; it is removed when anything fails. The
// directory must exist.
//
// A symbolic link at path is written through: its final target is
// replaced, in the target's directory, and the link stays as it is (a
// replaced link would leave the old data in its target). A link whose
// target does not exist is refused.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	target, err := resolve(path)
	if err != nil {
		return err
	}
	return replace(target, data, perm, nil)
}

// UpdateFile rewrites the regular file at path (read as ReadFileLimited
// does) with what edit makes of its contents, atomically as
// WriteFileAtomic writes, keeping its permission bits (and, where the
// system allows, its owner and group). A symbolic link is written through
// to its target. Refused, naming the reason: a path that is not a regular
// file, a file with more than one hard link (replacing one name would
// leave the old contents under the others), and a file that changed while
// it was being updated. edit's error is returned as it is.
func UpdateFile(path string, limit int, edit func([]byte) ([]byte, error)) error {
	target, err := resolve(path)
	if err != nil {
		return err
	}
	fh, err := OpenRegular(target)
	if err != nil {
		return err
	}
	defer fh.Close()
	before, err := fh.Stat()
	if err != nil {
		return err
	}
	if n := links(before); n > 1 {
		return &fs.PathError{Op: "update", Path: path, Err: errs.Errorf("the file has %d hard links: replacing it would leave the old contents under the other names", n)}
	}
	data, err := io.ReadAll(io.LimitReader(fh, int64(limit)+1))
	if err != nil {
		return err
	}
	if len(data) > limit {
		return &fs.PathError{Op: "read", Path: path, Err: errs.Errorf("larger than %d MiB", limit>>20)}
	}
	out, err := edit(data)
	if err != nil {
		return err
	}
	return replace(target, out, before.Mode().Perm(), func(tmp *os.File) error {
		keepOwner(tmp, before)
		now, err := os.Lstat(target)
		if err != nil || !os.SameFile(before, now) || !now.ModTime().Equal(before.ModTime()) || now.Size() != before.Size() {
			return &fs.PathError{Op: "update", Path: path, Err: errs.New("the file changed while it was being updated")}
		}
		return nil
	})
}

// resolve returns the final target of the symbolic links at path, or path
// itself when nothing is there yet.
func resolve(path string) (string, error) {
	target, err := filepath.EvalSymlinks(path)
	if err == nil {
		return target, nil
	}
	if st, lerr := os.Lstat(path); errors.Is(lerr, fs.ErrNotExist) {
		return path, nil // a new file (in an existing directory, or the write fails)
	} else if lerr == nil && st.Mode()&fs.ModeSymlink != 0 {
		return "", &fs.PathError{Op: "write", Path: path, Err: errs.New("a symbolic link whose target cannot be resolved")}
	}
	return "", err
}

// replace writes data to a temporary file next to target and renames it
// over target; ready, if set, runs on the written temporary file just
// before the rename and may stop it.
func replace(target string, data []byte, perm fs.FileMode, ready func(*os.File) error) error {
	dir := filepath.Dir(target)
	f, err := os.CreateTemp(dir, "."+filepath.Base(target)+".tmp-*")
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
	if ready != nil {
		if err := ready(f); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, target)
}
