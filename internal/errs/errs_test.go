package errs

import (
	"errors"
	"io"
	"testing"
)

func TestErrors(t *testing.T) {
	if err := New("x"); err.Error() != "x" || errors.Is(err, New("x")) {
		t.Errorf("New: %v is not a distinct error with its text", err)
	}
	err := Errorf("reading %s: %w", "f", io.EOF)
	if err.Error() != "reading f: EOF" || !errors.Is(err, io.EOF) {
		t.Errorf("Errorf: %v does not wrap io.EOF with its text", err)
	}
	if err := Errorf("plain"); err.Error() != "plain" || errors.Unwrap(err) != nil {
		t.Errorf("Errorf without arguments: %q", err)
	}
}
