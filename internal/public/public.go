// Package public converts the errors of the module's internal engines
// (*httpx.Error, *check.Error) to the public types of package sts, for the
// subpackages that sit on top of both (the root package converts its own).
// The types have the same fields, so a conversion is a pointer conversion.
package public

import (
	"errors"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/refresh"
)

// Err returns err as its public type: an *httpx.Error as an *sts.Error, a
// *check.Error as an *sts.ValidationError; any other error, nil included,
// as it is.
func Err(err error) error {
	switch e := err.(type) {
	case *httpx.Error:
		return (*sts.Error)(e)
	case *check.Error:
		return (*sts.ValidationError)(e)
	}
	return err
}

// Invalid converts a failed check, keeping nil an untyped nil.
func Invalid(e *check.Error) error {
	if e == nil {
		return nil
	}
	return (*sts.ValidationError)(e)
}

// Is reports whether err is, or wraps, an *sts.Error or an
// *sts.ValidationError.
func Is(err error) bool {
	var se *sts.Error
	var ve *sts.ValidationError
	return errors.As(err, &se) || errors.As(err, &ve)
}

// Recall serves a remembered *sts.Error as an *sts.Error: a copy whose
// text ends with the note saying so (see httpx.Recall). Another failure
// comes back as the *refresh.Recalled. It is the Kind.Recall of the
// subpackages' caches.
func Recall(r *refresh.Recalled) error {
	if se, ok := r.Err.(*sts.Error); ok {
		return (*sts.Error)(httpx.Recall((*httpx.Error)(se), se, r.Note()))
	}
	return r
}
