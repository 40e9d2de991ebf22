package ststest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stsgo/sts/ststest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	workloadAud  = "//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/pool-1/providers/prov-1"
	workforceAud = "//iam.googleapis.com/locations/global/workforcePools/wf-pool/providers/wf-prov"
	grantTE      = "urn:ietf:params:oauth:grant-type:token-exchange"
	ttAccess     = "urn:ietf:params:oauth:token-type:access_token"
	ttJWT        = "urn:ietf:params:oauth:token-type:jwt"
	ttIDToken    = "urn:ietf:params:oauth:token-type:id_token"
	ttInterm     = "urn:ietf:params:oauth:token-type:access_boundary_intermediary_token"
	cloudScope   = "https://www.googleapis.com/auth/cloud-platform"
)

// testJWT is an unsigned JWT with sub "user-42", issued in 2000 and
// expiring in 2100, so that it passes the emulator's subject checks inside
// and outside testing/synctest bubbles.
const testJWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIiwiYXVkIjoieCIsImlhdCI6OTQ2Njg0ODAwLCJleHAiOjQxMDI0NDQ4MDB9.c2ln"

func exchangeForm() url.Values {
	return url.Values{
		"grant_type":           {grantTE},
		"requested_token_type": {ttAccess},
		"subject_token":        {testJWT},
		"subject_token_type":   {ttJWT},
		"audience":             {workloadAud},
		"scope":                {cloudScope},
	}
}

type tokenResponse struct {
	AccessToken      string `json:"access_token"`
	IssuedTokenType  string `json:"issued_token_type"`
	TokenType        string `json:"token_type"`
	ExpiresIn        *int64 `json:"expires_in"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

func postForm(t *testing.T, c *http.Client, u string, form url.Values) (int, tokenResponse) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	return decode(t, resp)
}

func decode(t *testing.T, resp *http.Response) (int, tokenResponse) {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	var tr tokenResponse
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return resp.StatusCode, tr
}

func TestExchangeStarted(t *testing.T) {
	s := ststest.NewServer(ststest.Options{})
	defer s.Close()
	status, tr := postForm(t, s.Client(), s.TokenURL(), exchangeForm())
	if status != 200 {
		t.Fatalf("status %d: %+v", status, tr)
	}
	if !strings.HasPrefix(tr.AccessToken, "ststest-") || tr.TokenType != "Bearer" || tr.IssuedTokenType != ttAccess {
		t.Fatalf("bad response %+v", tr)
	}
	if tr.ExpiresIn == nil || *tr.ExpiresIn != 3600 {
		t.Fatalf("expires_in = %v, want 3600", tr.ExpiresIn)
	}
	info, ok := s.Lookup(tr.AccessToken)
	if !ok || info.Subject != "user-42" || info.Kind != "exchange" || info.Audience != workloadAud {
		t.Fatalf("lookup = %v, %v", info, ok)
	}
}

func TestExchangeInMemory(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{})
	defer s.Close()
	status, tr := postForm(t, s.Client(), s.TokenURL(), exchangeForm())
	if status != 200 || tr.AccessToken == "" {
		t.Fatalf("status %d: %+v", status, tr)
	}
	if _, ok := s.Lookup(tr.AccessToken); !ok {
		t.Fatal("token not recorded")
	}
}

func TestLookupAndSubjects(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{TokenLifetime: 10 * time.Minute, AcceptAnySubject: true})
	defer s.Close()
	if _, ok := s.Lookup("ststest-at-unknown"); ok {
		t.Fatal("unknown token found")
	}
	if _, ok := s.Lookup(""); ok {
		t.Fatal("empty token found")
	}
	cases := []struct {
		typ, token, wantSubject string
	}{
		{ttJWT, testJWT, "user-42"},
		{ttIDToken, testJWT, "user-42"},
		{ttJWT, "not-a-jwt", ""},
		{ttJWT, "a.b.c", ""},
		{"urn:ietf:params:oauth:token-type:saml2", "PHNhbWw+", ""},
	}
	for _, c := range cases {
		form := exchangeForm()
		form.Set("subject_token_type", c.typ)
		form.Set("subject_token", c.token)
		status, tr := postForm(t, s.Client(), s.TokenURL(), form)
		if status != 200 {
			t.Fatalf("%s: status %d %+v", c.token, status, tr)
		}
		info, ok := s.Lookup(tr.AccessToken)
		if !ok {
			t.Fatalf("%s: issued token not found", c.token)
		}
		if c.wantSubject != "" && info.Subject != c.wantSubject {
			t.Errorf("%s: subject %q, want %q", c.token, info.Subject, c.wantSubject)
		}
		if c.wantSubject == "" && (!strings.HasPrefix(info.Subject, "subject-") || strings.Contains(info.Subject, c.token)) {
			t.Errorf("%s: subject %q, want a hash-derived id", c.token, info.Subject)
		}
		if info.Token != tr.AccessToken || info.Kind != "exchange" || info.SubjectTokenType != c.typ ||
			info.Audience != workloadAud || len(info.Scopes) != 1 || info.Scopes[0] != cloudScope ||
			info.ExpiresAt.Sub(info.IssuedAt) != 10*time.Minute || *tr.ExpiresIn != 600 {
			t.Errorf("%s: info %v, expires_in %d", c.token, info, *tr.ExpiresIn)
		}
	}
	// The same subject yields the same hash-derived id; different ones differ.
	a1 := exchangeSubject(t, s, "opaque-1")
	a2 := exchangeSubject(t, s, "opaque-1")
	b := exchangeSubject(t, s, "opaque-2")
	if a1 != a2 || a1 == b {
		t.Fatalf("subject ids %q %q %q", a1, a2, b)
	}
	// Lookup returns copies.
	_, tr := postForm(t, s.Client(), s.TokenURL(), exchangeForm())
	info, _ := s.Lookup(tr.AccessToken)
	info.Scopes[0] = "changed"
	if again, _ := s.Lookup(tr.AccessToken); again.Scopes[0] != cloudScope {
		t.Fatal("Lookup result aliases the server's record")
	}
}

func exchangeSubject(t *testing.T, s *ststest.Server, subject string) string {
	t.Helper()
	form := exchangeForm()
	form.Set("subject_token", subject)
	_, tr := postForm(t, s.Client(), s.TokenURL(), form)
	info, _ := s.Lookup(tr.AccessToken)
	return info.Subject
}

func TestTokensAreUnique(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{})
	defer s.Close()
	seen := map[string]bool{}
	for range 50 {
		_, tr := postForm(t, s.Client(), s.TokenURL(), exchangeForm())
		if seen[tr.AccessToken] || len(tr.AccessToken) < 40 || strings.Contains(tr.AccessToken, ".") {
			t.Fatalf("bad or repeated token %q", tr.AccessToken)
		}
		seen[tr.AccessToken] = true
	}
}

func TestRecording(t *testing.T) {
	s := ststest.NewServer(ststest.Options{ClientID: "client", ClientSecret: "s3cret"})
	defer s.Close()
	form := exchangeForm()
	form.Set("options", `{"accessBoundary":{"accessBoundaryRules":[`+okRule+`]}}`)
	req, _ := http.NewRequest(http.MethodPost, s.TokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("client", "s3cret")
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	decode(t, resp)
	body := `{"grantType":"` + grantTE + `","subjectToken":"tok","subjectTokenType":"` + ttAccess + `","scope":"` + cloudScope + `"}`
	resp, err = s.Client().Post(s.URL+"/v1beta/token", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	decode(t, resp)

	reqs := s.Requests()
	if len(reqs) != 2 || s.Count("/v1/token") != 1 || s.Count("/v1beta/token") != 1 || s.Count("") != 2 || s.Count("/nope") != 0 {
		t.Fatalf("requests %v", reqs)
	}
	r0, r1 := reqs[0], reqs[1]
	if r0.Method != "POST" || r0.Path != "/v1/token" || r0.Form.Get("subject_token") != testJWT ||
		r0.Form.Get("options") != form.Get("options") || !strings.HasPrefix(r0.Header.Get("Authorization"), "Basic ") || r0.Time.IsZero() {
		t.Errorf("first request %#v: %v", r0, r0.Form)
	}
	if r1.Path != "/v1beta/token" || r1.Form.Get("grant_type") != grantTE || r1.Form.Get("subject_token") != "tok" ||
		r1.Form.Get("subject_token_type") != ttAccess || r1.Form.Has("subjectToken") {
		t.Errorf("JSON request not normalised: %v", r1.Form)
	}
	// Returned requests are copies.
	reqs[0].Form.Set("subject_token", "changed")
	reqs[0].Header.Set("Authorization", "changed")
	if again := s.Requests()[0]; again.Form.Get("subject_token") != testJWT || again.Header.Get("Authorization") == "changed" {
		t.Fatal("Requests result aliases the server's record")
	}
	// String forms carry no secret.
	info, _ := s.Lookup(mustToken(t, s))
	for _, v := range []any{s, r0, &r0, info, &info, ststest.Request{}, ststest.TokenInfo{}} {
		for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
			out := fmt.Sprintf(f, v)
			for _, secret := range []string{testJWT, "s3cret", "Basic ", info.Token, "Y2xpZW50OnMzY3JldA"} {
				if strings.Contains(out, secret) {
					t.Errorf("%s of %T leaks %q: %.300s", f, v, secret, out)
				}
			}
		}
	}
}

// mustToken exchanges the test JWT for an access token of the server.
func mustToken(t *testing.T, s *ststest.Server) string {
	t.Helper()
	status, tr := postForm(t, s.Client(), s.TokenURL(), exchangeForm())
	if status != 200 || tr.AccessToken == "" {
		t.Fatalf("exchange failed: %d %+v", status, tr)
	}
	return tr.AccessToken
}

func TestConcurrentUse(t *testing.T) {
	for _, mk := range []func(ststest.Options) *ststest.Server{ststest.NewServer, ststest.NewInMemoryServer} {
		s := mk(ststest.Options{})
		done := make(chan error)
		for i := range 8 {
			go func() {
				var err error
				for range 10 {
					if i%2 == 0 {
						s.PushFaults(ststest.Fault{})
					}
					resp, e := s.Client().PostForm(s.TokenURL(), exchangeForm())
					if e != nil {
						err = e
						continue
					}
					resp.Body.Close()
					_ = s.Requests()
					_ = s.Count("/v1/token")
					_ = s.String()
				}
				done <- err
			}()
		}
		for range 8 {
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
		if n := s.Count("/v1/token"); n != 80 {
			t.Errorf("count %d, want 80", n)
		}
		s.Close()
	}
}

func TestCloseTwice(t *testing.T) {
	s := ststest.NewServer(ststest.Options{})
	s.Close()
	s.Close()
	m := ststest.NewInMemoryServer(ststest.Options{})
	m.Close()
	m.Close()
	if _, err := m.Client().PostForm(m.TokenURL(), exchangeForm()); !errors.Is(err, ststest.ErrServerClosed) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("request after Close: %v", err)
	}
}

var _ = context.Background

// statusWriter is a middleware's ResponseWriter that hides Hijack.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(s int) { w.status = s; w.ResponseWriter.WriteHeader(s) }

// TestAsHandler serves the emulator from the caller's own HTTP server, as
// the sts emulator command does, with and without a middleware in between.
func TestAsHandler(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{})
	defer s.Close()
	for _, h := range []http.Handler{s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.ServeHTTP(&statusWriter{ResponseWriter: w}, r)
	})} {
		hs := httptest.NewServer(h)
		status, tr := postForm(t, hs.Client(), hs.URL+"/v1/token", exchangeForm())
		if status != 200 {
			t.Fatalf("status %d %+v", status, tr)
		}
		if _, ok := s.Lookup(tr.AccessToken); !ok {
			t.Fatal("token not recorded")
		}
		s.PushFaults(ststest.Fault{Reset: true})
		if resp, err := hs.Client().PostForm(hs.URL+"/v1/token", exchangeForm()); err == nil {
			resp.Body.Close()
			t.Fatalf("reset request got %d", resp.StatusCode)
		}
		hs.Close()
	}
}

// TestCloseUnderLoad closes the server while requests hang, stall, wait or
// are being answered; every request must end and nothing may leak.
func TestCloseUnderLoad(t *testing.T) {
	modes(t, ststest.Options{}, func(t *testing.T, s *ststest.Server) {
		faults := []ststest.Fault{{Hang: true}, {Delay: time.Hour}, {Stall: true}, {}, {Reset: true}, {Truncate: true}}
		const n = 24
		for i := range n {
			s.PushFaults(faults[i%len(faults)])
		}
		done := make(chan struct{})
		arrived := make(chan struct{}, n)
		for range n {
			go func() {
				defer func() { done <- struct{}{} }()
				resp, err := s.Client().PostForm(s.TokenURL(), exchangeForm())
				arrived <- struct{}{}
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
		}
		// Wait until the requests that answer at once have answered, so that
		// the others are blocked in the server, then close it.
		for range n / len(faults) * 4 {
			<-arrived
		}
		s.Close()
		for range n {
			<-done
		}
	})
}
