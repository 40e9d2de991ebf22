package sts

import (
	"context"
	"fmt"
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

// countingInvalidator is a static source that counts Invalidate calls.
type countingInvalidator struct {
	mu          sync.Mutex
	invalidated int
}

func (c *countingInvalidator) Token() (*oauth2.Token, error) {
	return &oauth2.Token{AccessToken: "ya29.redirect-secret", TokenType: "Bearer"}, nil
}

func (c *countingInvalidator) Invalidate(*oauth2.Token) {
	c.mu.Lock()
	c.invalidated++
	c.mu.Unlock()
}

// TestAuthTransportRedirectKeepsTokenAtOrigin: a redirect to another
// origin (another port, host name or scheme) carries neither the token nor
// a credential header the caller set, for every redirect status; a
// redirect within the origin keeps the token; x-goog-user-project goes
// everywhere.
func TestAuthTransportRedirectKeepsTokenAtOrigin(t *testing.T) {
	rec := &apiRecorder{}
	a := httptest.NewServer(rec.handler("http"))
	defer a.Close()
	b := httptest.NewServer(rec.handler("http"))
	defer b.Close()
	tlsB := httptest.NewTLSServer(rec.handler("https"))
	defer tlsB.Close()
	aURL, _ := url.Parse(a.URL)
	src := &countingInvalidator{}
	hc := &http.Client{Transport: &AuthTransport{Source: src, Base: tlsB.Client().Transport, QuotaProject: "billing-project"}}
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

// TestAuthTransportRedirectChain: A → B → A: B gets no token, the return to
// A has it again; B's 401 invalidates nothing (it never saw the token),
// A's does.
func TestAuthTransportRedirectChain(t *testing.T) {
	rec := &apiRecorder{}
	a := httptest.NewServer(rec.handler("http"))
	defer a.Close()
	b := httptest.NewServer(rec.handler("http"))
	defer b.Close()
	src := &countingInvalidator{}
	hc := &http.Client{Transport: &AuthTransport{Source: src}}
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
	if src.invalidated != 0 {
		t.Errorf("a 401 from another origin invalidated the token")
	}
	resp, err = hc.Get(a.URL + "/redirect?" + url.Values{"to": {"/ok?status=401"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if src.invalidated != 1 {
		t.Errorf("a 401 from the origin: %d invalidations, want 1", src.invalidated)
	}
	for _, r := range rec.requests() {
		if r.origin == b.URL && r.auth != "" {
			t.Errorf("B received a token: %+v", r)
		}
	}
}

// TestCredentialsHTTPClientRedirect: the client of a credential file drops
// the token on a redirect to another origin too.
func TestCredentialsHTTPClientRedirect(t *testing.T) {
	f := newCredFixture(t)
	c, err := f.load(t, f.rewrite(decodeMap(t, readTestdata(t, "impersonation.json"))), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := &apiRecorder{}
	a := httptest.NewServer(rec.handler("http"))
	defer a.Close()
	b := httptest.NewServer(rec.handler("http"))
	defer b.Close()
	for _, code := range []int{302, 307, 308} {
		before := len(rec.requests())
		resp, err := c.HTTPClient(nil).Get(a.URL + "/redirect?" + url.Values{"code": {fmt.Sprint(code)}, "to": {b.URL + "/ok"}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := rec.requests()[before:]
		if len(got) != 2 || !strings.HasPrefix(got[0].auth, "Bearer ") || got[1].auth != "" {
			t.Errorf("%d: %+v", code, got)
		}
		if got[1].quotaHdr != "example-project" {
			t.Errorf("%d: x-goog-user-project %q after the redirect", code, got[1].quotaHdr)
		}
	}
}
