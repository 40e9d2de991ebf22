package metaserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/fixture"
)

const identityPath = "/computeMetadata/v1/instance/service-accounts/default/identity"

// TestRefreshFailure: while refreshes fail, the still-valid token keeps
// being served and the server stays ready; once it has expired, token
// requests get 503 with a fixed text (no error detail, no token) and
// readiness fails; when the upstream recovers, both recover.
func TestRefreshFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &countingSource{prefix: "tok", life: time.Hour}
		cached, err := sts.NewCachedTokenSource(src, sts.CacheOptions{Jitter: -1})
		if err != nil {
			t.Fatal(err)
		}
		var logs fixture.Log
		s := newServer(t, Config{TokenSource: cached, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})

		if s.Ready() {
			t.Fatal("ready before any token")
		}
		if w := get(s, ReadinessPath, "Metadata-Flavor", "", "Host", "10.0.0.5:8081"); w.Code != 200 || w.Body.String() != "ok\n" {
			t.Fatalf("readiness (fetches the first token): %d %q", w.Code, w.Body)
		}
		if !s.Ready() || src.n.Load() != 1 {
			t.Fatalf("ready %v after %d fetches", s.Ready(), src.n.Load())
		}
		src.fail.Store(true)
		for range 11 { // 55 minutes, past the stale point: refreshes fail
			time.Sleep(5 * time.Minute)
			synctest.Wait()
			w := get(s, tokenPath)
			if w.Code != 200 || !strings.Contains(w.Body.String(), `"access_token":"tok-1"`) {
				t.Fatalf("during failing refreshes: %d %q", w.Code, w.Body)
			}
			if w := get(s, ReadinessPath); w.Code != 200 {
				t.Fatalf("readiness during failing refreshes: %d", w.Code)
			}
		}
		time.Sleep(5*time.Minute + time.Second) // past expiry
		synctest.Wait()
		if s.Ready() {
			t.Error("ready with an expired token")
		}
		w := get(s, tokenPath)
		if w.Code != http.StatusServiceUnavailable {
			t.Fatalf("after expiry: %d %q", w.Code, w.Body)
		}
		if body := w.Body.String(); body != msgNoToken+"\n" {
			t.Errorf("503 body %q", body)
		}
		if w := get(s, ReadinessPath); w.Code != http.StatusServiceUnavailable {
			t.Errorf("readiness after expiry: %d", w.Code)
		}
		if !strings.Contains(logs.String(), "secret-in-error-text") {
			t.Errorf("the failure is not in the log:\n%s", logs.String())
		}

		src.fail.Store(false)
		time.Sleep(2 * time.Minute) // past any backoff
		if w := get(s, ReadinessPath); w.Code != 200 {
			t.Errorf("readiness after recovery: %d", w.Code)
		}
		if w := get(s, tokenPath); w.Code != 200 || strings.Contains(w.Body.String(), "tok-1") {
			t.Errorf("after recovery: %d %q", w.Code, w.Body)
		}
		if strings.Contains(logs.String(), "tok-") {
			t.Errorf("a token in the log:\n%s", logs.String())
		}
	})
}

// TestReadinessMethods: readiness takes GET and HEAD only.
func TestReadinessMethods(t *testing.T) {
	s := newServer(t, Config{TokenSource: &countingSource{prefix: "tok", life: time.Hour}})
	if w := do(s, "POST", ReadinessPath); w.Code != 405 {
		t.Errorf("POST readiness: %d", w.Code)
	}
	if w := do(s, "HEAD", ReadinessPath); w.Code != 200 {
		t.Errorf("HEAD readiness: %d", w.Code)
	}
}

// TestMalformedTokens: a source returning nothing, or an expired token, is
// a failed fetch.
func TestMalformedTokens(t *testing.T) {
	for name, tok := range map[string]*oauth2.Token{
		"nil":     nil,
		"empty":   {},
		"expired": {AccessToken: "x", Expiry: time.Now().Add(-time.Second)},
	} {
		s := newServer(t, Config{TokenSource: plainSource{tok}})
		if w := get(s, tokenPath); w.Code != 503 {
			t.Errorf("%s: %d", name, w.Code)
		}
		if w := get(s, ReadinessPath); w.Code != 503 {
			t.Errorf("%s readiness: %d", name, w.Code)
		}
	}
}

// TestIdentity: ID tokens for an audience when a minting func is set; a
// clear 404 when not; refusals and failures mapped to 403 and 503.
func TestIdentity(t *testing.T) {
	src := &countingSource{prefix: "tok", life: time.Hour}
	s := newServer(t, Config{TokenSource: src, IDTokenUnavailable: "the credential impersonates no service account"})
	w := get(s, identityPath+"?audience=https://svc.example")
	if w.Code != 404 || !strings.Contains(w.Body.String(), "the credential impersonates no service account") {
		t.Errorf("no IDToken: %d %q", w.Code, w.Body)
	}
	s = newServer(t, Config{TokenSource: src})
	if w := get(s, identityPath+"?audience=x"); w.Code != 404 || !strings.Contains(w.Body.String(), "cannot mint ID tokens") {
		t.Errorf("no IDToken, default reason: %d %q", w.Code, w.Body)
	}

	var mintErr error
	var audiences []string
	s = newServer(t, Config{TokenSource: src, IDToken: func(ctx context.Context, aud string) (string, error) {
		audiences = append(audiences, aud)
		if mintErr != nil {
			return "", mintErr
		}
		if aud == "bad" {
			return "two words", nil
		}
		return "id." + aud + ".sig", nil
	}})
	w = get(s, identityPath+"?audience=https%3A%2F%2Fsvc.example&format=full&licenses=TRUE")
	if w.Code != 200 || w.Body.String() != "id.https://svc.example.sig" || w.Header().Get("Content-Type") != typeText || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("identity: %d %q %v", w.Code, w.Body, w.Header())
	}
	for _, q := range []string{"", "?audience=", "?audience=a&format=short", "?audience=a&licenses=maybe", "?audience=a%0Ab", "?audience=" + strings.Repeat("a", maxAudience+1)} {
		if w := get(s, identityPath+q); w.Code != 400 {
			t.Errorf("identity%s: %d", q, w.Code)
		}
	}
	if w := get(s, identityPath+"?audience=bad"); w.Code != 503 {
		t.Errorf("malformed ID token: %d", w.Code)
	}
	mintErr = &sts.Error{Op: "impersonate", StatusCode: 403, Code: "PERMISSION_DENIED"}
	if w := get(s, identityPath+"?audience=a"); w.Code != 403 || w.Body.String() != msgIDRefused+"\n" {
		t.Errorf("refused: %d %q", w.Code, w.Body)
	}
	mintErr = fmt.Errorf("wrapped: %w", &sts.Error{Op: "impersonate", StatusCode: 503})
	if w := get(s, identityPath+"?audience=a"); w.Code != 503 {
		t.Errorf("unavailable: %d", w.Code)
	}
	mintErr = errors.New("network down")
	if w := get(s, identityPath+"?audience=a"); w.Code != 503 {
		t.Errorf("other failure: %d", w.Code)
	}
	if len(audiences) != 5 {
		t.Errorf("%d mints, want 5 (bad requests never reach the func): %q", len(audiences), audiences)
	}
}

// TestNewChecks: a bad Config is a *sts.ValidationError naming the field.
func TestNewChecks(t *testing.T) {
	src := &countingSource{prefix: "tok", life: time.Hour}
	tests := []struct {
		cfg   Config
		field string
	}{
		{Config{}, "Config.TokenSource"},
		{Config{TokenSource: src, Scopes: []string{}}, "Config.Scopes"},
		{Config{TokenSource: src, Scopes: []string{"a", "b c"}}, "Config.Scopes[1]"},
		{Config{TokenSource: src, Email: "a b"}, "Config.Email"},
		{Config{TokenSource: src, ProjectID: "p\n"}, "Config.ProjectID"},
		{Config{TokenSource: src, NumericProjectID: "12a"}, "Config.NumericProjectID"},
		{Config{TokenSource: src, UniverseDomain: strings.Repeat("u", 2000)}, "Config.UniverseDomain"},
		{Config{TokenSource: src, AllowedHosts: []string{"ok", "a/b"}}, "Config.AllowedHosts[1]"},
		{Config{TokenSource: src, IDTokenUnavailable: "two\nlines"}, "Config.IDTokenUnavailable"},
	}
	for _, tc := range tests {
		_, err := New(tc.cfg)
		var ve *sts.ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("New(%s): %v, want a ValidationError for %s", tc.field, err, tc.field)
		}
	}
}

// TestNoTokenInLogsOrString: request logging names method, path and
// status; never a token, an audience or a query.
func TestNoTokenInLogsOrString(t *testing.T) {
	var logs fixture.Log
	s := newServer(t, Config{
		TokenSource: &countingSource{prefix: "secret-token", life: time.Hour},
		IDToken:     func(context.Context, string) (string, error) { return "secret-id-token", nil },
		Logger:      slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	get(s, tokenPath+"?scopes=x")
	get(s, identityPath+"?audience=secret-audience")
	get(s, ReadinessPath)
	out := logs.String()
	if !strings.Contains(out, `"path":"/computeMetadata/v1/instance/service-accounts/default/token"`) || !strings.Contains(out, `"status":200`) {
		t.Errorf("request not logged:\n%s", out)
	}
	for _, secret := range []string{"secret-token", "secret-id-token", "secret-audience", "scopes="} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds %q:\n%s", secret, out)
		}
	}
	for _, v := range []string{s.String(), fmt.Sprintf("%v %+v %#v", s, s, s)} {
		if strings.Contains(v, "secret") {
			t.Errorf("formatting shows a secret: %s", v)
		}
	}
}

// TestReadinessHandler: the handler for a probe address answers readiness
// only.
func TestReadinessHandler(t *testing.T) {
	src := &countingSource{prefix: "tok", life: time.Hour}
	s := newServer(t, Config{TokenSource: src})
	h := s.ReadinessHandler()
	if w := get(h, ReadinessPath, "Host", "10.1.2.3:8081", "Metadata-Flavor", ""); w.Code != 200 {
		t.Errorf("readiness: %d", w.Code)
	}
	for _, p := range []string{"/", tokenPath, "/computeMetadata/v1/"} {
		if w := get(h, p); w.Code != 404 || strings.Contains(w.Body.String(), "tok") {
			t.Errorf("%s on the probe handler: %d %q", p, w.Code, w.Body)
		}
	}
	src.fail.Store(true)
	s2 := newServer(t, Config{TokenSource: src})
	if err := s2.Check(t.Context()); err == nil {
		t.Error("Check with a failing source: no error")
	}
}
