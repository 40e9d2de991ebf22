package refreshgrant

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/ststest"
	"net/http"
	"net/http/httptest"
)

// TestMain fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testClientID     = fixture.UserClientID
	testClientSecret = fixture.UserClientSecret
	testRefreshToken = fixture.UserRefreshToken
)

var newOAuthEmulator = fixture.NewOAuthEmulator

func newRefresher(emu *ststest.Server, rt, secret string, onRotate func(string)) *Refresher {
	return New(Config{RefreshToken: rt, ClientID: testClientID, ClientSecret: secret,
		TokenURL: emu.URL + "/v1/oauthtoken", OnRotate: onRotate, HTTP: httpx.Options{Client: emu.Client(), APIClient: APIClient()}})
}

func TestRefresherConcurrentRotation(t *testing.T) {
	emu := newOAuthEmulator(t)
	emu.SetRefreshTokenRotation(true)
	var hooks sync.Map
	r := newRefresher(emu, testRefreshToken, testClientSecret, func(tok string) { hooks.Store(tok, true) })
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
	r := newRefresher(emu, testRefreshToken, testClientSecret, func(string) { panic("hook") })
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

// TestRefresherErrors checks the server's refusals come back as permanent
// refresh errors without a secret.
func TestRefresherErrors(t *testing.T) {
	emu := newOAuthEmulator(t)
	check := func(err error, status int, code string) {
		t.Helper()
		var he *httpx.Error
		if !errors.As(err, &he) || he.Op != "refresh" || he.StatusCode != status || he.Code != code || he.Temporary() {
			t.Errorf("error = %v, want refresh %d %s permanent", err, status, code)
		}
		for _, s := range []string{err.Error(), fmt.Sprintf("%+v %#v", err, err)} {
			if strings.Contains(s, "SECRET") {
				t.Errorf("error leaks a secret: %s", s)
			}
		}
	}
	_, err := newRefresher(emu, "SECRET-unknown-refresh", testClientSecret, nil).Token()
	check(err, 400, "invalid_grant")
	_, err = newRefresher(emu, testRefreshToken, "SECRET-wrong", nil).Token()
	check(err, 401, "invalid_client")
	// A refresh token issued to another client.
	emu.AddRefreshToken("SECRET-other-client-rt", "other-client")
	_, err = newRefresher(emu, "SECRET-other-client-rt", testClientSecret, nil).Token()
	check(err, 400, "invalid_grant")
	// Formatting shows no secret either.
	r := newRefresher(emu, testRefreshToken, testClientSecret, nil)
	if s := fmt.Sprintf("%v %+v %#v %s", r, r, r, r); strings.Contains(s, "SECRET") {
		t.Errorf("formatting leaks a secret: %s", s)
	}
}

// TestRefresherWaitHonoursContext checks a caller waiting behind a running
// grant stops when its context ends.
func TestRefresherWaitHonoursContext(t *testing.T) {
	emu := newOAuthEmulator(t)
	r := newRefresher(emu, testRefreshToken, testClientSecret, nil)
	r.grant <- struct{}{} // a grant in progress
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.TokenContext(ctx)
	var he *httpx.Error
	if !errors.As(err, &he) || !errors.Is(err, context.Canceled) {
		t.Errorf("waiting caller: %v", err)
	}
	<-r.grant
	if _, err := r.Token(); err != nil {
		t.Errorf("after the grant: %v", err)
	}
}

// TestRevoke: Revoke sends the refresh token in use (after a rotation, the
// rotated one) with the client's credentials; every later grant fails with
// invalid_grant. A wrong client is refused; errors quote no secret.
func TestRevoke(t *testing.T) {
	emu := newOAuthEmulator(t)
	emu.SetRefreshTokenRotation(true)
	r := newRefresher(emu, testRefreshToken, testClientSecret, nil)
	if _, err := r.TokenContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	rotated := r.RefreshToken()
	if rotated == testRefreshToken {
		t.Fatal("no rotation")
	}
	if err := r.Revoke(context.Background(), emu.RevokeURL()); err != nil {
		t.Fatal(err)
	}
	if emu.RefreshTokenValid(rotated) {
		t.Error("the rotated refresh token is still valid")
	}
	var last ststest.Request
	for _, req := range emu.Requests() {
		if req.Path == "/v1/revoke" {
			last = req
		}
	}
	if last.Form.Get("token_type_hint") != "refresh_token" || last.Form.Get("token") != rotated || last.Header.Get("Authorization") == "" {
		t.Errorf("revocation request lacks the rotated token, the hint or the client's credentials")
	}
	_, err := r.TokenContext(context.Background())
	var he *httpx.Error
	if !errors.As(err, &he) || he.Code != "invalid_grant" {
		t.Fatalf("refresh after revocation: %v; want invalid_grant", err)
	}

	other := newRefresher(emu, testRefreshToken+"-unknown", "wrong-secret", nil)
	rerr := other.Revoke(context.Background(), emu.RevokeURL())
	if rerr == nil || rerr.StatusCode != 401 {
		t.Fatalf("wrong client: %v", rerr)
	}
	if strings.Contains(rerr.Error(), testRefreshToken) || strings.Contains(rerr.Error(), "wrong-secret") {
		t.Errorf("error quotes a secret: %v", rerr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Revoke(ctx, emu.RevokeURL()); err == nil {
		t.Error("cancelled revocation succeeded")
	}
}

// TestRefresherRefusesNoLifetime: an answer without expires_in is refused
// (it would be cached forever), and a revocation waiting behind a running
// grant stops with its context.
func TestRefresherRefusesNoLifetime(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"ya29.no-lifetime","token_type":"Bearer"}`)
	}))
	defer srv.Close()
	r := New(Config{RefreshToken: testRefreshToken, ClientID: testClientID, ClientSecret: testClientSecret,
		TokenURL: srv.URL, HTTP: httpx.Options{Client: srv.Client(), APIClient: APIClient()}})
	_, err := r.Token()
	var he *httpx.Error
	if !errors.As(err, &he) || he.Op != "refresh" || !errors.Is(err, httpx.ErrNoExpiresIn) {
		t.Errorf("no expires_in: %v", err)
	}
	r.grant <- struct{}{} // a grant in progress
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Revoke(ctx, srv.URL); err == nil || err.Op != "revoke" || !errors.Is(err, context.Canceled) {
		t.Errorf("waiting revocation: %v", err)
	}
	<-r.grant
}
