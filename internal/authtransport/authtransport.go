// Package authtransport authorizes HTTP requests with access tokens: the
// transport behind the http.Client of a loaded credential file.
package authtransport

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/internal/locations"
)

// Transport is an http.RoundTripper that authorizes each request with a
// token from Token and, when QuotaProject is set, bills it to that project
// with the x-goog-user-project header (as Google's client libraries do with a
// credential file's quota_project_id). A request that already carries
// x-goog-user-project keeps it. A 401 answer is passed to Invalidate with
// the token that was used, so that the next request gets a fresh one (the
// 401 itself is returned: the request is not resent).
//
// The token goes to the origin (scheme, host and port) of the request the
// caller made, and nowhere else: when an http.Client follows a redirect to
// another origin, the redirected request carries no Authorization (neither
// the token nor one the caller set), Cookie, Cookie2 or X-Goog-Api-Key
// header, and Token is not called. x-goog-user-project, which is no
// credential, is still sent.
type Transport struct {
	// Token returns the token for a request, given its context; its error
	// fails the request as it is. Required.
	Token func(ctx context.Context) (*oauth2.Token, error)
	// Invalidate, if set, is called with a token an origin answered 401 to.
	Invalidate func(*oauth2.Token)
	// Base sends the requests. Nil means http.DefaultTransport.
	Base http.RoundTripper
	// QuotaProject is sent as x-goog-user-project. Empty means none.
	QuotaProject string
	// Locations, if set, gives the regional access boundary of the
	// token, sent as x-allowed-locations with requests that carry the
	// token, except to the token, IAM and regional endpoints
	// (locations.Skipped) and when the request has the header already.
	// Nil sends none.
	Locations *locations.Cache
}

// errNoToken is the failure of a Transport built without Token.
var errNoToken = errors.New("sts: authorizing transport has no token source")

// RoundTrip implements http.RoundTripper. It does not modify req.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	closeBody := func() {
		if req.Body != nil {
			_ = req.Body.Close()
		}
	}
	if t.Token == nil {
		closeBody()
		return nil, errNoToken
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	r := req.Clone(req.Context())
	var tok *oauth2.Token
	if redirectedAway(req) {
		for _, h := range credentialHeaders {
			r.Header.Del(h)
		}
	} else {
		var err error
		if tok, err = t.Token(req.Context()); err != nil {
			closeBody()
			return nil, err
		}
		r.Header.Set("Authorization", tok.Type()+" "+tok.AccessToken)
		if t.Locations != nil && r.Header.Get(locations.Header) == "" && !locations.Skipped(r.URL.Hostname()) {
			if v := t.Locations.Value(tok); v != "" {
				r.Header.Set(locations.Header, v)
			}
		}
	}
	if t.QuotaProject != "" && r.Header.Get("X-Goog-User-Project") == "" {
		r.Header.Set("X-Goog-User-Project", t.QuotaProject)
	}
	resp, err := base.RoundTrip(r)
	if err == nil && tok != nil && resp.StatusCode == http.StatusUnauthorized && t.Invalidate != nil {
		t.Invalidate(tok)
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
