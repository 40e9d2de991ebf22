package sts

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stsgo/sts/internal/check"
	"golang.org/x/oauth2"
)

const (
	testAudience       = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/prov"
	testWorkforce      = "//iam.googleapis.com/locations/global/workforcePools/corp/providers/okta"
	secretSubject      = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3b3JrbG9hZCIsImV4cCI6NDEwMjQ0NDgwMH0.SECRET-SUBJECT-TOKEN-4d1f" // a JWT (sub workload) expiring in 2100
	secretAccess       = "SECRET-ACCESS-TOKEN-99ab"
	secretClientSecret = "SECRET-CLIENT-SECRET-77e0"
)

// stsStub is a scripted token endpoint: it records requests and answers
// from a queue of responders, then with a default success.
type stsStub struct {
	mu       sync.Mutex
	reqs     []*recorded
	script   []func(w http.ResponseWriter)
	calls    atomic.Int64
	lifetime int
}

type recorded struct {
	header http.Header
	form   url.Values
}

func (s *stsStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	s.mu.Lock()
	s.reqs = append(s.reqs, &recorded{header: r.Header.Clone(), form: form})
	var step func(w http.ResponseWriter)
	if len(s.script) > 0 {
		step, s.script = s.script[0], s.script[1:]
	}
	s.mu.Unlock()
	if step != nil {
		step(w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	life := s.lifetime
	if life == 0 {
		life = 3600
	}
	fmt.Fprintf(w, `{"access_token":%q,"issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":%d}`, secretAccess, life)
}

func (s *stsStub) push(steps ...func(w http.ResponseWriter)) {
	s.mu.Lock()
	s.script = append(s.script, steps...)
	s.mu.Unlock()
}

func (s *stsStub) last() *recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs[len(s.reqs)-1]
}

func respond(status int, ctype, body string, hdr ...string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		if ctype != "" {
			w.Header().Set("Content-Type", ctype)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func newStub(t *testing.T) (*stsStub, *httptest.Server) {
	s := &stsStub{}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

func baseConfig(srv *httptest.Server) Config {
	return Config{
		Subject:          StaticSubject(secretSubject),
		SubjectTokenType: TokenTypeJWT,
		Audience:         testAudience,
		TokenURL:         srv.URL + "/v1/token",
		HTTPOptions:      HTTPOptions{Retry: RetryPolicy{InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}},
	}
}

func TestExchangeRequestShape(t *testing.T) {
	stub, srv := newStub(t)
	cfg := baseConfig(srv)
	cfg.Scopes = []string{"https://www.googleapis.com/auth/devstorage.read_only", "openid"}
	x, err := newExchanger(cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	tok, err := x.TokenContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != secretAccess || tok.TokenType != "Bearer" {
		t.Fatalf("token = %+v", tok)
	}
	if d := tok.Expiry.Sub(start); d < time.Hour-time.Second || d > time.Hour+time.Second {
		t.Fatalf("expiry %v from now, want 1h", d)
	}
	r := stub.last()
	want := url.Values{
		"grant_type":           {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"requested_token_type": {TokenTypeAccessToken},
		"subject_token":        {secretSubject},
		"subject_token_type":   {TokenTypeJWT},
		"audience":             {testAudience},
		"scope":                {"https://www.googleapis.com/auth/devstorage.read_only openid"},
	}
	if d := cmp.Diff(want, r.form); d != "" {
		t.Fatalf("form (-want +got):\n%s", d)
	}
	if h := r.header.Get("Authorization"); h != "" {
		t.Fatalf("Authorization sent without client credentials: %q", h)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Fatalf("Content-Type = %q", ct)
	}
	api := r.header.Get("X-Goog-Api-Client")
	wantAPI := "gl-go/" + strings.TrimPrefix(runtime.Version(), "go") + " sts/" + Version + " google-byoid-sdk source/static sa-impersonation/false config-lifetime/false"
	if api != wantAPI {
		t.Fatalf("x-goog-api-client = %q, want %q", api, wantAPI)
	}
}

func TestExchangeDefaultsAndOptions(t *testing.T) {
	stub, srv := newStub(t)
	cfg := baseConfig(srv)
	cfg.Audience = testWorkforce
	cfg.WorkforcePoolUserProject = "billing-proj"
	cfg.Options = map[string]any{"extra": 1}
	cfg.ActorToken = StaticSubject("actor")
	cfg.ActorTokenType = TokenTypeJWT
	cfg.Resource = "https://storage.googleapis.com/"
	x, err := newExchanger(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Token(); err != nil {
		t.Fatal(err)
	}
	f := stub.last().form
	if got := f.Get("scope"); got != CloudPlatformScope {
		t.Errorf("default scope = %q", got)
	}
	if got := f.Get("options"); got != `{"extra":1,"userProject":"billing-proj"}` {
		t.Errorf("options = %s", got)
	}
	if f.Get("actor_token") != "actor" || f.Get("actor_token_type") != TokenTypeJWT || f.Get("resource") != cfg.Resource {
		t.Errorf("actor/resource not sent: %v", f)
	}
	// With a client ID, userProject is not sent and Basic auth is.
	cfg.ClientID, cfg.ClientSecret = "client id", secretClientSecret
	cfg.Options = nil
	x, _ = newExchanger(cfg)
	if _, err := x.Token(); err != nil {
		t.Fatal(err)
	}
	r := stub.last()
	if r.form.Has("options") {
		t.Errorf("options sent with a client ID: %s", r.form.Get("options"))
	}
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("client+id:"+secretClientSecret))
	if got := r.header.Get("Authorization"); got != wantAuth {
		t.Errorf("Authorization = %q, want %q", got, wantAuth)
	}
	// Empty non-nil scopes send no scope.
	cfg.Scopes = []string{}
	x, _ = newExchanger(cfg)
	x.Token()
	if stub.last().form.Has("scope") {
		t.Error("scope sent for empty Scopes")
	}
}

func TestExchangeUniverseDomainEndpoint(t *testing.T) {
	x, err := newExchanger(Config{Subject: StaticSubject("s"), SubjectTokenType: TokenTypeJWT, Audience: testAudience})
	if err != nil {
		t.Fatal(err)
	}
	if x.x.TokenURL() != "https://sts.googleapis.com/v1/token" {
		t.Errorf("default token URL = %s", x.x.TokenURL())
	}
	x, _ = newExchanger(Config{Subject: StaticSubject("s"), SubjectTokenType: TokenTypeJWT, Audience: testAudience, UniverseDomain: "example-universe.com"})
	if x.x.TokenURL() != "https://sts.example-universe.com/v1/token" {
		t.Errorf("universe token URL = %s", x.x.TokenURL())
	}
}

func TestExchangeErrors(t *testing.T) {
	cases := []struct {
		name      string
		steps     []func(http.ResponseWriter)
		status    int
		code      string
		desc      string
		temporary bool
		calls     int64
	}{
		{"rfc6749", []func(http.ResponseWriter){respond(400, "application/json", `{"error":"invalid_grant","error_description":"The subject token is expired."}`)},
			400, "invalid_grant", "The subject token is expired.", false, 1},
		{"google shape", []func(http.ResponseWriter){respond(403, "application/json", `{"error":{"code":403,"message":"Permission denied.","status":"PERMISSION_DENIED"}}`)},
			403, "PERMISSION_DENIED", "Permission denied.", false, 1},
		{"401 not retried", []func(http.ResponseWriter){respond(401, "application/json", `{"error":"invalid_client"}`)},
			401, "invalid_client", "", false, 1},
		{"503 three times", []func(http.ResponseWriter){respond(503, "text/html", "<html>down</html>"), respond(503, "", ""), respond(503, "", "")},
			503, "", "Service Unavailable", true, 3},
		{"temporarily_unavailable", []func(http.ResponseWriter){
			respond(400, "application/json", `{"error":"temporarily_unavailable"}`),
			respond(400, "application/json", `{"error":"temporarily_unavailable"}`),
			respond(400, "application/json", `{"error":"temporarily_unavailable"}`)},
			400, "temporarily_unavailable", "", true, 3},
		{"redirect", []func(http.ResponseWriter){respond(307, "", "", "Location", "https://evil.example/steal")},
			307, "", `redirect to host "evil.example" not followed`, false, 1},
		{"html 200", []func(http.ResponseWriter){respond(200, "text/html", "<html>proxy</html>")}, 200, "", "", false, 1},
		{"no token", []func(http.ResponseWriter){respond(200, "application/json", `{"token_type":"Bearer"}`)}, 200, "", "", false, 1},
		{"too large", []func(http.ResponseWriter){respond(200, "application/json", `{"access_token":"`+strings.Repeat("a", 2<<20)+`"}`)}, 200, "", "", false, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stub, srv := newStub(t)
			stub.push(tc.steps...)
			x, err := newExchanger(baseConfig(srv))
			if err != nil {
				t.Fatal(err)
			}
			_, err = x.Token()
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			if se.Op != "exchange" || se.StatusCode != tc.status || se.Code != tc.code || se.Temporary() != tc.temporary {
				t.Fatalf("got %+v (temporary %v)", se, se.Temporary())
			}
			if tc.desc != "" && se.Description != tc.desc {
				t.Fatalf("description = %q, want %q", se.Description, tc.desc)
			}
			if n := stub.calls.Load(); n != tc.calls {
				t.Fatalf("requests = %d, want %d", n, tc.calls)
			}
			if !strings.HasPrefix(err.Error(), "sts: exchange: ") {
				t.Fatalf("error text %q lacks the sts: prefix", err)
			}
			assertNoSecrets(t, err.Error(), fmt.Sprintf("%+v", se))
		})
	}
}

func TestExchangeRetriesThenSucceeds(t *testing.T) {
	stub, srv := newStub(t)
	stub.push(respond(503, "", ""), respond(429, "", "", "Retry-After", "0"))
	x, _ := newExchanger(baseConfig(srv))
	tok, err := x.Token()
	if err != nil || tok.AccessToken != secretAccess {
		t.Fatalf("got %v, %v", tok, err)
	}
	if n := stub.calls.Load(); n != 3 {
		t.Fatalf("requests = %d, want 3", n)
	}
}

func TestExchangeRetryAfterBeyondDeadlineGivesUp(t *testing.T) {
	stub, srv := newStub(t)
	stub.push(respond(503, "", "", "Retry-After", "60"))
	cfg := baseConfig(srv)
	cfg.Retry.MaxBackoff = time.Minute
	x, _ := newExchanger(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := x.TokenContext(ctx)
	if err == nil || !IsTemporary(err) {
		t.Fatalf("err = %v", err)
	}
	// Waiting out the 60 s Retry-After would end at the caller's deadline:
	// returning before it shows the wait was not started (a condition,
	// not a wall-clock bound that a loaded machine could pass).
	if ctx.Err() != nil {
		t.Fatal("waited for a Retry-After that could not finish before the deadline")
	}
	var se *Error
	errors.As(err, &se)
	if se.RetryAfter != time.Minute {
		t.Fatalf("RetryAfter = %v", se.RetryAfter)
	}
}

func TestExchangeTimeoutPerAttempt(t *testing.T) {
	block := make(chan struct{})
	stub, srv := newStub(t)
	defer close(block)
	stub.push(func(w http.ResponseWriter) { <-block })
	cfg := baseConfig(srv)
	cfg.Timeout = 50 * time.Millisecond
	cfg.Retry.MaxAttempts = 1
	x, _ := newExchanger(cfg)
	_, err := x.Token()
	if !errors.Is(err, context.DeadlineExceeded) || !IsTemporary(err) {
		t.Fatalf("err = %v, want a temporary deadline error", err)
	}
}

func TestExchangeCallerCancelStopsRetries(t *testing.T) {
	stub, srv := newStub(t)
	for range 10 {
		stub.push(respond(503, "", ""))
	}
	cfg := baseConfig(srv)
	cfg.Retry = RetryPolicy{MaxAttempts: 10, InitialBackoff: time.Hour, MaxBackoff: time.Hour}
	x, _ := newExchanger(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for stub.calls.Load() == 0 {
			runtime.Gosched()
		}
		cancel()
	}()
	_, err := x.TokenContext(ctx)
	if err == nil || stub.calls.Load() != 1 {
		t.Fatalf("err = %v after %d calls", err, stub.calls.Load())
	}
}

func TestExchangeAccessTokenSubjectTakesSubjectExpiry(t *testing.T) {
	stub, srv := newStub(t)
	stub.push(respond(200, "application/json", `{"access_token":"down","token_type":"Bearer"}`))
	exp := time.Now().Add(17 * time.Minute).Round(time.Second)
	root := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "root", Expiry: exp})
	cfg := baseConfig(srv)
	cfg.Subject = TokenSourceSubject{Source: root}
	cfg.SubjectTokenType = TokenTypeAccessToken
	cfg.Audience = ""
	x, err := newExchanger(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := x.Token()
	if err != nil {
		t.Fatal(err)
	}
	if !tok.Expiry.Equal(exp) {
		t.Fatalf("expiry = %v, want the subject's %v", tok.Expiry, exp)
	}
	if f := stub.last().form; f.Get("subject_token") != "root" || f.Has("audience") {
		t.Fatalf("form = %v", f)
	}
	if api := stub.last().header.Get("X-Goog-Api-Client"); !strings.Contains(api, "source/tokensource") {
		t.Fatalf("x-goog-api-client = %q", api)
	}
}

func TestExchangeSubjectFailures(t *testing.T) {
	_, srv := newStub(t)
	cases := map[string]SubjectTokenProvider{
		"error": SubjectTokenFunc(func(context.Context, SubjectRequest) (string, error) { return "", errors.New("idp down") }),
		"empty": SubjectTokenFunc(func(context.Context, SubjectRequest) (string, error) { return "", nil }),
		"panic": SubjectTokenFunc(func(context.Context, SubjectRequest) (string, error) { panic("x") }),
		"file":  FileSubject{Path: filepath.Join(t.TempDir(), "missing")},
	}
	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := baseConfig(srv)
			cfg.Subject = p
			x, err := newExchanger(cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = x.Token()
			var se *Error
			if !errors.As(err, &se) || se.Op != "subject" {
				t.Fatalf("err = %v, want *Error with Op subject", err)
			}
		})
	}
}

func TestSubjectRequestPassedToProvider(t *testing.T) {
	_, srv := newStub(t)
	var got SubjectRequest
	cfg := baseConfig(srv)
	cfg.Subject = SubjectTokenFunc(func(_ context.Context, r SubjectRequest) (string, error) { got = r; return "t", nil })
	x, _ := newExchanger(cfg)
	x.Token()
	if got.Audience != testAudience || got.SubjectTokenType != TokenTypeJWT {
		t.Fatalf("provider got %+v", got)
	}
}

func TestConfigValidation(t *testing.T) {
	ok := func() Config {
		return Config{Subject: StaticSubject("s"), SubjectTokenType: TokenTypeJWT, Audience: testAudience}
	}
	cases := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"no subject", func(c *Config) { c.Subject = nil }, "Config.Subject"},
		{"empty static", func(c *Config) { c.Subject = StaticSubject("") }, "StaticSubject"},
		{"no type", func(c *Config) { c.SubjectTokenType = "" }, "Config.SubjectTokenType"},
		{"bad type", func(c *Config) { c.SubjectTokenType = "jwt" }, "Config.SubjectTokenType"},
		{"no audience", func(c *Config) { c.Audience = "" }, "Config.Audience"},
		{"relative audience", func(c *Config) { c.Audience = "projects/1" }, "Config.Audience"},
		{"spaced audience", func(c *Config) { c.Audience = "//iam.googleapis.com/a b" }, "Config.Audience"},
		{"bad requested", func(c *Config) { c.RequestedTokenType = TokenTypeJWT }, "Config.RequestedTokenType"},
		{"intermediary from jwt", func(c *Config) { c.RequestedTokenType = TokenTypeIntermediary }, "Config.RequestedTokenType"},
		{"empty scope", func(c *Config) { c.Scopes = []string{""} }, "Config.Scopes[0]"},
		{"spaced scope", func(c *Config) { c.Scopes = []string{"a", "b c"} }, "Config.Scopes[1]"},
		{"id without secret", func(c *Config) { c.ClientID = "id" }, "Config.ClientSecret"},
		{"secret without id", func(c *Config) { c.ClientSecret = "s" }, "Config.ClientID"},
		{"user project on workload", func(c *Config) { c.WorkforcePoolUserProject = "p" }, "Config.WorkforcePoolUserProject"},
		{"actor without type", func(c *Config) { c.ActorToken = StaticSubject("a") }, "Config.ActorTokenType"},
		{"type without actor", func(c *Config) { c.ActorTokenType = TokenTypeJWT }, "Config.ActorTokenType"},
		{"bad actor type", func(c *Config) { c.ActorToken = StaticSubject("a"); c.ActorTokenType = "x" }, "Config.ActorTokenType"},
		{"bad actor provider", func(c *Config) { c.ActorToken = FileSubject{}; c.ActorTokenType = TokenTypeJWT }, "FileSubject.Path"},
		{"nil subject func", func(c *Config) { c.Subject = SubjectTokenFunc(nil) }, "SubjectTokenFunc"},
		{"relative resource", func(c *Config) { c.Resource = "storage" }, "Config.Resource"},
		{"bad universe", func(c *Config) { c.UniverseDomain = "not a domain" }, "Config.UniverseDomain"},
		{"http token url", func(c *Config) { c.TokenURL = "http://sts.googleapis.com/v1/token" }, "Config.TokenURL"},
		{"ftp token url", func(c *Config) { c.TokenURL = "ftp://sts.googleapis.com/v1/token" }, "Config.TokenURL"},
		{"hostless token url", func(c *Config) { c.TokenURL = "https:///v1/token" }, "Config.TokenURL"},
		{"userinfo token url", func(c *Config) { c.TokenURL = "https://u:p@sts.googleapis.com/v1/token" }, "Config.TokenURL"},
		{"negative timeout", func(c *Config) { c.Timeout = -1 }, "Config.Timeout"},
		{"negative attempts", func(c *Config) { c.Retry.MaxAttempts = -1 }, "Config.Retry.MaxAttempts"},
		{"too many attempts", func(c *Config) { c.Retry.MaxAttempts = 100 }, "Config.Retry.MaxAttempts"},
		{"negative backoff", func(c *Config) { c.Retry.InitialBackoff = -1 }, "Config.Retry.InitialBackoff"},
		{"reserved option", func(c *Config) { c.Options = map[string]any{"userProject": "x"} }, "Config.Options"},
		{"unencodable option", func(c *Config) { c.Options = map[string]any{"f": func() {}} }, "Config.Options"},
		{"huge options", func(c *Config) { c.Options = map[string]any{"f": strings.Repeat("x", 3000)} }, "Config.Options"},
		{"file no path", func(c *Config) { c.Subject = FileSubject{} }, "FileSubject.Path"},
		{"file bad format", func(c *Config) { c.Subject = FileSubject{Path: "p", Format: Format{Type: "xml"}} }, "FileSubject.Format.Type"},
		{"file json no field", func(c *Config) { c.Subject = FileSubject{Path: "p", Format: Format{Type: "json"}} }, "FileSubject.Format.SubjectTokenField"},
		{"file text with field", func(c *Config) { c.Subject = FileSubject{Path: "p", Format: Format{SubjectTokenField: "f"}} }, "FileSubject.Format.SubjectTokenField"},
		{"url empty", func(c *Config) { c.Subject = URLSubject{} }, "URLSubject.URL"},
		{"url relative", func(c *Config) { c.Subject = URLSubject{URL: "/token"} }, "URLSubject.URL"},
		{"url user info", func(c *Config) { c.Subject = URLSubject{URL: "http://user:pw@x/token"} }, "URLSubject.URL"},
		{"url bad header", func(c *Config) { c.Subject = URLSubject{URL: "http://x", Headers: map[string]string{"a b": "v"}} }, "URLSubject.Headers"},
		{"url negative timeout", func(c *Config) { c.Subject = URLSubject{URL: "http://x", Timeout: -1} }, "URLSubject.Timeout"},
		{"tokensource nil", func(c *Config) { c.Subject = TokenSourceSubject{} }, "TokenSourceSubject.Source"},
		{"metadata no audience", func(c *Config) { c.Subject = MetadataSubject{} }, "MetadataSubject.Audience"},
		{"metadata bad format", func(c *Config) { c.Subject = MetadataSubject{Audience: "a", Format: "x"} }, "MetadataSubject.Format"},
		{"cache", func(c *Config) { c.Cache.StaleFraction = 2 }, "CacheOptions.StaleFraction"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok()
			tc.edit(&c)
			_, err := NewTokenSource(c)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want *ValidationError", err)
			}
			if ve.Field != tc.field {
				t.Fatalf("field = %q, want %q (%v)", ve.Field, tc.field, err)
			}
			if !strings.HasPrefix(err.Error(), "sts: invalid "+tc.field+": ") {
				t.Fatalf("message %q", err)
			}
		})
	}
	if _, err := NewTokenSource(ok()); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
}

func TestLoopbackHTTPAllowed(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:1/v1/token", "http://localhost:8080/x", "http://[::1]:9/x", "http://127.9.9.9/x", "https://sts.googleapis.com/v1/token"} {
		if err := verr(check.Endpoint("f", u)); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
	for _, u := range []string{"http://10.0.0.1/x", "http://sts.googleapis.com/v1/token", "http://localhost.evil.com/x", "://x"} {
		if err := verr(check.Endpoint("f", u)); err == nil {
			t.Errorf("%s allowed", u)
		}
	}
}

func TestSecretsRedactedInStrings(t *testing.T) {
	cfg := Config{Subject: StaticSubject(secretSubject), SubjectTokenType: TokenTypeJWT, Audience: testAudience,
		ClientID: "id", ClientSecret: secretClientSecret}
	u := URLSubject{URL: "http://x/token?key=" + secretSubject, Headers: map[string]string{"Authorization": "Bearer " + secretSubject}}
	x, _ := newExchanger(cfg)
	c, _ := NewTokenSource(cfg)
	for _, s := range []string{
		fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%v", &cfg),
		fmt.Sprint(StaticSubject(secretSubject)), fmt.Sprintf("%#v", StaticSubject(secretSubject)),
		fmt.Sprint(u), fmt.Sprintf("%#v", u), fmt.Sprint(x), fmt.Sprint(c), fmt.Sprintf("%v %+v", *x, *x),
	} {
		assertNoSecrets(t, s)
	}
}

func assertNoSecrets(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range texts {
		for _, secret := range []string{secretSubject, secretAccess, secretClientSecret} {
			if strings.Contains(s, secret) {
				t.Fatalf("secret %q leaked in %q", secret, s)
			}
		}
	}
}

func TestTokenSourceCachesExchanges(t *testing.T) {
	stub, srv := newStub(t)
	ts, err := NewTokenSource(baseConfig(srv))
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := ts.Token(); err != nil {
			t.Fatal(err)
		}
	}
	if n := stub.calls.Load(); n != 1 {
		t.Fatalf("exchanges = %d, want 1", n)
	}
}

func TestFileSubject(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	text := write("text", "  tok-1\n")
	js := write("json", `{"id_token":"tok-j","other":1}`)
	cases := []struct {
		name    string
		p       FileSubject
		want    string
		wantErr string
	}{
		{"text", FileSubject{Path: text}, "tok-1", ""},
		{"json", FileSubject{Path: js, Format: Format{Type: "json", SubjectTokenField: "id_token"}}, "tok-j", ""},
		{"json missing field", FileSubject{Path: js, Format: Format{Type: "json", SubjectTokenField: "nope"}}, "", `no field "nope"`},
		{"json non-string", FileSubject{Path: js, Format: Format{Type: "json", SubjectTokenField: "other"}}, "", "not a string"},
		{"json invalid", FileSubject{Path: text, Format: Format{Type: "json", SubjectTokenField: "x"}}, "", "not valid JSON"},
		{"json duplicate field", FileSubject{Path: write("dup", `{"id_token":"tok-a","id_token":"tok-b"}`), Format: Format{Type: "json", SubjectTokenField: "id_token"}}, "", `"id_token" appears more than once`},
		{"json field in another case", FileSubject{Path: write("case", `{"ID_TOKEN":"tok-a"}`), Format: Format{Type: "json", SubjectTokenField: "id_token"}}, "", `"ID_TOKEN" is not "id_token"`},
		{"empty", FileSubject{Path: write("empty", " \n")}, "", "empty"},
		{"missing", FileSubject{Path: filepath.Join(dir, "nope")}, "", "no such file"},
		{"huge", FileSubject{Path: write("huge", strings.Repeat("a", maxSubjectSize+1))}, "", "larger than 1 MiB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.p.SubjectToken(context.Background(), SubjectRequest{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	// Rotation: the file is re-read at each call.
	write("text", "tok-2")
	if got, _ := (FileSubject{Path: text}).SubjectToken(context.Background(), SubjectRequest{}); got != "tok-2" {
		t.Fatalf("rotated token not picked up: %q", got)
	}
}

func TestURLSubject(t *testing.T) {
	var gotHeader atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/text":
			gotHeader.Store(r.Header.Get("Metadata"))
			io.WriteString(w, "tok-text\n")
		case "/json":
			io.WriteString(w, `{"access_token":"tok-json"}`)
		case "/echo":
			w.WriteHeader(500)
			io.WriteString(w, "secret header was "+r.Header.Get("Metadata"))
		case "/huge":
			w.Write(make([]byte, maxSubjectSize+10))
		case "/hang":
			<-r.Context().Done()
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	hdr := map[string]string{"Metadata": secretSubject}
	cases := []struct {
		name    string
		p       URLSubject
		want    string
		wantErr string
	}{
		{"text", URLSubject{URL: srv.URL + "/text", Headers: hdr}, "tok-text", ""},
		{"json", URLSubject{URL: srv.URL + "/json", Format: Format{Type: "json", SubjectTokenField: "access_token"}}, "tok-json", ""},
		{"500 not echoed", URLSubject{URL: srv.URL + "/echo?key=" + secretSubject, Headers: hdr}, "", "sts: subject: GET " + srv.URL + "/echo: status 500: Internal Server Error"},
		{"404", URLSubject{URL: srv.URL + "/missing"}, "", "sts: subject: GET " + srv.URL + "/missing: status 404: Not Found"},
		{"huge", URLSubject{URL: srv.URL + "/huge"}, "", "larger than 1 MiB"},
		{"timeout", URLSubject{URL: srv.URL + "/hang", Timeout: 20 * time.Millisecond}, "", "deadline"},
		{"refused", URLSubject{URL: "http://127.0.0.1:1/x"}, "", "GET http://127.0.0.1:1/x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.p.SubjectToken(context.Background(), SubjectRequest{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				assertNoSecrets(t, err.Error())
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
	if gotHeader.Load() != secretSubject {
		t.Fatal("headers not sent")
	}
}

func TestMetadataSubject(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata-Flavor") != "Google" {
			w.WriteHeader(403)
			return
		}
		if r.URL.Path != "/computeMetadata/v1/instance/service-accounts/default/identity" {
			w.WriteHeader(404)
			return
		}
		q := r.URL.Query()
		w.Header().Set("Metadata-Flavor", "Google")
		fmt.Fprintf(w, "idtoken-for-%s-%s", q.Get("audience"), q.Get("format"))
	}))
	defer srv.Close()
	t.Setenv("GCE_METADATA_HOST", strings.TrimPrefix(srv.URL, "http://"))
	got, err := MetadataSubject{Audience: "https://aud"}.SubjectToken(context.Background(), SubjectRequest{})
	if err != nil || got != "idtoken-for-https://aud-full" {
		t.Fatalf("got %q, %v", got, err)
	}
	got, err = MetadataSubject{Audience: "a", Format: "standard"}.SubjectToken(context.Background(), SubjectRequest{})
	if err != nil || got != "idtoken-for-a-standard" {
		t.Fatalf("got %q, %v", got, err)
	}
}

// conventionSubject is a provider written outside the package: it announces
// itself only through the exported methods documented on
// SubjectTokenProvider.
type conventionSubject struct {
	invalid error
	client  *http.Client
	bases   *[]*http.Client
}

func (c conventionSubject) SubjectToken(context.Context, SubjectRequest) (string, error) {
	return secretSubject, nil
}
func (c conventionSubject) Validate() error             { return c.invalid }
func (c conventionSubject) SubjectTokenTypes() []string { return []string{TokenTypeSAML2} }
func (c conventionSubject) SourceKind() string          { return "mine" }
func (c conventionSubject) ExchangeClient(base *http.Client) (*http.Client, error) {
	*c.bases = append(*c.bases, base)
	return c.client, nil
}

func TestProviderConventions(t *testing.T) {
	stub, srv := newStub(t)
	var sent atomic.Int64
	client := &http.Client{Transport: roundTripCounter{&sent, http.DefaultTransport}}
	var bases []*http.Client
	base := &http.Client{}
	cfg := baseConfig(srv)
	cfg.HTTPClient = base
	cfg.SubjectTokenType = TokenTypeSAML2
	cfg.Subject = conventionSubject{client: client, bases: &bases}
	ts, err := NewTokenSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Token(); err != nil {
		t.Fatal(err)
	}
	if sent.Load() != 1 || len(bases) != 1 || bases[0] != base {
		t.Errorf("exchange client: %d requests through it, bases %v", sent.Load(), bases)
	}
	if api := stub.last().header.Get("X-Goog-Api-Client"); !strings.Contains(api, " source/mine ") {
		t.Errorf("x-goog-api-client = %q, want source/mine", api)
	}

	// Validate's error is the constructor's.
	bad := errors.New("bad provider")
	cfg.Subject = conventionSubject{invalid: bad, client: client, bases: &bases}
	if _, err := NewTokenSource(cfg); !errors.Is(err, bad) {
		t.Errorf("invalid provider: err = %v", err)
	}
	// A token type the provider does not supply is refused.
	cfg.Subject = conventionSubject{client: client, bases: &bases}
	cfg.SubjectTokenType = TokenTypeJWT
	var ve *ValidationError
	if _, err := NewTokenSource(cfg); !errors.As(err, &ve) || ve.Field != "Config.SubjectTokenType" || !strings.Contains(ve.Reason, "a mine subject supplies") {
		t.Errorf("wrong type: err = %v", err)
	}
}

type roundTripCounter struct {
	n    *atomic.Int64
	base http.RoundTripper
}

func (r roundTripCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	r.n.Add(1)
	return r.base.RoundTrip(req)
}
