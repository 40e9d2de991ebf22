package authtransport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"
)

// seenRequest is what an API server received.
type seenRequest struct {
	origin, path                   string
	auth, cookie, apiKey, quotaHdr string
}

// apiRecorder is an API server that records every request; /redirect
// answers ?code= with a redirect to ?to=, /ok answers 200 (or ?status=).
type apiRecorder struct {
	mu   sync.Mutex
	seen []seenRequest
}

func (a *apiRecorder) handler(scheme string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.seen = append(a.seen, seenRequest{
			origin: scheme + "://" + r.Host, path: r.URL.Path,
			auth: r.Header.Get("Authorization"), cookie: r.Header.Get("Cookie"),
			apiKey: r.Header.Get("X-Goog-Api-Key"), quotaHdr: r.Header.Get("X-Goog-User-Project"),
		})
		a.mu.Unlock()
		q := r.URL.Query()
		switch r.URL.Path {
		case "/redirect":
			code := http.StatusFound
			fmt.Sscan(q.Get("code"), &code)
			http.Redirect(w, r, q.Get("to"), code)
		default:
			status := http.StatusOK
			fmt.Sscan(q.Get("status"), &status)
			w.WriteHeader(status)
		}
	})
}

func (a *apiRecorder) requests() []seenRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]seenRequest(nil), a.seen...)
}

// countingSource hands out one token and counts the calls for a token
// and the invalidations.
type countingSource struct {
	mu                 sync.Mutex
	calls, invalidated int
	lastCtx            context.Context
	tok                *oauth2.Token
}

func (c *countingSource) token(ctx context.Context) (*oauth2.Token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	c.lastCtx = ctx
	if c.tok != nil {
		return c.tok, nil
	}
	return &oauth2.Token{AccessToken: "ya29.redirect-secret", TokenType: "Bearer"}, nil
}

func (c *countingSource) invalidate(*oauth2.Token) {
	c.mu.Lock()
	c.invalidated++
	c.mu.Unlock()
}

func (c *countingSource) counts() (calls, invalidated int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls, c.invalidated
}

func (c *countingSource) transport(base http.RoundTripper, quota string) *Transport {
	return &Transport{Token: c.token, Invalidate: c.invalidate, Base: base, QuotaProject: quota}
}

// TestRedirectKeepsTokenAtOrigin: a redirect to another
// origin (another port, host name or scheme) carries neither the token nor
// a credential header the caller set, for every redirect status; a
// redirect within the origin keeps the token; x-goog-user-project goes
// everywhere.
func TestRedirectKeepsTokenAtOrigin(t *testing.T) {
	rec := &apiRecorder{}
	a := httptest.NewServer(rec.handler("http"))
	defer a.Close()
	b := httptest.NewServer(rec.handler("http"))
	defer b.Close()
	tlsB := httptest.NewTLSServer(rec.handler("https"))
	defer tlsB.Close()
	aURL, _ := url.Parse(a.URL)
	src := &countingSource{}
	hc := &http.Client{Transport: src.transport(tlsB.Client().Transport, "billing-project")}
	const bearer = "Bearer ya29.redirect-secret"

	targets := []struct {
		name, to string
		keep     bool
	}{
		{"another port", b.URL + "/ok", false},
		{"another host name, same server", "http://localhost:" + aURL.Port() + "/ok", false},
		{"https on another port", tlsB.URL + "/ok", false},
		{"same origin", a.URL + "/ok", true},
		{"same origin relative", "/ok", true},
		{"same origin, scheme in capitals", "HTTP://127.0.0.1:" + aURL.Port() + "/ok", true},
	}
	for _, code := range []int{301, 302, 303, 307, 308} {
		for _, tg := range targets {
			t.Run(fmt.Sprintf("%d %s", code, tg.name), func(t *testing.T) {
				before := len(rec.requests())
				u := a.URL + "/redirect?" + url.Values{"code": {fmt.Sprint(code)}, "to": {tg.to}}.Encode()
				req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
				req.Header.Set("Authorization", "Bearer caller-set-secret")
				req.Header.Set("Cookie", "session=caller-cookie")
				req.Header.Set("X-Goog-Api-Key", "caller-api-key")
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				got := rec.requests()[before:]
				if len(got) != 2 {
					t.Fatalf("%d requests, want 2: %+v", len(got), got)
				}
				if got[0].auth != bearer || got[0].quotaHdr != "billing-project" {
					t.Errorf("first request: %+v", got[0])
				}
				hop := got[1]
				if hop.quotaHdr != "billing-project" {
					t.Errorf("x-goog-user-project dropped on the redirect: %+v", hop)
				}
				if tg.keep {
					if hop.auth != bearer {
						t.Errorf("same-origin redirect lost the token: %+v", hop)
					}
					return
				}
				if hop.auth != "" || hop.cookie != "" || hop.apiKey != "" {
					t.Errorf("redirect to %s carried credentials: %+v", hop.origin, hop)
				}
			})
		}
	}
}

// TestRedirectChain: A → B → A: B gets no token, the return to
// A has it again; B's 401 invalidates nothing (it never saw the token),
// A's does.
func TestRedirectChain(t *testing.T) {
	rec := &apiRecorder{}
	a := httptest.NewServer(rec.handler("http"))
	defer a.Close()
	b := httptest.NewServer(rec.handler("http"))
	defer b.Close()
	src := &countingSource{}
	hc := &http.Client{Transport: src.transport(nil, "")}
	back := a.URL + "/ok"
	viaB := b.URL + "/redirect?" + url.Values{"to": {back}}.Encode()
	resp, err := hc.Get(a.URL + "/redirect?" + url.Values{"to": {viaB}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := rec.requests()
	if len(got) != 3 || got[0].auth == "" || got[1].auth != "" || got[2].auth == "" {
		t.Fatalf("chain A→B→A: %+v", got)
	}

	// A 401 from the other origin: the token was not used there.
	resp, err = hc.Get(a.URL + "/redirect?" + url.Values{"to": {b.URL + "/ok?status=401"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, n := src.counts(); n != 0 {
		t.Errorf("a 401 from another origin invalidated the token")
	}
	resp, err = hc.Get(a.URL + "/redirect?" + url.Values{"to": {"/ok?status=401"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, n := src.counts(); n != 1 {
		t.Errorf("a 401 from the origin: %d invalidations, want 1", n)
	}
	for _, r := range rec.requests() {
		if r.origin == b.URL && r.auth != "" {
			t.Errorf("B received a token: %+v", r)
		}
	}
}

// closeRecorder is a request body that records whether it was closed.
type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

// TestAuthorizes: the token (with its type) and the quota project go on
// each request; a caller's own x-goog-user-project stays; the request's
// context reaches Token; a 401 invalidates the token used, other statuses
// do not; the caller's request is not modified.
func TestAuthorizes(t *testing.T) {
	rec := &apiRecorder{}
	api := httptest.NewServer(rec.handler("http"))
	defer api.Close()
	src := &countingSource{tok: &oauth2.Token{AccessToken: "at-1", TokenType: "bearer"}}
	hc := &http.Client{Transport: src.transport(nil, "billing")}

	type ctxKey struct{}
	ctx := context.WithValue(context.Background(), ctxKey{}, "mine")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api.URL+"/ok", nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if req.Header.Get("Authorization") != "" || req.Header.Get("X-Goog-User-Project") != "" {
		t.Errorf("the caller's request was modified: %v", req.Header)
	}
	if src.lastCtx.Value(ctxKey{}) != "mine" {
		t.Error("Token did not get the request's context")
	}
	req, _ = http.NewRequest(http.MethodGet, api.URL+"/ok?status=403", nil)
	req.Header.Set("X-Goog-User-Project", "caller-choice")
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := rec.requests()
	if len(got) != 2 || got[0].auth != "Bearer at-1" || got[0].quotaHdr != "billing" || got[1].quotaHdr != "caller-choice" {
		t.Errorf("requests %+v", got)
	}
	if calls, n := src.counts(); calls != 2 || n != 0 {
		t.Errorf("%d token calls, %d invalidations after a 200 and a 403", calls, n)
	}
	resp, err = hc.Get(api.URL + "/ok?status=401")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status %d, want the 401 itself", resp.StatusCode)
	}
	if calls, n := src.counts(); calls != 3 || n != 1 {
		t.Errorf("%d token calls, %d invalidations after a 401", calls, n)
	}

	// Without Invalidate or QuotaProject, a 401 is simply returned.
	plain := &http.Client{Transport: &Transport{Token: src.token}}
	resp, err = plain.Get(api.URL + "/ok?status=401")
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("%v, %v", resp, err)
	}
	resp.Body.Close()
	if last := rec.requests()[len(rec.requests())-1]; last.quotaHdr != "" || last.auth != "Bearer at-1" {
		t.Errorf("plain transport sent %+v", last)
	}
}

// TestTokenFailure: a failing Token fails the request with its own error,
// sends nothing and closes the body; so does a Transport without Token.
func TestTokenFailure(t *testing.T) {
	rec := &apiRecorder{}
	api := httptest.NewServer(rec.handler("http"))
	defer api.Close()
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		tr   *Transport
		want error
	}{
		{"failing token", &Transport{Token: func(context.Context) (*oauth2.Token, error) { return nil, boom }}, boom},
		{"no token function", &Transport{}, errNoToken},
	} {
		body := &closeRecorder{Reader: strings.NewReader("payload")}
		req, _ := http.NewRequest(http.MethodPost, api.URL+"/ok", body)
		resp, err := tc.tr.RoundTrip(req)
		if resp != nil || !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, %v", tc.name, resp, err)
		}
		if !body.closed {
			t.Errorf("%s: request body not closed", tc.name)
		}
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestOrigin(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"https://Example.COM/x", "https://example.com:443/y"},
		{"http://example.com/", "HTTP://example.com:80"},
		{"https://example.com./", "https://example.com/"},
		{"http://[::1]/", "http://[::1]:80/"},
	} {
		ua, _ := url.Parse(tc.a)
		ub, _ := url.Parse(tc.b)
		if origin(ua) != origin(ub) {
			t.Errorf("%s and %s: %s != %s", tc.a, tc.b, origin(ua), origin(ub))
		}
	}
	for _, tc := range []struct{ a, b string }{
		{"https://example.com/", "http://example.com/"},
		{"https://example.com/", "https://example.com:8443/"},
		{"https://example.com/", "https://www.example.com/"},
		{"ftp://example.com/", "ftp://example.com:21/"},
	} {
		ua, _ := url.Parse(tc.a)
		ub, _ := url.Parse(tc.b)
		if origin(ua) == origin(ub) {
			t.Errorf("%s and %s share origin %s", tc.a, tc.b, origin(ua))
		}
	}
}
