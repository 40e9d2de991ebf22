package sts

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/oauth2"

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
func exchangeSource(t *testing.T, emu *ststest.Server, client *http.Client) *CachedTokenSource {
	t.Helper()
	ts, err := NewTokenSource(Config{
		Subject: StaticSubject(testSubjectJWT), SubjectTokenType: TokenTypeJWT, Audience: testWorkloadAud,
		TokenURL: emu.TokenURL(), HTTPOptions: HTTPOptions{HTTPClient: client},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestImpersonatedTokenSource(t *testing.T) {
	const sa = "builder@example-project.iam.gserviceaccount.com"
	emu := ststest.NewUnstartedServer(ststest.Options{})
	defer emu.Close()
	rec := &urlRecorder{base: emu.Client().Transport}
	client := &http.Client{Transport: rec}
	base := exchangeSource(t, emu, client)
	var gotCaller impCheck
	emu.SetImpersonationCheck(func(caller ststest.TokenInfo, account string, delegates []string) error {
		gotCaller = impCheck{caller.Kind, account, delegates}
		return nil
	})
	ts, err := NewImpersonatedTokenSource(ImpersonationConfig{
		Source:          base,
		TargetPrincipal: sa,
		Scopes:          []string{"https://www.googleapis.com/auth/devstorage.read_only", "openid"},
		Delegates:       []string{"first@example-project.iam.gserviceaccount.com", "projects/-/serviceAccounts/second@example-project.iam.gserviceaccount.com"},
		Lifetime:        20 * time.Minute,
		UniverseDomain:  "example-universe.test",
		HTTPOptions:     HTTPOptions{HTTPClient: client},
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
	r := lastRequest(t, emu, "/v1/projects/-/serviceAccounts/"+sa+":generateAccessToken")
	baseTok, _ := base.Token()
	if r.Header.Get("Authorization") != "Bearer "+baseTok.AccessToken {
		t.Error("generateAccessToken was not authorized with the source token")
	}
	if r.Form.Get("lifetime") != "1200s" || !strings.Contains(r.Header.Get("X-Goog-Api-Client"), "cred-type/imp") {
		t.Errorf("lifetime %q, x-goog-api-client %q", r.Form.Get("lifetime"), r.Header.Get("X-Goog-Api-Client"))
	}

	// Impersonation chains: an impersonated token may impersonate again.
	ts2, err := NewImpersonatedTokenSource(ImpersonationConfig{Source: ts, URL: emu.ImpersonationURL("other@example-project.iam.gserviceaccount.com"), HTTPOptions: HTTPOptions{HTTPClient: client}})
	if err != nil {
		t.Fatal(err)
	}
	tok2, err := ts2.Token()
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := emu.Lookup(tok2.AccessToken); info.Subject != "other@example-project.iam.gserviceaccount.com" ||
		!slices.Equal(info.Scopes, []string{CloudPlatformScope}) || info.ExpiresAt.Sub(info.IssuedAt) != time.Hour {
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
	newImp := func(src oauth2.TokenSource) *Impersonator {
		t.Helper()
		im, err := NewImpersonator(ImpersonationConfig{Source: src, URL: emu.ImpersonationURL(sa),
			HTTPOptions: HTTPOptions{HTTPClient: emu.Client(), Retry: RetryPolicy{InitialBackoff: time.Millisecond}}})
		if err != nil {
			t.Fatal(err)
		}
		return im
	}
	wantErr := func(err error, status int, code string, temporary bool) {
		t.Helper()
		var se *Error
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
	var se *Error
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
		cfg   ImpersonationConfig
		field string
	}{
		{ImpersonationConfig{TargetPrincipal: sa}, "ImpersonationConfig.Source"},
		{ImpersonationConfig{Source: src}, "ImpersonationConfig.TargetPrincipal"},
		{ImpersonationConfig{Source: src, TargetPrincipal: "a/b"}, "ImpersonationConfig.TargetPrincipal"},
		{ImpersonationConfig{Source: src, URL: "http://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/" + sa + ":generateAccessToken"}, "ImpersonationConfig.URL"},
		{ImpersonationConfig{Source: src, URL: "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/" + sa}, "ImpersonationConfig.URL"},
		{ImpersonationConfig{Source: src, URL: "https://iamcredentials.googleapis.com/v1/" + sa + ":generateAccessToken"}, "ImpersonationConfig.URL"},
		{ImpersonationConfig{Source: src, URL: good, TargetPrincipal: "other@p.iam.gserviceaccount.com"}, "ImpersonationConfig.TargetPrincipal"},
		{ImpersonationConfig{Source: src, TargetPrincipal: sa, Lifetime: 5 * time.Minute}, "ImpersonationConfig.Lifetime"},
		{ImpersonationConfig{Source: src, TargetPrincipal: sa, Lifetime: 13 * time.Hour}, "ImpersonationConfig.Lifetime"},
		{ImpersonationConfig{Source: src, TargetPrincipal: sa, Lifetime: 20*time.Minute + time.Millisecond}, "ImpersonationConfig.Lifetime"},
		{ImpersonationConfig{Source: src, TargetPrincipal: sa, Scopes: []string{}}, "ImpersonationConfig.Scopes"},
		{ImpersonationConfig{Source: src, TargetPrincipal: sa, Scopes: []string{"a b"}}, "ImpersonationConfig.Scopes[0]"},
		{ImpersonationConfig{Source: src, TargetPrincipal: sa, Delegates: []string{""}}, "ImpersonationConfig.Delegates[0]"},
		{ImpersonationConfig{Source: src, TargetPrincipal: sa, UniverseDomain: "bad domain"}, "ImpersonationConfig.UniverseDomain"},
		{ImpersonationConfig{Source: src, TargetPrincipal: sa, HTTPOptions: HTTPOptions{Timeout: -1}}, "ImpersonationConfig.Timeout"},
		{ImpersonationConfig{Source: src, TargetPrincipal: sa, HTTPOptions: HTTPOptions{Retry: RetryPolicy{MaxAttempts: 99}}}, "ImpersonationConfig.Retry.MaxAttempts"},
		{ImpersonationConfig{Source: src, TargetPrincipal: sa, Cache: CacheOptions{StaleFraction: -1}}, "CacheOptions.StaleFraction"},
	} {
		_, err := NewImpersonatedTokenSource(tc.cfg)
		wantField(t, err, tc.field)
	}
	im, err := NewImpersonator(ImpersonationConfig{Source: src, URL: good})
	if err != nil || im.ServiceAccount() != sa || !strings.Contains(im.String(), sa) {
		t.Errorf("NewImpersonator(URL) = %v, %v", im, err)
	}
}

// TestImpersonationRefreshAhead runs a loaded impersonation file through
// the cache's lifetime in virtual time: the impersonated token is renewed
// in the background before it expires, with a fresh exchange each time.
func TestImpersonationRefreshAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := ststest.NewUnstartedServer(ststest.Options{})
		defer emu.Close()
		subject := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(subject, []byte(testSubjectJWT), 0o600); err != nil {
			t.Fatal(err)
		}
		m := decodeMap(t, readTestdata(t, "impersonation.json"))
		m["token_url"] = emu.TokenURL()
		m["service_account_impersonation_url"] = emu.ImpersonationURL("deployer@example-project.iam.gserviceaccount.com")
		m["service_account_impersonation"] = map[string]any{"token_lifetime_seconds": 600}
		m["credential_source"] = map[string]any{"file": subject}
		c, err := LoadCredentials(encodeMap(t, m), LoadOptions{HTTPOptions: HTTPOptions{HTTPClient: emu.Client()}, Getenv: envMap(nil),
			Cache: CacheOptions{StaleFraction: 0.5, Jitter: -1}})
		if err != nil {
			t.Fatal(err)
		}
		ts := c.TokenSource()
		first, err := ts.Token()
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(4 * time.Minute) // fresh: served from the cache
		if tok, _ := ts.Token(); tok != first {
			t.Fatal("fresh token not served from the cache")
		}
		time.Sleep(2 * time.Minute) // stale: served, and renewed in the background
		if tok, _ := ts.Token(); tok != first {
			t.Fatal("stale token not served while renewing")
		}
		synctest.Wait()
		second, err := ts.Token()
		if err != nil || second == first {
			t.Fatalf("after the background refresh: %v, same token %t", err, second == first)
		}
		if info, _ := emu.Lookup(second.AccessToken); info.Kind != "impersonated" || info.ExpiresAt.Sub(info.IssuedAt) != 10*time.Minute {
			t.Errorf("renewed token %v", info)
		}
		if emu.Count("/v1/token") != 2 || emu.Count("/v1/projects/-/serviceAccounts/deployer@example-project.iam.gserviceaccount.com:generateAccessToken") != 2 {
			t.Errorf("requests: %d exchanges, %d impersonations; want 2 and 2", emu.Count("/v1/token"),
				emu.Count("/v1/projects/-/serviceAccounts/deployer@example-project.iam.gserviceaccount.com:generateAccessToken"))
		}
	})
}
