package httpx

import (
	"encoding/base64"
	"net/http"
	"net/url"

	"github.com/stsgo/sts/internal/scrub"
)

// RedactURL renders u without user information, query or fragment, which
// may carry secrets. (Not inlined: it has many callers.)
//
//go:noinline
func RedactURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	c.Fragment = ""
	return c.String()
}

// Truncate returns s cut to at most n bytes on a character boundary, with
// "…" when it was longer.
func Truncate(s string, n int) string { return scrub.Truncate(s, n) }

// BasicAuth returns the Authorization header value for client credentials,
// with both parts form-encoded as RFC 6749 section 2.3.1 requires.
func BasicAuth(id, secret string) string {
	raw := url.QueryEscape(id) + ":" + url.QueryEscape(secret)
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(raw))
}

// NoRedirects returns a copy of base (nil means http.DefaultClient) that
// never follows a redirect: a redirect would carry credentials (an
// Authorization header, a request body with a token) wherever the server
// points.
func NoRedirects(base *http.Client) *http.Client {
	if base == nil {
		base = http.DefaultClient
	}
	c := *base
	c.CheckRedirect = noRedirect
	return &c
}

// noRedirect is the CheckRedirect of the module's clients: it hands back the
// redirect answer instead of following it.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
