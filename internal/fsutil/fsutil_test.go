package fsutil

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadFileLimited(t *testing.T) {
	dir := t.TempDir()
	const limit = 1 << 20
	for _, tc := range []struct {
		name string
		size int
		ok   bool
	}{{"empty", 0, true}, {"small", 10, true}, {"at the limit", limit, true}, {"over the limit", limit + 1, false}} {
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
		want := bytes.Repeat([]byte{'x'}, tc.size)
		if err := os.WriteFile(path, want, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFileLimited(path, limit)
		if tc.ok {
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: %d bytes, %v", tc.name, len(got), err)
			}
			continue
		}
		var pe *fs.PathError
		if got != nil || !errors.As(err, &pe) || pe.Path != path || !strings.Contains(err.Error(), "larger than 1 MiB") {
			t.Errorf("%s: %d bytes, %v", tc.name, len(got), err)
		}
	}
	var pe *fs.PathError
	if _, err := ReadFileLimited(filepath.Join(dir, "missing"), limit); !errors.As(err, &pe) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	if _, err := ReadFileLimited(dir, limit); !errors.As(err, &pe) {
		t.Errorf("directory: %v", err)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "creds.json")
	for _, tc := range []struct {
		data string
		perm fs.FileMode
	}{{"first", 0o600}, {"second, longer", 0o640}, {"3", 0o600}} {
		if err := WriteFileAtomic(path, []byte(tc.data), tc.perm); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		st, serr := os.Stat(path)
		if err != nil || serr != nil || string(got) != tc.data || st.Mode().Perm() != tc.perm {
			t.Errorf("got %q mode %v (%v, %v), want %q mode %v", got, st.Mode(), err, serr, tc.data, tc.perm)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}

	// A failed rename (a non-empty directory stands at the path) leaves no
	// temporary file behind and the directory as it was.
	busy := filepath.Join(dir, "busy")
	if err := os.MkdirAll(filepath.Join(busy, "inside"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(busy, []byte("x"), 0o600); err == nil {
		t.Error("replaced a non-empty directory")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("after a failed write: %v", entries)
	}
	if st, err := os.Stat(filepath.Join(busy, "inside")); err != nil || !st.IsDir() {
		t.Errorf("the directory changed: %v", err)
	}

	// No directory: nothing is created.
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "f"), []byte("x"), 0o600); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing directory: %v", err)
	}
}

// TestReadUpTo: a reader is read to its end, or to one byte past the
// limit, which tells a caller it holds more.
func TestReadUpTo(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int64
		want  string
	}{{"hello", 10, "hello"}, {"hello", 5, "hello"}, {"hello", 3, "hell"}, {"", 0, ""}} {
		got, err := ReadUpTo(strings.NewReader(tc.in), tc.limit)
		if err != nil || string(got) != tc.want {
			t.Errorf("ReadUpTo(%q, %d) = %q, %v; want %q", tc.in, tc.limit, got, err, tc.want)
		}
	}
	if _, err := ReadUpTo(iotest.ErrReader(io.ErrClosedPipe), 5); err != io.ErrClosedPipe {
		t.Errorf("a failing reader: %v", err)
	}
}
