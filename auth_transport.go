package sts

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"
)

// AuthTransport is an http.RoundTripper that authorizes each request with a
// token of Source and, when QuotaProject is set, bills it to that project
// with the x-goog-user-project header (as Google's client libraries do with a
// credential file's quota_project_id). A request that already carries
// x-goog-user-project keeps it. If Source has an Invalidate(*oauth2.Token)
// method (CachedTokenSource, DownscopedTokenSource), a 401 answer
// invalidates the token that was used, so the next request gets a fresh one
// (the 401 itself is returned: the request is not resent).
type AuthTransport struct {
	// Source supplies the tokens. Required. If it implements
	// ContextTokenSource, the request's context is passed on.
	Source oauth2.TokenSource
	// Base sends the requests. Nil means http.DefaultTransport.
	Base http.RoundTripper
	// QuotaProject is sent as x-goog-user-project. Empty means none.
	QuotaProject string
}

// RoundTrip implements http.RoundTripper. It does not modify req.
func (t *AuthTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	closeBody := func() {
		if req.Body != nil {
			_ = req.Body.Close()
		}
	}
	if t.Source == nil {
		closeBody()
		return nil, invalid("AuthTransport.Source", "must not be nil")
	}
	tok, err := sourceToken(req.Context(), t.Source, "token", "token source")
	if err != nil {
		closeBody()
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", tok.Type()+" "+tok.AccessToken)
	if t.QuotaProject != "" && r.Header.Get("X-Goog-User-Project") == "" {
		r.Header.Set("X-Goog-User-Project", t.QuotaProject)
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		invalidate(t.Source, tok)
	}
	return resp, err
}

// sourceToken asks src for a token, passing ctx on if src is a
// ContextTokenSource. An *Error or *ValidationError comes back as it is; any
// other failure, and a missing token, is an *Error with Op op whose text
// starts with what (the source's role, such as "token source").
func sourceToken(ctx context.Context, src oauth2.TokenSource, op, what string) (*oauth2.Token, error) {
	var tok *oauth2.Token
	var err error
	if cs, ok := src.(ContextTokenSource); ok {
		tok, err = cs.TokenContext(ctx)
	} else {
		tok, err = tokenFromSource(ctx, src, op)
	}
	if err != nil {
		var se *Error
		var ve *ValidationError
		if errors.As(err, &se) || errors.As(err, &ve) {
			return nil, err
		}
		return nil, &Error{Op: op, Err: fmt.Errorf("%s: %w", what, err)}
	}
	if tok == nil || tok.AccessToken == "" {
		return nil, &Error{Op: op, Err: fmt.Errorf("%s returned no access token", what)}
	}
	return tok, nil
}

// invalidator is implemented by the caching sources of the package.
type invalidator interface{ Invalidate(tok *oauth2.Token) }

// invalidate drops tok from src's cache, if src has one: call it when a
// server rejected tok.
func invalidate(src oauth2.TokenSource, tok *oauth2.Token) {
	if c, ok := src.(invalidator); ok {
		c.Invalidate(tok)
	}
}
