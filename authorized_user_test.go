package sts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stsgo/sts/ststest"
)

const (
	testClientID     = "corp-cli-client"
	testClientSecret = "SECRET-cli-client-secret"
	testRefreshToken = "SECRET-refresh-token-first"
)

func newOAuthEmulator(t *testing.T) *ststest.Server {
	t.Helper()
	emu := ststest.NewServer(ststest.Options{ClientID: testClientID, ClientSecret: testClientSecret})
	t.Cleanup(emu.Close)
	emu.AddRefreshToken(testRefreshToken, testClientID)
	return emu
}

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
	c, err := LoadCredentials(encodeMap(t, authorizedUserFile(t, emu)), LoadOptions{
		HTTPOptions: HTTPOptions{HTTPClient: emu.Client()},
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
	r := lastRequest(t, emu, "/v1/oauthtoken")
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

func TestRefresherConcurrentRotation(t *testing.T) {
	emu := newOAuthEmulator(t)
	emu.SetRefreshTokenRotation(true)
	var hooks sync.Map
	r, err := NewRefresher(AuthorizedUserConfig{
		RefreshToken: testRefreshToken, ClientID: testClientID, ClientSecret: testClientSecret,
		TokenURL: emu.URL + "/v1/oauthtoken", HTTPOptions: HTTPOptions{HTTPClient: emu.Client()},
		OnRefreshTokenRotated: func(tok string) { hooks.Store(tok, true) },
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			if _, err := r.TokenContext(context.Background()); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent refresh: %v", err)
	}
	if cur := r.RefreshToken(); !emu.RefreshTokenValid(cur) {
		t.Error("RefreshToken is not the server's current token")
	} else if _, ok := hooks.Load(cur); !ok {
		t.Error("the current token was not reported")
	}
}

func TestRefresherHookPanicKeepsToken(t *testing.T) {
	emu := newOAuthEmulator(t)
	emu.SetRefreshTokenRotation(true)
	r, err := NewRefresher(AuthorizedUserConfig{
		RefreshToken: testRefreshToken, ClientID: testClientID, ClientSecret: testClientSecret,
		TokenURL: emu.URL + "/v1/oauthtoken", HTTPOptions: HTTPOptions{HTTPClient: emu.Client()},
		OnRefreshTokenRotated: func(string) { panic("hook") },
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Token(); err != nil {
		t.Fatal(err)
	}
	if !emu.RefreshTokenValid(r.RefreshToken()) {
		t.Error("rotated token lost after a hook panic")
	}
	// Without rotation the token stays and the hook is not called.
	emu.SetRefreshTokenRotation(false)
	before := r.RefreshToken()
	if _, err := r.Token(); err != nil || r.RefreshToken() != before {
		t.Errorf("non-rotating refresh: %v, token changed %t", err, r.RefreshToken() != before)
	}
}

func TestAuthorizedUserErrors(t *testing.T) {
	emu := newOAuthEmulator(t)
	newR := func(rt, secret string) *Refresher {
		t.Helper()
		r, err := NewRefresher(AuthorizedUserConfig{RefreshToken: rt, ClientID: testClientID, ClientSecret: secret,
			TokenURL: emu.URL + "/v1/oauthtoken", HTTPOptions: HTTPOptions{HTTPClient: emu.Client()}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	check := func(err error, status int, code string) {
		t.Helper()
		var se *Error
		if !errors.As(err, &se) || se.Op != "refresh" || se.StatusCode != status || se.Code != code || se.Temporary() {
			t.Errorf("error = %v, want refresh %d %s permanent", err, status, code)
		}
		for _, s := range []string{err.Error(), fmt.Sprintf("%+v %#v", err, err)} {
			if strings.Contains(s, "SECRET") {
				t.Errorf("error leaks a secret: %s", s)
			}
		}
	}
	_, err := newR("SECRET-unknown-refresh", testClientSecret).Token()
	check(err, 400, "invalid_grant")
	_, err = newR(testRefreshToken, "SECRET-wrong").Token()
	check(err, 401, "invalid_client")
	// A refresh token issued to another client.
	emu.AddRefreshToken("SECRET-other-client-rt", "other-client")
	_, err = newR("SECRET-other-client-rt", testClientSecret).Token()
	check(err, 400, "invalid_grant")

	for _, tc := range []struct {
		cfg   AuthorizedUserConfig
		field string
	}{
		{AuthorizedUserConfig{ClientID: "a", ClientSecret: "b"}, "AuthorizedUserConfig.RefreshToken"},
		{AuthorizedUserConfig{RefreshToken: "r", ClientSecret: "b"}, "AuthorizedUserConfig.ClientID"},
		{AuthorizedUserConfig{RefreshToken: "r", ClientID: "a"}, "AuthorizedUserConfig.ClientSecret"},
		{AuthorizedUserConfig{RefreshToken: "r", ClientID: "a", ClientSecret: "b", TokenURL: "http://sts.example.com/v1/oauthtoken"}, "AuthorizedUserConfig.TokenURL"},
		{AuthorizedUserConfig{RefreshToken: "r", ClientID: "a", ClientSecret: "b", UniverseDomain: "x"}, "AuthorizedUserConfig.UniverseDomain"},
		{AuthorizedUserConfig{RefreshToken: "r", ClientID: "a", ClientSecret: "b", HTTPOptions: HTTPOptions{Timeout: -1}}, "AuthorizedUserConfig.Timeout"},
		{AuthorizedUserConfig{RefreshToken: "r", ClientID: "a", ClientSecret: "b", HTTPOptions: HTTPOptions{Retry: RetryPolicy{MaxAttempts: -1}}}, "AuthorizedUserConfig.Retry.MaxAttempts"},
	} {
		_, err := NewAuthorizedUserTokenSource(tc.cfg)
		wantField(t, err, tc.field)
	}
}

// TestRefresherWaitHonoursContext checks a caller waiting behind a running
// grant stops when its context ends.
func TestRefresherWaitHonoursContext(t *testing.T) {
	emu := newOAuthEmulator(t)
	r, err := NewRefresher(AuthorizedUserConfig{RefreshToken: testRefreshToken, ClientID: testClientID, ClientSecret: testClientSecret,
		TokenURL: emu.URL + "/v1/oauthtoken", HTTPOptions: HTTPOptions{HTTPClient: emu.Client()}})
	if err != nil {
		t.Fatal(err)
	}
	r.grant <- struct{}{} // a grant in progress
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = r.TokenContext(ctx)
	var se *Error
	if !errors.As(err, &se) || !errors.Is(err, context.Canceled) {
		t.Errorf("waiting caller: %v", err)
	}
	<-r.grant
	if _, err := r.Token(); err != nil {
		t.Errorf("after the grant: %v", err)
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
		ts, err := NewAuthorizedUserTokenSource(AuthorizedUserConfig{
			RefreshToken: testRefreshToken, ClientID: testClientID, ClientSecret: testClientSecret,
			TokenURL: emu.URL + "/v1/oauthtoken", HTTPOptions: HTTPOptions{HTTPClient: emu.Client()},
			OnRefreshTokenRotated: func(tok string) { rotated = append(rotated, tok) },
			Cache:                 CacheOptions{Jitter: -1},
		})
		if err != nil {
			t.Fatal(err)
		}
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
