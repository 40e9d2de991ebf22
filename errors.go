package sts

import (
	"errors"
	"time"

	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/errtree"
	"github.com/stsgo/sts/internal/httpx"
)

// Error is a failed call to a Google endpoint or a failed subject-token
// fetch. It never holds a secret: server descriptions are kept, scrubbed of
// what the request sent. The zero value is not meaningful.
type Error struct {
	// Op names the operation that failed, for example "exchange",
	// "impersonate", "refresh", "introspect" or "subject".
	Op string
	// Method is the failed request's HTTP method, or "" if none.
	Method string
	// URL is the request's URL without user information, query or
	// fragment (which may carry secrets), or "" when the failure did not
	// come from an HTTP request.
	URL string
	// StatusCode is the HTTP status answered, or 0 if none was.
	StatusCode int
	// Code is the OAuth 2.0 error code (RFC 6749 section 5.2), such as
	// "invalid_grant", or the Google status, such as "PERMISSION_DENIED".
	Code string
	// Description is the server's human-readable explanation, if any.
	Description string
	// URI is the server's error_uri, if any.
	URI string
	// RetryAfter is the delay a Retry-After header asked for, or 0.
	RetryAfter time.Duration
	// Err is the underlying cause (a network error, a decoding error, a
	// context error), or nil.
	Err error
}

// Error implements the error interface. The text is
// "sts: OP: METHOD URL: status N: CODE: DESCRIPTION: CAUSE" without the
// parts that are empty, for example
// "sts: exchange: POST https://sts.googleapis.com/v1/token: status 400: invalid_grant: …".
func (e *Error) Error() string { return (*httpx.Error)(e).Error() }

// Unwrap returns the underlying cause, so errors.Is and errors.As see
// through an *Error.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether retrying the same call later may succeed: network
// errors, time-outs, HTTP 408, 429 and 5xx, and the OAuth code
// "temporarily_unavailable". Client errors (400, 401, 403, invalid_grant, …)
// are permanent. It is computed from the fields.
func (e *Error) Temporary() bool { return (*httpx.Error)(e).Temporary() }

// publicErr converts an error of an internal engine (*httpx.Error,
// *check.Error) to its public type; any other error comes back as it is.
// Every error leaving the package through a source passes here.
func publicErr(err error) error {
	switch e := err.(type) {
	case *httpx.Error:
		return (*Error)(e)
	case *check.Error:
		return (*ValidationError)(e)
	}
	return err
}

// hasPublic reports whether errors.As finds an *Error or a
// *ValidationError in err's tree (As methods included), without errors.As
// (see errtree).
func hasPublic(err error) bool {
	return errtree.Walk(err, func(e error) bool {
		switch e := e.(type) {
		case *Error, *ValidationError:
			return true
		case interface{ As(any) bool }:
			var se *Error
			var ve *ValidationError
			return e.As(&se) || e.As(&ve)
		}
		return false
	})
}

// fromHTTP converts an internal error, keeping nil an untyped nil.
func fromHTTP(e *httpx.Error) error {
	if e == nil {
		return nil
	}
	return (*Error)(e)
}

// IsTemporary reports whether err, or an error it wraps, is an *Error that is
// temporary.
func IsTemporary(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Temporary()
}

// ValidationError reports a configuration value that is missing or wrong. It
// names the field: a Go field path such as "Config.Audience", or a JSON field
// path such as "credential_source.file" for credential files.
type ValidationError struct {
	// Field names the offending field.
	Field string
	// Reason says what is wrong with it, in lower case.
	Reason string
}

// Error implements the error interface.
func (e *ValidationError) Error() string { return (*check.Error)(e).Error() }

// invalid returns a *ValidationError for field with a formatted reason.
func invalid(field, format string, args ...any) *ValidationError {
	return (*ValidationError)(check.Errorf(field, format, args...))
}

// verr converts the result of an internal check, keeping nil an untyped
// nil.
func verr(e *check.Error) error {
	if e == nil {
		return nil
	}
	return (*ValidationError)(e)
}
