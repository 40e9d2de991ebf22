package sts

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/stsgo/sts/internal/source"
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
//
// The token goes to the origin (scheme, host and port) of the request the
// caller made, and nowhere else: when an http.Client follows a redirect to
// another origin, the redirected request carries no Authorization (neither
// the token nor one the caller set), Cookie, Cookie2 or X-Goog-Api-Key
// header. x-goog-user-project, which is no credential, is still sent.
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
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if redirectedAway(req) {
		r := req.Clone(req.Context())
		for _, h := range credentialHeaders {
			r.Header.Del(h)
		}
		if t.QuotaProject != "" && r.Header.Get("X-Goog-User-Project") == "" {
			r.Header.Set("X-Goog-User-Project", t.QuotaProject)
		}
		return base.RoundTrip(r)
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
	resp, err := base.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		invalidate(t.Source, tok)
	}
	return resp, err
}

// credentialHeaders are the request headers that carry credentials, which
// never follow a redirect to another origin.
var credentialHeaders = []string{"Authorization", "Cookie", "Cookie2", "X-Goog-Api-Key"}

// redirectedAway reports whether req is a redirect (made by an
// http.Client) whose origin differs from that of the request the caller
// made, the first of the chain.
func redirectedAway(req *http.Request) bool {
	first := req
	for first.Response != nil && first.Response.Request != nil {
		first = first.Response.Request
	}
	return first != req && origin(first.URL) != origin(req.URL)
}

// origin is u's scheme, host and port (the scheme's default when u has
// none), lower-cased: "https://example.com:443".
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.TrimSuffix(strings.ToLower(u.Hostname()), "."), port)
}

// sourceToken asks src for a token, passing ctx on if src is a
// ContextTokenSource. An *Error or *ValidationError comes back as it is; any
// other failure, and a missing token, is an *Error with Op op whose text
// starts with what (the source's role, such as "token source").
func sourceToken(ctx context.Context, src oauth2.TokenSource, op, what string) (*oauth2.Token, error) {
	tok, err := source.Fetch(ctx, src, op, what, isPublicError)
	return tok, publicErr(err)
}

// isPublicError reports whether err is, or wraps, an *Error or a
// *ValidationError.
func isPublicError(err error) bool {
	var se *Error
	var ve *ValidationError
	return errors.As(err, &se) || errors.As(err, &ve)
}

// invalidate drops tok from src's cache, if src has one: call it when a
// server rejected tok.
func invalidate(src oauth2.TokenSource, tok *oauth2.Token) { source.Invalidate(src, tok) }

// tokenFromSource calls src.Token, for a source that takes no context; see
// source.Plain.
func tokenFromSource(ctx context.Context, src oauth2.TokenSource, op string) (*oauth2.Token, error) {
	tok, err := source.Plain(ctx, src, op)
	return tok, publicErr(err)
}
