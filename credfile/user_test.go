package credfile

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/ststest"
)

const (
	testClientID     = fixture.UserClientID
	testClientSecret = fixture.UserClientSecret
	testRefreshToken = fixture.UserRefreshToken
)

var newOAuthEmulator = fixture.NewOAuthEmulator

func authorizedUserFile(t *testing.T, emu *ststest.Server) map[string]any {
	t.Helper()
	m := decodeMap(t, readTestdata(t, "authorized-user.json"))
	m["token_url"] = emu.URL + "/v1/oauthtoken"
	m["refresh_token"] = testRefreshToken
	m["client_id"] = testClientID
	m["client_secret"] = testClientSecret
	return m
}

// TestAuthorizedUserRotation loads an authorized-user file and follows
// refresh token rotations through the hook.
func TestAuthorizedUserRotation(t *testing.T) {
	emu := newOAuthEmulator(t)
	emu.SetRefreshTokenRotation(true)
	var mu sync.Mutex
	var rotated []string
	c, err := Load(encodeMap(t, authorizedUserFile(t, emu)), Options{
		HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()},
		OnRefreshTokenRotated: func(tok string) {
			mu.Lock()
			rotated = append(rotated, tok)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := c.TokenSource()
	for i := 1; i <= 3; i++ {
		tok, err := ts.Token()
		if err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
		if info, ok := emu.Lookup(tok.AccessToken); !ok || info.Kind != "refreshed" {
			t.Fatalf("refresh %d: token info %v", i, info)
		}
		if tok.RefreshToken != "" {
			t.Errorf("the refresh token is exposed on the access token")
		}
		mu.Lock()
		if len(rotated) != i {
			t.Fatalf("refresh %d: hook called %d times", i, len(rotated))
		}
		latest := rotated[i-1]
		mu.Unlock()
		if !emu.RefreshTokenValid(latest) {
			t.Errorf("refresh %d: the reported token is not the server's current one", i)
		}
		ts.Invalidate(nil)
	}
	if emu.RefreshTokenValid(testRefreshToken) {
		t.Error("the first refresh token is still valid")
	}
	r := fixture.LastRequest(t, emu, "/v1/oauthtoken")
	if r.Form.Get("grant_type") != "refresh_token" || r.Form.Get("refresh_token") != rotated[1] {
		t.Errorf("last grant used %q, want the second rotated token", r.Form.Get("refresh_token"))
	}
	if id, secret, ok := basicAuthOf(r.Header); !ok || id != testClientID || secret != testClientSecret {
		t.Error("no Basic client authentication")
	}
	if r.Form.Has("scope") || r.Form.Has("client_secret") {
		t.Errorf("unexpected form fields: %v", r)
	}
}

// TestAuthorizedUserFileErrors checks a file's client, refresh token and
// endpoint, and the server's refusals at token time.
func TestAuthorizedUserFileErrors(t *testing.T) {
	emu := newOAuthEmulator(t)
	load := func(rt, secret string) *sts.CachedTokenSource {
		t.Helper()
		m := authorizedUserFile(t, emu)
		m["refresh_token"], m["client_secret"] = rt, secret
		c, err := Load(encodeMap(t, m), Options{HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()}})
		if err != nil {
			t.Fatal(err)
		}
		return c.TokenSource()
	}
	check := func(err error, status int, code string) {
		t.Helper()
		var se *sts.Error
		if !errors.As(err, &se) || se.Op != "refresh" || se.StatusCode != status || se.Code != code || se.Temporary() {
			t.Errorf("error = %v, want refresh %d %s permanent", err, status, code)
		}
		for _, s := range []string{err.Error(), fmt.Sprintf("%+v %#v", err, err)} {
			if strings.Contains(s, "SECRET") {
				t.Errorf("error leaks a secret: %s", s)
			}
		}
	}
	_, err := load("SECRET-unknown-refresh", testClientSecret).Token()
	check(err, 400, "invalid_grant")
	_, err = load(testRefreshToken, "SECRET-wrong").Token()
	check(err, 401, "invalid_client")

	for _, tc := range []struct {
		key   string
		value any
		opts  Options
		field string
	}{
		{"refresh_token", fixture.Del{}, Options{}, "refresh_token"},
		{"client_id", fixture.Del{}, Options{}, "client_id"},
		{"client_secret", fixture.Del{}, Options{}, "client_secret"},
		{"token_url", "http://sts.example.com/v1/oauthtoken", Options{}, "token_url"},
		{"universe_domain", "x", Options{}, "universe_domain"},
		{"audience", "//iam.googleapis.com/bad audience", Options{}, "audience"},
		{"client_id", "corp\ncli", Options{}, "client_id"},
		{"token_info_url", "http://sts.example.com/v1/introspect", Options{}, "token_info_url"},
		{"revoke_url", "http://sts.example.com/v1/revoke", Options{}, "revoke_url"},
		{"quota_project_id", "my project", Options{}, "quota_project_id"},
		{"universe_domain", "example.com", Options{HTTPOptions: sts.HTTPOptions{Timeout: -1}}, "credfile.Options.Timeout"},
		{"universe_domain", "example.com", Options{HTTPOptions: sts.HTTPOptions{Retry: sts.RetryPolicy{MaxAttempts: -1}}}, "credfile.Options.Retry.MaxAttempts"},
	} {
		m := authorizedUserFile(t, emu)
		if _, ok := tc.value.(fixture.Del); ok {
			delete(m, tc.key)
		} else {
			m[tc.key] = tc.value
		}
		_, err := Load(encodeMap(t, m), tc.opts)
		wantField(t, err, tc.field)
	}
}

// TestAuthorizedUserRefreshAhead renews a refreshed token in the background
// in virtual time, following a rotation.
func TestAuthorizedUserRefreshAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := ststest.NewInMemoryServer(ststest.Options{ClientID: testClientID, ClientSecret: testClientSecret})
		defer emu.Close()
		emu.AddRefreshToken(testRefreshToken, testClientID)
		emu.SetRefreshTokenRotation(true)
		var rotated []string
		c, err := Load(encodeMap(t, authorizedUserFile(t, emu)), Options{
			HTTPOptions:           sts.HTTPOptions{HTTPClient: emu.Client()},
			OnRefreshTokenRotated: func(tok string) { rotated = append(rotated, tok) },
			Cache:                 sts.CacheOptions{Jitter: -1},
		})
		if err != nil {
			t.Fatal(err)
		}
		ts := c.TokenSource()
		first, err := ts.Token()
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Minute)
		if tok, _ := ts.Token(); tok != first {
			t.Fatal("stale token not served while renewing")
		}
		synctest.Wait()
		second, _ := ts.Token()
		if second == first || len(rotated) != 2 || !emu.RefreshTokenValid(rotated[1]) {
			t.Errorf("renewed %t, rotations %d", second != first, len(rotated))
		}
	})
}
