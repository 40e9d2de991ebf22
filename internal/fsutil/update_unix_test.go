//go:build unix && !solaris && !illumos && !aix

package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func upper(b []byte) ([]byte, error) { return []byte(strings.ToUpper(string(b))), nil }

// TestUpdateFileThroughSymlinks: a link (or a chain of links, or a link to
// a file in another directory) is written through: the target gets the new
// contents atomically, with its mode, and every link stays a link.
func TestUpdateFileThroughSymlinks(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "store", "creds.json")
	if err := os.MkdirAll(filepath.Dir(real), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(real, []byte("token-old"), 0o640); err != nil {
		t.Fatal(err)
	}
	link1 := filepath.Join(dir, "link1.json")
	link2 := filepath.Join(dir, "link2.json")
	if err := os.Symlink("store/creds.json", link1); err != nil { // relative
		t.Fatal(err)
	}
	if err := os.Symlink(link1, link2); err != nil { // a chain
		t.Fatal(err)
	}
	if err := UpdateFile(link2, 1<<20, upper); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(real)
	st, _ := os.Stat(real)
	if string(got) != "TOKEN-OLD" || st.Mode().Perm() != 0o640 {
		t.Errorf("target %q mode %v", got, st.Mode())
	}
	for _, l := range []string{link1, link2} {
		if st, err := os.Lstat(l); err != nil || st.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s is no longer a link: %v %v", l, st.Mode(), err)
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(real)); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}

	// WriteFileAtomic writes through a link as well.
	if err := WriteFileAtomic(link1, []byte("whole"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(real); string(got) != "whole" {
		t.Errorf("target %q after WriteFileAtomic through a link", got)
	}
	if st, _ := os.Lstat(link1); st.Mode()&os.ModeSymlink == 0 {
		t.Error("WriteFileAtomic replaced the link")
	}

	// A dangling link is refused, and nothing is created.
	dangling := filepath.Join(dir, "dangling.json")
	if err := os.Symlink(filepath.Join(dir, "nowhere", "x.json"), dangling); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"update": UpdateFile(dangling, 1<<20, upper),
		"write":  WriteFileAtomic(dangling, []byte("x"), 0o600),
	} {
		if err == nil || !strings.Contains(err.Error(), "cannot be resolved") {
			t.Errorf("%s through a dangling link: %v", name, err)
		}
	}
	if st, err := os.Lstat(dangling); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Error("the dangling link was replaced")
	}
}

func TestUpdateFileRefusals(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "creds.json")
	if err := os.WriteFile(path, []byte("token-old"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "hardlink.json")
	if err := os.Link(path, other); err != nil {
		t.Fatal(err)
	}
	if err := UpdateFile(path, 1<<20, upper); err == nil || !strings.Contains(err.Error(), "2 hard links") {
		t.Errorf("hard-linked file: %v", err)
	}
	os.Remove(other)

	boom := errors.New("edit refused")
	if err := UpdateFile(path, 1<<20, func([]byte) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("edit error: %v", err)
	}
	if err := UpdateFile(path, 1<<20, func(b []byte) ([]byte, error) {
		// Another writer replaces the file while the edit runs.
		if err := os.WriteFile(path, []byte("someone else's"), 0o600); err != nil {
			t.Fatal(err)
		}
		return upper(b)
	}); err == nil || !strings.Contains(err.Error(), "changed while") {
		t.Errorf("concurrent change: %v", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "someone else's" {
		t.Errorf("the other writer's contents were overwritten: %q", got)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}
	if err := UpdateFile(fifo, 1<<20, upper); !errors.Is(err, ErrNotRegular) {
		t.Errorf("named pipe: %v", err)
	}
	if err := UpdateFile(filepath.Join(dir, "missing"), 1<<20, upper); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(dir, "big")
	os.WriteFile(big, make([]byte, 2<<20), 0o600)
	if err := UpdateFile(big, 1<<20, upper); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big file: %v", err)
	}
}
