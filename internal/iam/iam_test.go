package iam

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/internal/httpx"
)

type iamStub struct {
	status int
	answer string
	bodies []map[string]any
	paths  []string
	auth   []string
}

func (s *iamStub) start(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		s.bodies, s.paths, s.auth = append(s.bodies, m), append(s.paths, r.URL.Path), append(s.auth, r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		if s.status != 0 {
			w.WriteHeader(s.status)
		}
		io.WriteString(w, s.answer)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func config(srv *httptest.Server, src Source) Config {
	return Config{Source: src, URL: srv.URL + "/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com" + AccessTokenSuffix,
		Scopes: []string{"s1"}, Delegates: []string{"d1@p", "projects/-/serviceAccounts/d2@p"},
		HTTP: httpx.Options{Client: srv.Client(), Retry: httpx.Retry{MaxAttempts: 1}}}
}

func callerToken(context.Context) (*oauth2.Token, error) {
	return &oauth2.Token{AccessToken: "caller-token-123"}, nil
}

func TestAccessTokens(t *testing.T) {
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	s := &iamStub{answer: fmt.Sprintf(`{"accessToken":"sa-token","expireTime":%q}`, exp.Format(time.RFC3339))}
	srv := s.start(t)
	c := config(srv, callerToken)
	c.Lifetime = 20 * time.Minute
	a := NewAccessTokens(c)
	tok, err := a.Token()
	if err != nil || tok.AccessToken != "sa-token" || !tok.Expiry.Equal(exp) {
		t.Fatalf("Token = %v, %v", tok, err)
	}
	b := s.bodies[0]
	if b["lifetime"] != "1200s" || fmt.Sprint(b["scope"]) != "[s1]" ||
		fmt.Sprint(b["delegates"]) != "[projects/-/serviceAccounts/d1@p projects/-/serviceAccounts/d2@p]" {
		t.Errorf("body %v", b)
	}
	if s.auth[0] != "Bearer caller-token-123" || !strings.HasSuffix(s.paths[0], AccessTokenSuffix) {
		t.Errorf("auth %q path %q", s.auth[0], s.paths[0])
	}
	if a.URL() != c.URL || !strings.Contains(a.String(), c.URL) || a.APIClient() != "" {
		t.Errorf("accessors %v", a)
	}
	// The default lifetime.
	NewAccessTokens(config(srv, callerToken)).Token()
	if s.bodies[1]["lifetime"] != "3600s" {
		t.Errorf("default lifetime %v", s.bodies[1]["lifetime"])
	}
}

func TestIDTokens(t *testing.T) {
	exp := time.Now().Add(time.Hour).Unix()
	payload := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"aud":"a","exp":%d}`, exp)))
	s := &iamStub{answer: `{"token":"h.` + payload + `.sig"}`}
	srv := s.start(t)
	it := NewIDTokens(config(srv, callerToken), "https://aud.example", true)
	tok, err := it.Token()
	if err != nil || tok.Expiry.Unix() != exp || !strings.HasPrefix(tok.AccessToken, "h.") {
		t.Fatalf("Token = %v, %v", tok, err)
	}
	if b := s.bodies[0]; b["audience"] != "https://aud.example" || b["includeEmail"] != true || b["scope"] != nil || b["lifetime"] != nil {
		t.Errorf("body %v", b)
	}
	if !strings.HasSuffix(s.paths[0], IDTokenSuffix) || !strings.Contains(it.String(), IDTokenSuffix) {
		t.Errorf("path %q", s.paths[0])
	}
	past := base64.RawURLEncoding.EncodeToString([]byte(`{"exp":1000}`))
	s.answer = `{"token":"h.` + past + `.sig"}`
	var he *httpx.Error
	if _, err := it.Token(); !errors.As(err, &he) || he.Op != "impersonate" {
		t.Errorf("expired ID token: %v", err)
	}
}

func TestErrors(t *testing.T) {
	s := &iamStub{status: 401, answer: `{"error":{"code":401,"status":"UNAUTHENTICATED","message":"bad token caller-token-123"}}`}
	srv := s.start(t)
	var invalidated *oauth2.Token
	c := config(srv, callerToken)
	c.Invalidate = func(tok *oauth2.Token) { invalidated = tok }
	_, err := NewAccessTokens(c).Token()
	var he *httpx.Error
	if !errors.As(err, &he) || he.StatusCode != 401 || he.Code != "UNAUTHENTICATED" || strings.Contains(err.Error(), "caller-token-123") {
		t.Errorf("401: %v", err)
	}
	if invalidated == nil || invalidated.AccessToken != "caller-token-123" {
		t.Error("caller token not invalidated after 401")
	}
	// Without Invalidate, a 401 is only reported.
	c.Invalidate = nil
	if _, err := NewIDTokens(c, "a", false).Token(); err == nil {
		t.Error("401 accepted")
	}

	s.status = 0
	for _, answer := range []string{
		`{"accessToken":"x","expireTime":"2001-01-01T00:00:00Z"}`,
		`{"accessToken":"x","expireTime":"2999-01-01T00:00:00Z"}`,
		`{"accessToken":"x"}`,
		`[]`,
	} {
		s.answer = answer
		if _, err := NewAccessTokens(c).Token(); !errors.As(err, &he) || he.StatusCode != 200 {
			t.Errorf("%s: %v", answer, err)
		}
	}
	boom := errors.New("boom")
	c.Source = func(context.Context) (*oauth2.Token, error) { return nil, boom }
	if _, err := NewAccessTokens(c).Token(); err != boom {
		t.Errorf("source error = %v", err)
	}
}

func TestURLs(t *testing.T) {
	if got := AccessTokenURL("", "sa@p"); got != "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/sa@p:generateAccessToken" {
		t.Error(got)
	}
	if got := AccessTokenURL("u.example", "a/b"); got != "https://iamcredentials.u.example/v1/projects/-/serviceAccounts/a%2Fb:generateAccessToken" {
		t.Error(got)
	}
	if got := IDTokenURL("https://x/v1/projects/-/serviceAccounts/sa:generateAccessToken"); got != "https://x/v1/projects/-/serviceAccounts/sa:generateIdToken" {
		t.Error(got)
	}
}
