package sts

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is the error returned for a failed call to a token, impersonation,
// introspection or metadata endpoint, or a failed subject-token fetch.
//
// It never holds a secret: descriptions coming from a server are kept, but
// request bodies, tokens and credentials are not. The zero value is not
// meaningful; errors are built by the package.
type Error struct {
	// Op names the operation that failed, for example "exchange",
	// "impersonate", "refresh", "introspect" or "subject".
	Op string
	// StatusCode is the HTTP status the server answered with, or 0 when no
	// response was received.
	StatusCode int
	// Code is the OAuth 2.0 error code (RFC 6749 section 5.2), such as
	// "invalid_grant", or the Google status, such as "PERMISSION_DENIED".
	Code string
	// Description is the server's human-readable explanation, if any.
	Description string
	// URI is the server's error_uri, if any.
	URI string
	// RetryAfter is the delay the server asked for in a Retry-After
	// header, or 0.
	RetryAfter time.Duration
	// Err is the underlying cause (a network error, a decoding error, a
	// context error), or nil.
	Err error

	temporary bool
}

// Error implements the error interface. The text starts with "sts: ".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("sts: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	sep := ""
	if e.StatusCode != 0 {
		b.WriteString("status ")
		b.WriteString(strconv.Itoa(e.StatusCode))
		sep = ": "
	}
	if e.Code != "" {
		b.WriteString(sep)
		b.WriteString(e.Code)
		sep = ": "
	}
	if e.Description != "" {
		b.WriteString(sep)
		b.WriteString(e.Description)
		sep = ": "
	}
	if e.Err != nil {
		b.WriteString(sep)
		b.WriteString(e.Err.Error())
	} else if sep == "" {
		b.WriteString("failed")
	}
	return b.String()
}

// Unwrap returns the underlying cause, so errors.Is and errors.As see
// through an *Error.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether retrying the same call later may succeed: network
// errors, time-outs, HTTP 408, 429 and 5xx, and the OAuth code
// "temporarily_unavailable". Client errors (400, 401, 403, invalid_grant, …)
// are permanent.
func (e *Error) Temporary() bool { return e.temporary }

// newHTTPError builds an *Error for an HTTP response that was not a success.
func newHTTPError(op string, status int, code, desc, uri string, retryAfter time.Duration) *Error {
	return &Error{
		Op:          op,
		StatusCode:  status,
		Code:        code,
		Description: desc,
		URI:         uri,
		RetryAfter:  retryAfter,
		temporary:   temporaryStatus(status) || code == "temporarily_unavailable" || code == "UNAVAILABLE",
	}
}

// newTransportError wraps a failure to get any response at all. Such
// failures are temporary unless the caller's context ended.
func newTransportError(op string, err error) *Error {
	return &Error{Op: op, Err: err, temporary: isTransientTransport(err)}
}

func temporaryStatus(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
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
func (e *ValidationError) Error() string {
	return fmt.Sprintf("sts: invalid %s: %s", e.Field, e.Reason)
}

func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
