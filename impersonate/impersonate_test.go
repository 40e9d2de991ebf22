package impersonate

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/internal/iam"
	"github.com/stsgo/sts/ststest"
)

const testWorkloadAud = "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/ci-pool/providers/github"

// urlRecorder records the URLs a client asks for.
type urlRecorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	urls []string
}

func (u *urlRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	u.mu.Lock()
	u.urls = append(u.urls, r.URL.String())
	u.mu.Unlock()
	return u.base.RoundTrip(r)
}

func (u *urlRecorder) seen() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.urls)
}

// exchangeSource returns a cached exchange against emu.
func exchangeSource(t *testing.T, emu *ststest.Server, client *http.Client) *sts.CachedTokenSource {
	t.Helper()
	ts, err := sts.NewTokenSource(sts.Config{
		Subject: sts.StaticSubject(testSubjectJWT), SubjectTokenType: sts.TokenTypeJWT, Audience: testWorkloadAud,
		TokenURL: emu.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: client},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestImpersonatedTokenSource(t *testing.T) {
	const sa = "builder@example-project.iam.gserviceaccount.com"
	emu := ststest.NewInMemoryServer(ststest.Options{})
	defer emu.Close()
	rec := &urlRecorder{base: emu.Client().Transport}
	client := &http.Client{Transport: rec}
	base := exchangeSource(t, emu, client)
	var gotCaller impCheck
	emu.SetImpersonationCheck(func(caller ststest.TokenInfo, account string, delegates []string) error {
		gotCaller = impCheck{caller.Kind, account, delegates}
		return nil
	})
	ts, err := NewTokenSource(Config{
		Source:          base,
		TargetPrincipal: sa,
		Scopes:          []string{"https://www.googleapis.com/auth/devstorage.read_only", "openid"},
		Delegates:       []string{"first@example-project.iam.gserviceaccount.com", "projects/-/serviceAccounts/second@example-project.iam.gserviceaccount.com"},
		Lifetime:        20 * time.Minute,
		UniverseDomain:  "example-universe.test",
		HTTPOptions:     sts.HTTPOptions{HTTPClient: client},
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	info, ok := emu.Lookup(tok.AccessToken)
	if !ok || info.Kind != "impersonated" || info.Subject != sa {
		t.Fatalf("token info = %v, %v", info, ok)
	}
	if got := info.ExpiresAt.Sub(info.IssuedAt); got != 20*time.Minute {
		t.Errorf("lifetime = %v", got)
	}
	if time.Until(tok.Expiry) > 20*time.Minute || time.Until(tok.Expiry) < 19*time.Minute {
		t.Errorf("Expiry = %v", tok.Expiry)
	}
	if !slices.Equal(info.Scopes, []string{"https://www.googleapis.com/auth/devstorage.read_only", "openid"}) {
		t.Errorf("scopes = %q", info.Scopes)
	}
	wantDelegates := []string{"projects/-/serviceAccounts/first@example-project.iam.gserviceaccount.com", "projects/-/serviceAccounts/second@example-project.iam.gserviceaccount.com"}
	if gotCaller.kind != "exchange" || gotCaller.account != sa || !slices.Equal(gotCaller.delegates, wantDelegates) {
		t.Errorf("impersonation check saw %+v", gotCaller)
	}
	wantURL := "https://iamcredentials.example-universe.test/v1/projects/-/serviceAccounts/" + sa + ":generateAccessToken"
	if urls := rec.seen(); len(urls) != 2 || urls[1] != wantURL {
		t.Errorf("URLs = %q, want the exchange then %s", urls, wantURL)
	}
	r := fixture.LastRequest(t, emu, "/v1/projects/-/serviceAccounts/"+sa+":generateAccessToken")
	baseTok, _ := base.Token()
	if r.Header.Get("Authorization") != "Bearer "+baseTok.AccessToken {
		t.Error("generateAccessToken was not authorized with the source token")
	}
	if r.Form.Get("lifetime") != "1200s" || !strings.Contains(r.Header.Get("X-Goog-Api-Client"), "cred-type/imp") {
		t.Errorf("lifetime %q, x-goog-api-client %q", r.Form.Get("lifetime"), r.Header.Get("X-Goog-Api-Client"))
	}

	// Impersonation chains: an impersonated token may impersonate again.
	ts2, err := NewTokenSource(Config{Source: ts, URL: emu.ImpersonationURL("other@example-project.iam.gserviceaccount.com"), HTTPOptions: sts.HTTPOptions{HTTPClient: client}})
	if err != nil {
		t.Fatal(err)
	}
	tok2, err := ts2.Token()
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := emu.Lookup(tok2.AccessToken); info.Subject != "other@example-project.iam.gserviceaccount.com" ||
		!slices.Equal(info.Scopes, []string{sts.CloudPlatformScope}) || info.ExpiresAt.Sub(info.IssuedAt) != time.Hour {
		t.Errorf("chained token info = %v", info)
	}
}

// impCheck is what the emulator's impersonation check saw.
type impCheck struct {
	kind, account string
	delegates     []string
}

func TestImpersonationErrors(t *testing.T) {
	const sa = "sa@example-project.iam.gserviceaccount.com"
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	base := exchangeSource(t, emu, emu.Client())
	newImp := func(src oauth2.TokenSource) publicSource {
		t.Helper()
		im, err := newUncached(Config{Source: src, URL: emu.ImpersonationURL(sa),
			HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client(), Retry: sts.RetryPolicy{InitialBackoff: time.Millisecond}}})
		if err != nil {
			t.Fatal(err)
		}
		return im
	}
	wantErr := func(err error, status int, code string, temporary bool) {
		t.Helper()
		var se *sts.Error
		if !errors.As(err, &se) {
			t.Fatalf("error = %v (%T), want *Error", err, err)
		}
		if se.Op != "impersonate" || se.StatusCode != status || se.Code != code || se.Temporary() != temporary {
			t.Errorf("error = %#v (%v), want impersonate %d %s temporary=%t", se, err, status, code, temporary)
		}
		if strings.Contains(err.Error(), "ststest-at-") {
			t.Errorf("error leaks a token: %v", err)
		}
	}

	// Permission denied by IAM.
	emu.SetImpersonationCheck(func(ststest.TokenInfo, string, []string) error {
		return errors.New("Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).")
	})
	_, err := newImp(base).Token()
	wantErr(err, 403, "PERMISSION_DENIED", false)
	if !strings.Contains(err.Error(), "iam.serviceAccounts.getAccessToken") {
		t.Errorf("error lacks IAM's message: %v", err)
	}
	emu.SetImpersonationCheck(nil)

	// A cached source whose token IAM rejects is invalidated, so the next
	// call exchanges again.
	cached := exchangeSource(t, emu, emu.Client())
	first, _ := cached.Token()
	emu.PushFaults(ststest.GoogleErrorFault(401, "UNAUTHENTICATED", "revoked"))
	_, err = newImp(cached).Token()
	wantErr(err, 401, "UNAUTHENTICATED", false)
	if second, err := cached.Token(); err != nil || second == first {
		t.Errorf("source token not invalidated after IAM's 401: %v", err)
	}

	// A token the emulator did not issue.
	_, err = newImp(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "foreign-token"})).Token()
	wantErr(err, 401, "UNAUTHENTICATED", false)

	// Transient failures are retried.
	emu.PushFaults(ststest.GoogleErrorFault(503, "UNAVAILABLE", "try again"), ststest.Fault{Path: "", Status: 500, Body: `{"error":{"code":500,"message":"internal","status":"INTERNAL"}}`})
	n := emu.Count("")
	tok, err := newImp(base).Token()
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("after transient failures: %v", err)
	}
	if got := emu.Count("") - n; got != 3 {
		t.Errorf("%d requests, want 3", got)
	}

	// Retries give up with the last error.
	emu.PushFaults(ststest.GoogleErrorFault(503, "UNAVAILABLE", "down"), ststest.GoogleErrorFault(503, "UNAVAILABLE", "down"), ststest.GoogleErrorFault(503, "UNAVAILABLE", "down"))
	_, err = newImp(base).Token()
	wantErr(err, 503, "UNAVAILABLE", true)

	// Malformed answers.
	for _, body := range []string{
		`{"accessToken":"x"}`,
		`{"expireTime":"2099-01-01T00:00:00Z"}`,
		`{"accessToken":"x","expireTime":"tomorrow"}`,
		`{"accessToken":"x","expireTime":"2001-01-01T00:00:00Z"}`,
		`not json`,
	} {
		emu.PushFaults(ststest.Fault{Status: 200, Body: body})
		_, err = newImp(base).Token()
		wantErr(err, 200, "", false)
	}

	// The source's failure passes through.
	emu.PushFaults(ststest.ErrorFault(400, "invalid_grant", "bad subject"))
	failing := exchangeSource(t, emu, emu.Client())
	_, err = newImp(failing).Token()
	var se *sts.Error
	if !errors.As(err, &se) || se.Op != "exchange" || se.Code != "invalid_grant" {
		t.Errorf("source failure = %v", err)
	}
	_, err = newImp(failingSource{}).Token()
	if !errors.As(err, &se) || se.Op != "impersonate" {
		t.Errorf("plain source failure = %v", err)
	}
	_, err = newImp(oauth2.StaticTokenSource(&oauth2.Token{})).Token()
	if !errors.As(err, &se) || se.Op != "impersonate" {
		t.Errorf("empty source token = %v", err)
	}

	// A cancelled context stops the call.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := newImp(base).TokenContext(ctx); err == nil {
		t.Error("cancelled context: no error")
	}
}

func TestImpersonationConfigInvalid(t *testing.T) {
	src := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "x"})
	const sa = "sa@p.iam.gserviceaccount.com"
	good := "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/" + sa + ":generateAccessToken"
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{TargetPrincipal: sa}, "impersonate.Config.Source"},
		{Config{Source: src}, "impersonate.Config.TargetPrincipal"},
		{Config{Source: src, TargetPrincipal: "a/b"}, "impersonate.Config.TargetPrincipal"},
		{Config{Source: src, URL: "http://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/" + sa + ":generateAccessToken"}, "impersonate.Config.URL"},
		{Config{Source: src, URL: "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/" + sa}, "impersonate.Config.URL"},
		{Config{Source: src, URL: "https://iamcredentials.googleapis.com/v1/" + sa + ":generateAccessToken"}, "impersonate.Config.URL"},
		{Config{Source: src, URL: good, TargetPrincipal: "other@p.iam.gserviceaccount.com"}, "impersonate.Config.TargetPrincipal"},
		{Config{Source: src, TargetPrincipal: sa, Lifetime: 5 * time.Minute}, "impersonate.Config.Lifetime"},
		{Config{Source: src, TargetPrincipal: sa, Lifetime: 13 * time.Hour}, "impersonate.Config.Lifetime"},
		{Config{Source: src, TargetPrincipal: sa, Lifetime: 20*time.Minute + time.Millisecond}, "impersonate.Config.Lifetime"},
		{Config{Source: src, TargetPrincipal: sa, Scopes: []string{}}, "impersonate.Config.Scopes"},
		{Config{Source: src, TargetPrincipal: sa, Scopes: []string{"a b"}}, "impersonate.Config.Scopes[0]"},
		{Config{Source: src, TargetPrincipal: sa, Delegates: []string{""}}, "impersonate.Config.Delegates[0]"},
		{Config{Source: src, TargetPrincipal: sa, UniverseDomain: "bad domain"}, "impersonate.Config.UniverseDomain"},
		{Config{Source: src, TargetPrincipal: sa, HTTPOptions: sts.HTTPOptions{Timeout: -1}}, "impersonate.Config.Timeout"},
		{Config{Source: src, TargetPrincipal: sa, HTTPOptions: sts.HTTPOptions{Retry: sts.RetryPolicy{MaxAttempts: 99}}}, "impersonate.Config.Retry.MaxAttempts"},
		{Config{Source: src, TargetPrincipal: sa, Cache: sts.CacheOptions{StaleFraction: -1}}, "CacheOptions.StaleFraction"},
	} {
		_, err := NewTokenSource(tc.cfg)
		wantField(t, err, tc.field)
	}
	im, err := newUncached(Config{Source: src, URL: good})
	if err != nil || !strings.Contains(fmt.Sprint(im), sa) {
		t.Errorf("newUncached(URL) = %v, %v", im, err)
	}
}

// newUncached checks cfg and returns its uncached engine, as NewTokenSource
// builds it before the cache.
func newUncached(cfg Config) (publicSource, error) {
	ic, err := cfg.engine()
	if err != nil {
		return publicSource{}, err
	}
	return publicSource{iam.NewAccessTokens(ic)}, nil
}

const testSubjectJWT = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJjaS1qb2ItNDIiLCJleHAiOjQxMDI0NDQ4MDB9.c2ln" // sub: ci-job-42, expires in 2100

func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var ve *sts.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v (%T), want *ValidationError for %s", err, err, field)
	}
	if ve.Field != field {
		t.Errorf("error field = %q, want %q (error: %v)", ve.Field, field, err)
	}
}

type failingSource struct{}

func (failingSource) Token() (*oauth2.Token, error) { return nil, errors.New("boom") }

// TestPlainHTTPRefusedForURL: credentials travel only over https, or to
// loopback hosts.
func TestPlainHTTPRefusedForURL(t *testing.T) {
	const secret = "SECRET-client-secret-0b6f1"
	const path = "/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken"
	src := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "x"})
	for _, u := range []string{
		"http://sts.googleapis.com", "http://example.com", "http://127.0.0.1.evil.example", "http://localhost.evil.example",
		"http://0.0.0.0", "http://10.0.0.1", "http://169.254.169.254", "http://2130706433", "http://[::]",
		"http://sts.localhost", "http://LOCALHOST.", "http://127.1", "http://0x7f.1", "http://127.0.0.1.nip.io",
		"HTTP://EXAMPLE.COM", "ftp://sts.googleapis.com", "ws://127.0.0.1", "file://", "//sts.googleapis.com",
		"sts.googleapis.com", "https://user:" + secret + "@sts.googleapis.com",
	} {
		_, err := NewTokenSource(Config{Source: src, URL: u + path})
		var ve *sts.ValidationError
		if !errors.As(err, &ve) || ve.Field != "impersonate.Config.URL" {
			t.Errorf("URL %q: err = %v, want a *ValidationError", u, err)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("URL %q: error shows the password: %v", u, err)
		}
	}
	for _, u := range []string{"http://127.0.0.1:8080", "http://127.1.2.3", "http://localhost", "http://LOCALHOST", "http://[::ffff:127.0.0.1]", "http://[::1]:9"} {
		if _, err := NewTokenSource(Config{Source: src, URL: u + path}); err != nil {
			t.Errorf("URL %q (loopback): %v", u, err)
		}
	}
}

func TestIDTokenSource(t *testing.T) {
	const sa = "runner@example-project.iam.gserviceaccount.com"
	const aud = "https://service-abc.a.run.app"
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	base := exchangeSource(t, emu, emu.Client())
	var gotCaller impCheck
	emu.SetImpersonationCheck(func(caller ststest.TokenInfo, account string, delegates []string) error {
		gotCaller = impCheck{caller.Kind, account, delegates}
		return nil
	})
	ts, err := NewIDTokenSource(Config{
		Source: base, URL: emu.ImpersonationURL(sa), Delegates: []string{"first@example-project.iam.gserviceaccount.com"},
		HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()},
	}, aud)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	info, ok := emu.Lookup(tok.AccessToken)
	if !ok || info.Kind != "id_token" || info.Subject != sa || info.Audience != aud {
		t.Fatalf("token info = %+v, %v", info, ok)
	}
	if !tok.Expiry.Equal(info.ExpiresAt.Truncate(time.Second)) {
		t.Errorf("Expiry = %v, want the token's exp %v", tok.Expiry, info.ExpiresAt)
	}
	if gotCaller.account != sa || !slices.Equal(gotCaller.delegates, []string{"projects/-/serviceAccounts/first@example-project.iam.gserviceaccount.com"}) {
		t.Errorf("impersonation check saw %+v", gotCaller)
	}
	r := fixture.LastRequest(t, emu, "/v1/projects/-/serviceAccounts/"+sa+":generateIdToken")
	if r.Form.Get("audience") != aud || r.Form.Get("include_email") != "true" {
		t.Errorf("request body %v", r.Form)
	}
	if again, _ := ts.Token(); again != tok {
		t.Error("ID token not cached")
	}
	// ID tokens are built from TargetPrincipal too.
	ts, err = NewIDTokenSource(Config{Source: base, TargetPrincipal: sa, UniverseDomain: "example-universe.test"}, aud)
	if err != nil || ts == nil {
		t.Fatal(err)
	}

	// Configuration and answer errors.
	if _, err := NewIDTokenSource(Config{Source: base, TargetPrincipal: sa}, ""); err == nil {
		t.Error("empty audience accepted")
	}
	wantField(t, func() error { _, err := NewIDTokenSource(Config{TargetPrincipal: sa}, aud); return err }(), "impersonate.Config.Source")
	for _, body := range []string{
		`{}`,
		`{"token":"not-a-jwt"}`,
		`{"token":"a.%%%.c"}`,
		`{"token":"a.` + b64(`[]`) + `.c"}`,
		`{"token":"a.` + b64(`{"sub":"x"}`) + `.c"}`,
		`{"token":"a.` + b64(`{"exp":"soon"}`) + `.c"}`,
		`{"token":"a.` + b64(`{"exp":1000}`) + `.c"}`,
		`{"token":"a.` + b64(`{"exp":99999999999999}`) + `.c"}`,
		`not json`,
	} {
		ts, err := NewIDTokenSource(Config{Source: base, URL: emu.ImpersonationURL(sa), HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()}}, aud)
		if err != nil {
			t.Fatal(err)
		}
		emu.PushFaults(ststest.Fault{Status: 200, Body: body})
		_, err = ts.Token()
		var se *sts.Error
		if !errors.As(err, &se) || se.Op != "impersonate" || se.StatusCode != 200 {
			t.Errorf("answer %s: error %v", body, err)
		}
	}
	emu.SetImpersonationCheck(func(ststest.TokenInfo, string, []string) error { return errors.New("denied") })
	ts, _ = NewIDTokenSource(Config{Source: base, URL: emu.ImpersonationURL(sa), HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()}}, aud)
	var se *sts.Error
	if _, err := ts.Token(); !errors.As(err, &se) || se.StatusCode != 403 || se.Code != "PERMISSION_DENIED" {
		t.Errorf("denied: %v", err)
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
