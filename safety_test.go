package sts

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/ststest"
)

// Endpoint safety: credentials travel only over https (or to loopback
// hosts), redirects are never followed, and STS sees an Authorization
// header only when client credentials are configured.

// relInsecureURLs are endpoints credentials must not be sent to;
// relLoopbackURLs are plain-http endpoints that are fine.
var (
	relInsecureURLs = fixture.InsecureURLs
	relLoopbackURLs = fixture.LoopbackURLs
)

// relEndpointCtors builds each kind of source with endpoint u; the error is
// what its constructor says.
var relEndpointCtors = map[string]func(u string) error{
	"Config.TokenURL": func(u string) error {
		_, err := newExchanger(Config{Subject: StaticSubject(relSubjectToken), SubjectTokenType: TokenTypeJWT, Audience: relAud, TokenURL: u})
		return err
	},
	"IntrospectOptions.URL": func(u string) error {
		// An accepted URL is asked, in memory: the answer is canned.
		_, err := Introspect(context.Background(), relAccessToken, IntrospectOptions{URL: strings.Replace(u, "/v1/token", "/v1/introspect", 1),
			HTTPOptions: HTTPOptions{HTTPClient: relCannedClient(200, "application/json", []byte(`{"active":false}`))}})
		return err
	},
}

func TestPlainHTTPRefusedForNonLoopbackEndpoints(t *testing.T) {
	n := 0
	for name, ctor := range relEndpointCtors {
		for _, u := range relInsecureURLs {
			n++
			err := ctor(u)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Errorf("%s = %q: err = %v, want a *ValidationError", name, u, err)
				continue
			}
			if strings.Contains(err.Error(), relClientSecret) {
				t.Errorf("%s = %q: error shows the password: %v", name, u, err)
			}
		}
		for _, u := range relLoopbackURLs {
			if err := ctor(u); err != nil {
				t.Errorf("%s = %q (loopback): %v", name, u, err)
			}
		}
	}
	t.Logf("%d insecure endpoint settings refused across %d fields", n, len(relEndpointCtors))
}

// TestRedirectsNeverFollowed: every endpoint answering a redirect to
// another server leaves that server untouched, whatever the HTTP client's
// own redirect policy.
func TestRedirectsNeverFollowed(t *testing.T) {
	var stolen atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer evil.Close()
	for _, code := range []int{301, 302, 303, 307, 308} {
		redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, evil.URL+r.URL.Path, code)
		}))
		following := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
		for _, client := range []*http.Client{nil, redirector.Client(), following} {
			retry := RetryPolicy{MaxAttempts: 1}
			calls := map[string]func() error{
				"exchange": func() error {
					x, err := newExchanger(Config{Subject: StaticSubject(relSubjectToken), SubjectTokenType: TokenTypeJWT, Audience: relAud,
						ClientID: relClientID, ClientSecret: relClientSecret, TokenURL: redirector.URL + "/v1/token", HTTPOptions: HTTPOptions{HTTPClient: client, Retry: retry}})
					if err != nil {
						return err
					}
					_, err = x.Token()
					return err
				},
				"impersonate": func() error {
					im, err := newImpersonator(impConfig{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: relAccessToken}),
						URL: redirector.URL + "/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken", HTTPOptions: HTTPOptions{HTTPClient: client, Retry: retry}})
					if err != nil {
						return err
					}
					_, err = im.Token()
					return err
				},
				"refresh": func() error {
					r, err := newRefresher(authUserConfig{RefreshToken: relRefreshToken, ClientID: relClientID, ClientSecret: relClientSecret,
						TokenURL: redirector.URL + "/v1/oauthtoken", HTTPOptions: HTTPOptions{HTTPClient: client, Retry: retry}})
					if err != nil {
						return err
					}
					_, err = r.Token()
					return err
				},
				"introspect": func() error {
					_, err := Introspect(context.Background(), relAccessToken, IntrospectOptions{URL: redirector.URL + "/v1/introspect",
						ClientID: relClientID, ClientSecret: relClientSecret, HTTPOptions: HTTPOptions{HTTPClient: client, Retry: retry}})
					return err
				},
				"url subject": func() error {
					_, err := URLSubject{URL: redirector.URL + "/token", Headers: map[string]string{"Authorization": "Bearer " + relAccessToken},
						HTTPClient: client}.SubjectToken(context.Background(), SubjectRequest{})
					return err
				},
			}
			for name, call := range calls {
				err := call()
				var se *Error
				if !errors.As(err, &se) {
					t.Errorf("%d %s: err = %v, want an *Error", code, name, err)
					continue
				}
				if se.StatusCode != code || !strings.Contains(err.Error(), "not followed") {
					t.Errorf("%d %s: %v, want status %d and 'not followed'", code, name, err, code)
				}
			}
		}
		redirector.Close()
	}
	if n := stolen.Load(); n != 0 {
		t.Errorf("the other server received %d requests", n)
	}
}

// TestAuthorizationOnlyWithClientCredentials: an exchange (plain,
// downscoping, impersonation's STS leg) carries no Authorization header
// unless a client ID and secret are configured, and then exactly HTTP
// Basic with form-encoded parts.
func TestAuthorizationOnlyWithClientCredentials(t *testing.T) {
	id, secret := "client id/ü", "s3cr:et&+"
	cases := []struct {
		name     string
		id, sec  string
		wantAuth string
	}{
		{"without client credentials", "", "", ""},
		{"with client credentials", id, secret, httpx.BasicAuth(id, secret)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			emu := ststest.NewInMemoryServer(ststest.Options{ClientID: c.id, ClientSecret: c.sec})
			defer emu.Close()
			ts, err := NewTokenSource(Config{Subject: StaticSubject(relSubjectToken), SubjectTokenType: TokenTypeJWT, Audience: relAud,
				ClientID: c.id, ClientSecret: c.sec, TokenURL: emu.TokenURL(), HTTPOptions: HTTPOptions{HTTPClient: emu.Client()}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ts.Token(); err != nil {
				t.Fatal(err)
			}
			reqs := emu.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			if got := reqs[0].Header.Get("Authorization"); got != c.wantAuth {
				t.Errorf("Authorization = %q, want %q", got, c.wantAuth)
			}
			if reqs[0].Form.Get("client_secret") != "" || reqs[0].Form.Get("client_id") != "" {
				t.Error("client credentials were sent in the body")
			}
		})
	}
}

// TestURLSubjectHeaderValuesCheckedAtConstruction: a header value that
// cannot be sent fails in the constructor, naming the header, not at the
// first refresh, and the value (a credential, often) is not quoted.
func TestURLSubjectHeaderValuesCheckedAtConstruction(t *testing.T) {
	for _, v := range []string{"Bearer " + relAccessToken + "\r\nX-Injected: 1", relAccessToken + "\n", "a\x00" + relAccessToken} {
		_, err := NewTokenSource(Config{Subject: URLSubject{URL: "http://127.0.0.1:1/token", Headers: map[string]string{"Authorization": v}},
			SubjectTokenType: TokenTypeJWT, Audience: relAud})
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != "URLSubject.Headers.Authorization" {
			t.Errorf("err = %v, want a *ValidationError for URLSubject.Headers.Authorization", err)
			continue
		}
		relCheckErrorSecrets(t, "header", err, "")
	}
}
