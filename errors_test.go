package sts

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

// asError is an error whose As method makes errors.As see it as an *Error.
type asError struct{ yes bool }

func (asError) Error() string { return "as" }

func (a asError) As(target any) bool {
	if p, ok := target.(**Error); ok && a.yes {
		*p = &Error{Op: "as"}
		return true
	}
	return false
}

// TestHasPublic: hasPublic agrees with errors.As for *Error and
// *ValidationError over wrapped, joined and As-method trees.
func TestHasPublic(t *testing.T) {
	se, ve := &Error{Op: "exchange"}, &ValidationError{Field: "f"}
	for _, err := range []error{
		nil, io.EOF, se, ve, (*Error)(nil),
		fmt.Errorf("a: %w", se), fmt.Errorf("a: %w", fmt.Errorf("b: %w", ve)), fmt.Errorf("a: %v", se),
		errors.Join(io.EOF, fmt.Errorf("x: %w", ve)), errors.Join(io.EOF, io.ErrUnexpectedEOF),
		fmt.Errorf("%w and %w", io.EOF, se), fmt.Errorf("%w", errors.Join(io.EOF, errors.Join(se))),
		asError{yes: true}, asError{}, fmt.Errorf("w: %w", asError{yes: true}), errors.Join(asError{}, io.EOF),
	} {
		var se2 *Error
		var ve2 *ValidationError
		want := errors.As(err, &se2) || errors.As(err, &ve2)
		if got := hasPublic(err); got != want {
			t.Errorf("hasPublic(%#v) = %t, errors.As says %t", err, got, want)
		}
	}
}
