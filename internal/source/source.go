// Package source gets tokens from any oauth2.TokenSource on behalf of the
// module's layers: with the caller's context when the source takes one, and
// otherwise with the wait still bounded by the context.
package source

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/internal/errtree"
	"github.com/stsgo/sts/internal/httpx"
)

// ContextTokenSource is a source that takes a context (sts.ContextTokenSource
// has the same method set).
type ContextTokenSource interface {
	TokenContext(ctx context.Context) (*oauth2.Token, error)
}

// Token returns src's token: through TokenContext when src has it, else
// through Token. A plain Token call cannot be told to stop, so when ctx can
// end it runs on its own goroutine and ctx still bounds the wait: a hung
// source then costs one parked goroutine instead of blocking its callers
// (and every later refresh) forever. The source's own errors come back as
// they are; a panic or an abandoned wait is an *httpx.Error with Op op.
func Token(ctx context.Context, src oauth2.TokenSource, op string) (*oauth2.Token, error) {
	if cs, ok := src.(ContextTokenSource); ok {
		return cs.TokenContext(ctx)
	}
	return Plain(ctx, src, op)
}

// Plain is Token for a source whose TokenContext, if any, is not to be
// used.
func Plain(ctx context.Context, src oauth2.TokenSource, op string) (*oauth2.Token, error) {
	if ctx.Done() == nil {
		return src.Token()
	}
	type result struct {
		tok *oauth2.Token
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- result{err: &httpx.Error{Op: op, Err: errors.New("token source panicked")}}
			}
		}()
		tok, err := src.Token()
		done <- result{tok, err}
	}()
	select {
	case r := <-done:
		return r.tok, r.err
	case <-ctx.Done():
		return nil, &httpx.Error{Op: op, Err: httpx.Transient(fmt.Errorf("token source did not answer: %w", ctx.Err()))}
	}
}

// Invalidate drops tok from src's cache, if src has one (a method
// Invalidate(*oauth2.Token), as sts.CachedTokenSource has): call it when a
// server rejected tok.
func Invalidate(src oauth2.TokenSource, tok *oauth2.Token) {
	if c, ok := src.(interface{ Invalidate(*oauth2.Token) }); ok {
		c.Invalidate(tok)
	}
}

// Fetch is Token for a layer that needs an access token from src (its
// role named by what, such as "source"): an error of src that typed
// reports true for, or an *httpx.Error, comes back as it is; any other
// failure, and a missing token, is an *httpx.Error with Op op whose text
// starts with what.
func Fetch(ctx context.Context, src oauth2.TokenSource, op, what string, typed func(error) bool) (*oauth2.Token, error) {
	tok, err := Token(ctx, src, op)
	if err != nil {
		if isHTTPError(err) || typed(err) {
			return nil, err
		}
		return nil, &httpx.Error{Op: op, Err: fmt.Errorf("%s: %w", what, err)}
	}
	if tok == nil || tok.AccessToken == "" {
		return nil, &httpx.Error{Op: op, Err: fmt.Errorf("%s returned no access token", what)}
	}
	return tok, nil
}

// isHTTPError reports whether errors.As finds an *httpx.Error in err's
// tree, walked (see errtree).
func isHTTPError(err error) bool {
	return errtree.Walk(err, func(e error) bool {
		switch e := e.(type) {
		case *httpx.Error:
			return true
		case interface{ As(any) bool }:
			var he *httpx.Error
			return e.As(&he)
		}
		return false
	})
}

// Mark is a type only the module's packages can name, so that a method
// taking it (see Marked) is one that no source of another module has by
// chance.
type Mark struct{}

// marked is implemented by the module's token sources that tell whether
// their TokenContext returns by its context's deadline.
type marked interface {
	ReturnsByDeadline(Mark) bool
}

// Marked reports whether src is one of the module's sources whose
// TokenContext returns by its context's deadline (so that a cache around it
// may run a refresh on a waiting caller's goroutine; see
// refresh.Config.Inline).
func Marked(src oauth2.TokenSource) bool {
	m, ok := src.(marked)
	return ok && m.ReturnsByDeadline(Mark{})
}

// Bounded reports whether Token(ctx, src, …) returns by ctx's deadline: src
// is Marked, or has no TokenContext (then Token calls it on a goroutine of
// its own whose wait ctx bounds). Any other ContextTokenSource might not
// honour its context.
func Bounded(src oauth2.TokenSource) bool {
	if Marked(src) {
		return true
	}
	_, ok := src.(ContextTokenSource)
	return !ok
}
