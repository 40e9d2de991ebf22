package errtree

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"testing"
)

// asPathError is an error whose As method makes errors.As see it as a
// *fs.PathError.
type asPathError struct{ yes bool }

func (asPathError) Error() string { return "as" }

func (a asPathError) As(target any) bool {
	if p, ok := target.(**fs.PathError); ok && a.yes {
		*p = &fs.PathError{Op: "as"}
		return true
	}
	return false
}

// TestWalkLikeErrorsAs: with a found that asserts the target type or asks
// an As method, Walk agrees with errors.As over wrapped, joined and
// As-method trees, and finds the same error first.
func TestWalkLikeErrorsAs(t *testing.T) {
	pe := &fs.PathError{Op: "open", Path: "p", Err: fs.ErrNotExist}
	pe2 := &fs.PathError{Op: "read", Path: "q", Err: io.EOF}
	for _, err := range []error{
		nil, io.EOF, pe, (*fs.PathError)(nil), fmt.Errorf("a: %w", pe), fmt.Errorf("a: %w", fmt.Errorf("b: %w", pe)),
		fmt.Errorf("a: %v", pe), errors.Join(io.EOF, fmt.Errorf("x: %w", pe)), errors.Join(io.EOF, io.ErrUnexpectedEOF),
		fmt.Errorf("%w and %w", pe2, pe), errors.Join(errors.Join(io.EOF), errors.Join(pe2), pe),
		asPathError{yes: true}, asPathError{}, fmt.Errorf("w: %w", asPathError{yes: true}), errors.Join(asPathError{}, pe2),
		&os.LinkError{Op: "link", Err: pe},
	} {
		var want *fs.PathError
		wantOK := errors.As(err, &want)
		var got *fs.PathError
		ok := Walk(err, func(e error) bool {
			switch e := e.(type) {
			case *fs.PathError:
				got = e
				return true
			case interface{ As(any) bool }:
				return e.As(&got)
			}
			return false
		})
		if ok != wantOK || (ok && (got == nil) != (want == nil)) || (ok && got != nil && *got != *want) {
			t.Errorf("Walk(%#v) = %v, %t; errors.As finds %v, %t", err, got, ok, want, wantOK)
		}
		got, ok = As[*fs.PathError](err)
		if ok != wantOK || (ok && (got == nil) != (want == nil)) || (ok && got != nil && *got != *want) {
			t.Errorf("As(%#v) = %v, %t; errors.As finds %v, %t", err, got, ok, want, wantOK)
		}
	}
}
