// Package httpx is the HTTP layer of the module: a Doer that sends requests
// to token, IAM and introspection endpoints with retries, per-attempt
// deadlines, no redirects, bounded bodies, secret scrubbing and redacted
// logs, and the Error it returns.
//
// Error has exactly the fields of sts.Error, in the same order, so that a
// public package converts with (*sts.Error)(e) at its boundary.
package httpx

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stsgo/sts/internal/errtree"
)

// Error is a failed call; see sts.Error, whose fields it mirrors exactly.
type Error struct {
	Op          string
	Method      string
	URL         string
	StatusCode  int
	Code        string
	Description string
	URI         string
	RetryAfter  time.Duration
	Err         error
}

// Error renders the text of both this type and sts.Error:
// "sts: OP: METHOD URL: status N: CODE: DESCRIPTION: CAUSE" without the
// empty parts.
func (e *Error) Error() string {
	// The parts joined by ": " (one join rather than a builder's write per
	// part: this method is in every program).
	var parts [7]string
	n := 0
	add := func(s string) {
		if s != "" {
			parts[n] = s
			n++
		}
	}
	add("sts")
	add(e.Op)
	if e.URL != "" && e.Method != "" {
		add(e.Method + " " + e.URL)
	} else {
		add(e.URL)
	}
	head := n
	if e.StatusCode != 0 {
		add("status " + strconv.Itoa(e.StatusCode))
	}
	add(e.Code)
	add(e.Description)
	if e.Err != nil {
		if r, ok := e.Err.(*recalled); ok && r.cause == nil {
			// The note follows the last part.
			if n == head {
				add("failed")
			}
			parts[n-1] += " " + r.note
		} else {
			parts[n] = e.Err.Error()
			n++
		}
	} else if n == head {
		add("failed")
	}
	return strings.Join(parts[:n], ": ")
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether retrying may succeed, from the fields alone:
// with a cause, whether the cause was marked by Retryable (or Transient);
// without one, whether the status is 408, 429 or 5xx or the code is
// "temporarily_unavailable" or "UNAVAILABLE".
func (e *Error) Temporary() bool {
	if r, ok := e.Err.(*recalled); ok && r.cause == nil {
		return TemporaryStatus(e.StatusCode) || e.Code == "temporarily_unavailable" || e.Code == "UNAVAILABLE"
	}
	if e.Err != nil {
		// errors.As for a *retryable, walked (see errtree).
		return errtree.Walk(e.Err, func(err error) bool {
			_, ok := err.(*retryable)
			return ok
		})
	}
	return TemporaryStatus(e.StatusCode) || e.Code == "temporarily_unavailable" || e.Code == "UNAVAILABLE"
}

// Recall returns a copy of e for a cache to serve again in place of a
// fetch, having remembered the failure: orig is e as the cache's callers
// got it (its public type), and note says it is remembered, such as
// "(cached failure, retry after 3s)". The copy has e's fields, and its
// text is e's with the note at its end; its cause unwraps to orig (and so
// to e's cause), and it is as temporary as e.
func Recall(e *Error, orig error, note string) *Error {
	c := *e
	cause := e.Err
	if r, ok := cause.(*recalled); ok {
		cause = r.cause // a cache's remembered copy, remembered by the next: one note
	}
	c.Err = &recalled{orig: orig, cause: cause, note: note}
	return &c
}

// recalled is the cause of an Error served again (see Recall).
type recalled struct {
	orig, cause error
	note        string
}

func (r *recalled) Error() string {
	if r.cause == nil {
		return r.note
	}
	return r.cause.Error() + " " + r.note
}

func (r *recalled) Unwrap() error { return r.orig }

// TemporaryStatus reports whether an HTTP status is worth retrying.
func TemporaryStatus(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// Transient returns err marked Retryable when it is a failure to reach a
// server that is worth retrying: a network error, a *url.Error or a
// deadline, but not a cancellation. Other errors come back unchanged.
func Transient(err error) error {
	if isTransient(err) {
		return Retryable(err)
	}
	return err
}

// URLErrorCause returns the cause (Err) of the *url.Error errors.As finds
// in err's tree, which would quote the full URL, query included; else err.
func URLErrorCause(err error) error {
	var ue *url.Error
	found := errtree.Walk(err, func(e error) bool {
		switch e := e.(type) {
		case *url.Error:
			ue = e
			return true
		case interface{ As(any) bool }:
			return e.As(&ue)
		}
		return false
	})
	if found {
		return ue.Err
	}
	return err
}

func isTransient(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	// errors.As(err, &ne) for a net.Error ne or a *url.Error (which is
	// one), walked here: errors.As and its reflection add about 25 KB to
	// every program.
	return errtree.Walk(err, func(e error) bool {
		switch e := e.(type) {
		case net.Error:
			return true
		case interface{ As(any) bool }:
			var ne net.Error
			var ue *url.Error
			return e.As(&ne) || e.As(&ue)
		}
		return false
	})
}

// Retryable marks err as transient (an interrupted body, credentials that
// expired and will be renewed, …). Its text and chain are err's. (Not
// inlined: it has many callers.)
//
//go:noinline
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return &retryable{err}
}

type retryable struct{ err error }

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// HTTPError builds the error of a response that was not a success.
func HTTPError(op string, status int, code, desc, uri string, retryAfter time.Duration) *Error {
	return &Error{Op: op, StatusCode: status, Code: code, Description: desc, URI: uri, RetryAfter: retryAfter}
}

// ErrNoExpiresIn is the cause when a token answer gives no lifetime where
// the protocol requires one.
var ErrNoExpiresIn = errors.New("response has no expires_in: a token without a lifetime is refused")
