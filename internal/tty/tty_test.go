package tty_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stsgo/sts/internal/tty"
	"github.com/stsgo/sts/internal/ttytest"
)

// TestIsTerminal: a pseudo-terminal is a terminal; the null device (a
// character device too), a pipe, a regular file, a closed terminal and nil
// are not.
func TestIsTerminal(t *testing.T) {
	if tty.IsTerminal(nil) {
		t.Error("nil is a terminal")
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	reg, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	for name, f := range map[string]*os.File{"null device": null, "pipe": r, "regular file": reg} {
		if tty.IsTerminal(f) {
			t.Errorf("%s is a terminal", name)
		}
	}
	if runtime.GOOS != "linux" {
		t.Skip("pseudo-terminals are opened on linux only")
	}
	ctl, term, err := ttytest.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ctl.Close()
	if !tty.IsTerminal(term) {
		t.Error("pseudo-terminal is not a terminal")
	}
	term.Close()
	if tty.IsTerminal(term) {
		t.Error("closed terminal is a terminal")
	}
}
