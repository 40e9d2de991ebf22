package login

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/credfile"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/loopback"
	"github.com/stsgo/sts/ststest"
)

const (
	loginAud      = "//iam.googleapis.com/locations/global/workforcePools/wf-pool/providers/wf-prov"
	loginClientID = "login-client.apps.example"
	loginSecret   = "login-client-secret-7777"
)

func newLoginServer(t *testing.T) *ststest.Server {
	t.Helper()
	srv := ststest.NewServer(ststest.Options{ClientID: loginClientID, ClientSecret: loginSecret})
	t.Cleanup(srv.Close)
	return srv
}

func loginConfig(srv *ststest.Server, open func(string) error) Config {
	return Config{
		Audience: loginAud, ClientID: loginClientID, ClientSecret: loginSecret,
		AuthURL: srv.AuthorizeURL(), TokenURL: srv.OAuthTokenURL(), TokenInfoURL: srv.IntrospectURL(),
		HTTPOptions: sts.HTTPOptions{HTTPClient: srv.Client()}, OpenURL: open, Output: io.Discard,
	}
}

// browser follows the authorization URL and its redirect to the listener,
// as a browser would, and returns the listener's page.
func browser(t *testing.T, client *http.Client) (func(string) error, func() (int, string)) {
	var mu sync.Mutex
	var status int
	var page string
	open := func(u string) error {
		resp, err := client.Get(u)
		if err != nil {
			t.Errorf("browser: %v", err)
			return nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		mu.Lock()
		status, page = resp.StatusCode, string(b)
		mu.Unlock()
		return nil
	}
	return open, func() (int, string) { mu.Lock(); defer mu.Unlock(); return status, page }
}

// noFollow is a client that stops at the first redirect.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// noFollowVia is c, stopping at the first redirect.
func noFollowVia(c *http.Client) *http.Client {
	return &http.Client{Transport: c.Transport, CheckRedirect: noFollow.CheckRedirect}
}

// visit GETs u with client, as a browser would, and returns the status.
func visit(client *http.Client, u string) (int, error) {
	resp, err := client.Get(u)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// authorizeOnly asks the emulator for a code and returns the redirect URL
// the browser would go to next.
func authorizeOnly(t *testing.T, client *http.Client, authURL string) *url.URL {
	t.Helper()
	resp, err := client.Get(authURL)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: status %d", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestLoginHappyPath(t *testing.T) {
	srv := newLoginServer(t)
	var authURL string
	open, page := browser(t, http.DefaultClient)
	cfg := loginConfig(srv, func(u string) error { authURL = u; return open(u) })
	cfg.QuotaProjectID = "quota-proj"
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st, p := page(); st != 200 || !strings.Contains(p, "Sign-in received") {
		t.Errorf("browser page: %d %q", st, p)
	}

	// The authorization URL has gcloud's shape.
	u, _ := url.Parse(authURL)
	q := u.Query()
	if u.Scheme+"://"+u.Host+u.Path != srv.AuthorizeURL() {
		t.Errorf("auth URL %s", u.Redacted())
	}
	for k, want := range map[string]string{
		"client_id": loginClientID, "response_type": "code", "scope": sts.CloudPlatformScope, "access_type": "offline",
		"code_challenge_method": "S256", "provider_name": "locations/global/workforcePools/wf-pool/providers/wf-prov",
	} {
		if q.Get(k) != want {
			t.Errorf("auth URL %s = %q, want %q", k, q.Get(k), want)
		}
	}
	if !regexp.MustCompile(`^http://127\.0\.0\.1:[0-9]+/callback$`).MatchString(q.Get("redirect_uri")) {
		t.Errorf("redirect_uri %q", q.Get("redirect_uri"))
	}
	if len(q.Get("state")) < 32 || len(q.Get("code_challenge")) != 43 {
		t.Errorf("state %q challenge %q", q.Get("state"), q.Get("code_challenge"))
	}

	// The exchange used PKCE, Basic client auth, and the same redirect_uri.
	var ex ststest.Request
	for _, r := range srv.Requests() {
		if r.Path == "/v1/oauthtoken" {
			ex = r
		}
	}
	f := ex.Form
	sum := sha256.Sum256([]byte(f.Get("code_verifier")))
	if f.Get("grant_type") != "authorization_code" || f.Get("code") == "" || f.Get("redirect_uri") != q.Get("redirect_uri") ||
		base64.RawURLEncoding.EncodeToString(sum[:]) != q.Get("code_challenge") {
		t.Errorf("exchange form %v", ex)
	}
	if id, secret, ok := (&http.Request{Header: ex.Header}).BasicAuth(); !ok || id != loginClientID || secret != loginSecret {
		t.Errorf("exchange not Basic-authenticated")
	}

	// The tokens are real emulator tokens.
	if res.Token.RefreshToken == "" || res.IDToken == "" || res.Token.Expiry.IsZero() {
		t.Errorf("token %v", res)
	}
	if !srv.RefreshTokenValid(res.Token.RefreshToken) {
		t.Error("refresh token unknown to the emulator")
	}
	in, err := sts.Introspect(context.Background(), res.Token.AccessToken,
		sts.IntrospectOptions{URL: srv.IntrospectURL(), ClientID: loginClientID, ClientSecret: loginSecret})
	if err != nil || !in.Active || in.ClientID != loginClientID || in.Username != ststest.DefaultLoginUser {
		t.Errorf("introspection %v, %v", in, err)
	}

	// The credential file.
	path := filepath.Join(t.TempDir(), "sub", "creds.json")
	if err := res.WriteCredentialsFile(path); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v, %v", st.Mode(), err)
	}
	raw, _ := os.ReadFile(path)
	var file map[string]string
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"type": "external_account_authorized_user", "audience": loginAud, "client_id": loginClientID,
		"client_secret": loginSecret, "refresh_token": res.Token.RefreshToken, "token_url": srv.OAuthTokenURL(),
		"token_info_url": srv.IntrospectURL(), "revoke_url": "https://sts.googleapis.com/v1/revoke",
		"quota_project_id": "quota-proj", "universe_domain": "googleapis.com",
	}
	if fmt.Sprint(file) != fmt.Sprint(want) {
		t.Errorf("file\n got %v\nwant %v", file, want)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}

	// The loader reads the file back; its token source refreshes with the
	// refresh token, and the refreshed token introspects as the same user.
	creds, err := credfile.LoadFile(path, credfile.Options{HTTPOptions: sts.HTTPOptions{HTTPClient: srv.Client()}})
	if err != nil {
		t.Fatal(err)
	}
	if creds.Type() != credfile.TypeExternalAccountAuthorizedUser || creds.Audience() != loginAud || creds.TokenInfoURL() != srv.IntrospectURL() ||
		creds.QuotaProjectID() != "quota-proj" {
		t.Errorf("loaded %v", creds)
	}
	refreshed, err := creds.TokenSource().Token()
	if err != nil {
		t.Fatal(err)
	}
	if info, ok := srv.Lookup(refreshed.AccessToken); !ok || info.Kind != "refreshed" {
		t.Errorf("not a refreshed token: %v", info)
	}
	in, err = creds.Introspect(context.Background())
	if err != nil || !in.Active || in.Username != ststest.DefaultLoginUser {
		t.Errorf("introspect loaded credentials: %v, %v", in, err)
	}
	var introReq ststest.Request
	for _, r := range srv.Requests() {
		if r.Path == "/v1/introspect" {
			introReq = r
		}
	}
	if id, secret, ok := (&http.Request{Header: introReq.Header}).BasicAuth(); !ok || id != loginClientID || secret != loginSecret ||
		introReq.Form.Get("token") != refreshed.AccessToken {
		t.Errorf("introspection of loaded credentials: %v", introReq)
	}

	// Nothing secret in String or %v.
	for _, s := range []string{res.String(), fmt.Sprintf("%v %#v %v %#v", res, res, cfg, cfg), fmt.Sprintf("%v %+v", *res, *res)} {
		for _, secret := range []string{res.Token.AccessToken, res.Token.RefreshToken, loginSecret, f.Get("code"), f.Get("code_verifier")} {
			if strings.Contains(s, secret) {
				t.Errorf("secret in %q", s)
			}
		}
	}

	// The listener is gone.
	if _, err := http.Get(q.Get("redirect_uri")); err == nil {
		t.Error("listener still up after Login returned")
	}

	// Reusing the code fails, even with the right verifier.
	req, _ := http.NewRequest(http.MethodPost, srv.OAuthTokenURL(), strings.NewReader(url.Values{"grant_type": {"authorization_code"},
		"code": {f.Get("code")}, "code_verifier": {f.Get("code_verifier")}, "redirect_uri": {f.Get("redirect_uri")}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(loginClientID, loginSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "invalid_grant") || !strings.Contains(string(body), "already used") {
		t.Errorf("reused code: %d %s", resp.StatusCode, body)
	}
}

func wantLoginError(t *testing.T, err error, code, text string) {
	t.Helper()
	var se *sts.Error
	if !errors.As(err, &se) || se.Op != "login" {
		t.Fatalf("got %T %v, want *sts.Error with Op login", err, err)
	}
	if se.Code != code || !strings.Contains(err.Error(), text) {
		t.Errorf("got %v (code %q), want code %q and text %q", err, se.Code, code, text)
	}
	if strings.Contains(err.Error(), loginSecret) {
		t.Errorf("secret in %q", err)
	}
}

func TestLoginBadVerifier(t *testing.T) {
	srv := newLoginServer(t)
	cfg := loginConfig(srv, func(u string) error {
		// A code bound to another challenge: the verifier Login holds no
		// longer matches.
		pu, _ := url.Parse(u)
		q := pu.Query()
		sum := sha256.Sum256([]byte(strings.Repeat("x", 43)))
		q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
		pu.RawQuery = q.Encode()
		_, err := visit(http.DefaultClient, pu.String())
		return err
	})
	_, err := Run(context.Background(), cfg)
	wantLoginError(t, err, "invalid_grant", "code_verifier does not match")
	var se *sts.Error
	if errors.As(err, &se) && (se.StatusCode != 400 || se.Temporary()) {
		t.Errorf("status %d temporary %t", se.StatusCode, se.Temporary())
	}
}

// foreignCallbacks are requests to the redirect listener that do not belong
// to the sign-in in progress, built from the genuine redirect loc: each is
// answered with its status and none may end the sign-in.
func foreignCallbacks(loc *url.URL) []struct {
	name, method, url string
	status            int
} {
	q := loc.Query()
	state, code := q.Get("state"), q.Get("code")
	with := func(v url.Values) string {
		u := *loc
		u.RawQuery = v.Encode()
		return u.String()
	}
	raw := func(query string) string {
		u := *loc
		u.RawQuery = query
		return u.String()
	}
	root := *loc
	root.Path, root.RawQuery = "/favicon.ico", ""
	return []struct {
		name, method, url string
		status            int
	}{
		{"no query", http.MethodGet, raw(""), http.StatusBadRequest},
		{"code without state", http.MethodGet, with(url.Values{"code": {code}}), http.StatusBadRequest},
		{"empty state", http.MethodGet, with(url.Values{"code": {code}, "state": {""}}), http.StatusBadRequest},
		{"forged state", http.MethodGet, with(url.Values{"code": {"forged-code"}, "state": {"forged-state"}}), http.StatusBadRequest},
		{"forged state with error", http.MethodGet, with(url.Values{"error": {"access_denied"}, "state": {"forged-state"}}), http.StatusBadRequest},
		{"error without state", http.MethodGet, with(url.Values{"error": {"access_denied"}, "error_description": {"cancelled"}}), http.StatusBadRequest},
		{"right and forged state", http.MethodGet, raw("code=" + url.QueryEscape(code) + "&state=" + url.QueryEscape(state) + "&state=forged"), http.StatusBadRequest},
		{"forged and right state", http.MethodGet, raw("code=" + url.QueryEscape(code) + "&state=forged&state=" + url.QueryEscape(state)), http.StatusBadRequest},
		{"state twice", http.MethodGet, raw("code=" + url.QueryEscape(code) + "&state=" + url.QueryEscape(state) + "&state=" + url.QueryEscape(state)), http.StatusBadRequest},
		{"state prefix", http.MethodGet, with(url.Values{"code": {code}, "state": {state[:len(state)-1]}}), http.StatusBadRequest},
		{"state with suffix", http.MethodGet, with(url.Values{"code": {code}, "state": {state + "x"}}), http.StatusBadRequest},
		{"state with NUL", http.MethodGet, with(url.Values{"code": {code}, "state": {state + "\x00"}}), http.StatusBadRequest},
		{"state in upper case", http.MethodGet, with(url.Values{"code": {code}, "state": {strings.ToUpper(state) + "!"}}), http.StatusBadRequest},
		{"POST with the right state", http.MethodPost, loc.String(), http.StatusNotFound},
		{"another path", http.MethodGet, root.String(), http.StatusNotFound},
	}
}

// bubbleLogin returns an in-memory emulator (closed when the test ends) and
// a sign-in configuration for it whose browser gets a code from the
// emulator and hands the redirect it would follow, with the in-memory
// redirect listener, to browse.
func bubbleLogin(t *testing.T, browse func(ln *fixture.PipeListener, loc *url.URL) error) (*ststest.Server, Config) {
	srv := ststest.NewInMemoryServer(ststest.Options{ClientID: loginClientID, ClientSecret: loginSecret})
	t.Cleanup(srv.Close)
	ln := fixture.NewPipeListener(8085)
	cfg := loginConfig(srv, func(u string) error {
		return browse(ln, authorizeOnly(t, noFollowVia(srv.Client()), u))
	})
	cfg.Listener = ln
	return srv, cfg
}

// TestLoginIgnoresForeignState: requests without this sign-in's state
// (missing, forged, repeated, an error redirect) get an error page and do
// not end the sign-in; the genuine redirect after them completes it.
func TestLoginIgnoresForeignState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, cfg := bubbleLogin(t, func(ln *fixture.PipeListener, loc *url.URL) error {
			for _, bad := range foreignCallbacks(loc) {
				req, _ := http.NewRequest(bad.method, bad.url, nil)
				resp, err := ln.Client().Do(req)
				if err != nil {
					t.Errorf("%s: %v", bad.name, err)
					continue
				}
				page, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != bad.status {
					t.Errorf("%s: status %d, want %d", bad.name, resp.StatusCode, bad.status)
				}
				if strings.Contains(string(page), loc.Query().Get("state")) || strings.Contains(string(page), loc.Query().Get("code")) {
					t.Errorf("%s: the page quotes the state or the code", bad.name)
				}
			}
			status, err := visit(ln.Client(), loc.String())
			if err == nil && status != http.StatusOK {
				t.Errorf("genuine redirect: status %d", status)
			}
			return err
		})
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatalf("a foreign request ended the sign-in: %v", err)
		}
		if res.Token.RefreshToken == "" {
			t.Error("no refresh token")
		}
		if n := srv.Count("/v1/oauthtoken"); n != 1 {
			t.Errorf("%d code exchanges, want 1", n)
		}
	})
}

// TestLoginForeignStateUntilDeadline: only foreign requests arrive; the
// sign-in ends at its deadline, not at the first of them.
func TestLoginForeignStateUntilDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, cfg := bubbleLogin(t, func(ln *fixture.PipeListener, loc *url.URL) error {
			go func() {
				for _, bad := range foreignCallbacks(loc) {
					time.Sleep(time.Minute)
					req, _ := http.NewRequest(bad.method, bad.url, nil)
					if resp, err := ln.Client().Do(req); err == nil {
						resp.Body.Close()
					}
				}
			}()
			return nil
		})
		cfg.SignInTimeout = 20 * time.Minute
		start := time.Now()
		_, err := Run(context.Background(), cfg)
		wantLoginError(t, err, "", "no sign-in within 20m0s")
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != cfg.SignInTimeout {
			t.Errorf("ended after %v: %v", time.Since(start), err)
		}
		if n := srv.Count("/v1/oauthtoken"); n != 0 {
			t.Errorf("%d code exchanges", n)
		}
	})
}

func TestLoginSingleUseListener(t *testing.T) {
	srv := newLoginServer(t)
	var second int
	cfg := loginConfig(srv, func(u string) error {
		loc := authorizeOnly(t, noFollow, u)
		if _, err := visit(http.DefaultClient, loc.String()); err != nil {
			return err
		}
		var err error
		second, err = visit(http.DefaultClient, loc.String())
		return err
	})
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if second != http.StatusGone {
		t.Errorf("second redirect got %d", second)
	}
	if n := srv.Count("/v1/oauthtoken"); n != 1 {
		t.Errorf("%d code exchanges", n)
	}
}

func TestLoginErrorRedirect(t *testing.T) {
	srv := newLoginServer(t)
	cfg := loginConfig(srv, func(u string) error {
		pu, _ := url.Parse(u)
		q := pu.Query()
		cb, _ := url.Parse(q.Get("redirect_uri"))
		cb.RawQuery = url.Values{"error": {"access_denied"}, "error_description": {"user said\nno"}, "state": {q.Get("state")}}.Encode()
		_, err := visit(http.DefaultClient, cb.String())
		return err
	})
	_, err := Run(context.Background(), cfg)
	wantLoginError(t, err, "access_denied", "user said no")
}

func TestLoginCancelled(t *testing.T) {
	srv := newLoginServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cfg := loginConfig(srv, func(string) error { cancel(); return nil })
	_, err := Run(ctx, cfg)
	wantLoginError(t, err, "", "waiting for the browser")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("not context.Canceled: %v", err)
	}
}

func TestLoginExpiredCode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, cfg := bubbleLogin(t, func(ln *fixture.PipeListener, loc *url.URL) error {
			time.Sleep(ststest.AuthorizationCodeLifetime + time.Second)
			_, err := visit(ln.Client(), loc.String())
			return err
		})
		_, err := Run(context.Background(), cfg)
		wantLoginError(t, err, "invalid_grant", "expired")
	})
}

func TestLoginInBubbleHappyAndTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, cfg := bubbleLogin(t, func(ln *fixture.PipeListener, loc *url.URL) error {
			time.Sleep(ststest.AuthorizationCodeLifetime - time.Second)
			_, err := visit(ln.Client(), loc.String())
			return err
		})
		if _, err := Run(context.Background(), cfg); err != nil {
			t.Fatalf("code redeemed just in time: %v", err)
		}

		// Nobody comes back from the browser: the wait is bounded.
		cfg = loginConfig(srv, func(string) error { return nil })
		cfg.Listener = fixture.NewPipeListener(8085)
		start := time.Now()
		_, err := Run(context.Background(), cfg)
		wantLoginError(t, err, "", "no sign-in within 10m0s")
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != defaultSignInTimeout {
			t.Errorf("waited %v: %v", time.Since(start), err)
		}
	})
}

// urlCatcher is an Output that follows the printed URL in a browser.
type urlCatcher struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
	t    *testing.T
}

func (c *urlCatcher) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	if m := regexp.MustCompile(`https?://\S+`).FindString(c.buf.String()); m != "" && c.done == nil {
		c.done = make(chan struct{})
		go func() {
			defer close(c.done)
			resp, err := http.Get(m)
			if err != nil {
				c.t.Errorf("browser: %v", err)
				return
			}
			resp.Body.Close()
		}()
	}
	return len(p), nil
}

func TestLoginPrintsURL(t *testing.T) {
	srv := newLoginServer(t)
	for _, failing := range []bool{false, true} {
		out := &urlCatcher{t: t}
		cfg := loginConfig(srv, nil)
		if failing {
			cfg.OpenURL = func(string) error { return errors.New("no browser") }
		}
		cfg.Output = out
		if _, err := Run(context.Background(), cfg); err != nil {
			t.Fatalf("failing=%t: %v", failing, err)
		}
		<-out.done
		if !strings.Contains(out.buf.String(), "Go to the following link") {
			t.Errorf("output %q", out.buf.String())
		}
	}
}

func TestLoginExchangeFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fault  ststest.Fault
		code   string
		text   string
		status int
	}{
		{"server error", ststest.Fault{Path: "/v1/oauthtoken", Status: 503, HTML: true}, "", "Service Unavailable", 503},
		{"no refresh token", ststest.Fault{Path: "/v1/oauthtoken", Status: 200, Body: `{"access_token":"at-1","token_type":"Bearer","expires_in":3600}`}, "", "no refresh_token", 200},
		{"not bearer", ststest.Fault{Path: "/v1/oauthtoken", Status: 200, Body: `{"access_token":"at-1","refresh_token":"rt-1","token_type":"MAC"}`}, "", "not Bearer", 200},
		{"no expires_in", ststest.Fault{Path: "/v1/oauthtoken", Status: 200, Body: `{"access_token":"at-1","refresh_token":"rt-1","token_type":"Bearer"}`}, "", "no expires_in", 200},
		{"null expires_in", ststest.Fault{Path: "/v1/oauthtoken", Status: 200, Body: `{"access_token":"at-1","refresh_token":"rt-1","token_type":"Bearer","expires_in":null,"id_token":"x.y.z"}`}, "", "no expires_in", 200},
		{"camelCase expiresIn", ststest.Fault{Path: "/v1/oauthtoken", Status: 200, Body: `{"access_token":"at-1","refresh_token":"rt-1","expiresIn":3600}`}, "", "no expires_in", 200},
		{"fraction expires_in", ststest.Fault{Path: "/v1/oauthtoken", Status: 200, Body: `{"access_token":"at-1","refresh_token":"rt-1","expires_in":3599.0}`}, "", "not an integer", 200},
		{"hex float expires_in", ststest.Fault{Path: "/v1/oauthtoken", Status: 200, Body: `{"access_token":"at-1","refresh_token":"rt-1","expires_in":"0x1p12"}`}, "", "not an integer", 200},
		{"exponent expires_in", ststest.Fault{Path: "/v1/oauthtoken", Status: 200, Body: `{"access_token":"at-1","refresh_token":"rt-1","expires_in":3.6e3}`}, "", "not an integer", 200},
		{"google error", withPath(ststest.GoogleErrorFault(403, "PERMISSION_DENIED", "nope")), "PERMISSION_DENIED", "nope", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newLoginServer(t)
			open, _ := browser(t, http.DefaultClient)
			srv.PushFaults(tc.fault)
			_, err := Run(context.Background(), loginConfig(srv, open))
			wantLoginError(t, err, tc.code, tc.text)
			var se *sts.Error
			if errors.As(err, &se) && se.StatusCode != tc.status {
				t.Errorf("status %d", se.StatusCode)
			}
			if strings.Contains(err.Error(), "rt-1") || strings.Contains(err.Error(), "at-1") {
				t.Errorf("token in %q", err)
			}
		})
	}
}

func TestLoginValidation(t *testing.T) {
	base := Config{Audience: loginAud, ClientID: loginClientID, ClientSecret: loginSecret}
	for _, tc := range []struct {
		mod   func(*Config)
		field string
	}{
		{func(c *Config) { c.Audience = "" }, "Config.Audience"},
		{func(c *Config) {
			c.Audience = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q"
		}, "Config.Audience"},
		{func(c *Config) { c.ClientID = "" }, "Config.ClientID"},
		{func(c *Config) { c.ClientSecret = "" }, "Config.ClientSecret"},
		{func(c *Config) { c.Scopes = []string{"a b"} }, "Config.Scopes[0]"},
		{func(c *Config) { c.AuthURL = "http://auth.example.com/authorize" }, "Config.AuthURL"},
		{func(c *Config) { c.TokenURL = "ftp://127.0.0.1/" }, "Config.TokenURL"},
		{func(c *Config) { c.TokenInfoURL = "http://example.com/" }, "Config.TokenInfoURL"},
		{func(c *Config) { c.RevokeURL = "nope" }, "Config.RevokeURL"},
		{func(c *Config) { c.UniverseDomain = "example.goog" }, "Config.AuthURL"},
		{func(c *Config) { c.UniverseDomain = "bad domain" }, "Config.UniverseDomain"},
		{func(c *Config) { c.ListenAddr = "0.0.0.0:0" }, "Config.ListenAddr"},
		{func(c *Config) { c.ListenAddr = "nonsense" }, "Config.ListenAddr"},
		{func(c *Config) { c.RedirectPath = "callback" }, "Config.RedirectPath"},
		{func(c *Config) { c.RedirectPath = "/{x}" }, "Config.RedirectPath"},
		{func(c *Config) { c.SignInTimeout = -1 }, "Config.SignInTimeout"},
		{func(c *Config) { c.Timeout = -1 }, "Config.Timeout"},
	} {
		cfg := base
		tc.mod(&cfg)
		_, err := Run(context.Background(), cfg)
		var ve *sts.ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("%v: got %v, want field %s", cfg, err, tc.field)
		}
		if err != nil && strings.Contains(err.Error(), loginSecret) {
			t.Errorf("secret in %q", err)
		}
	}
	ln := fixture.NewPipeListener(8085)
	cfg := base
	cfg.Listener = &badAddrListener{ln}
	var ve *sts.ValidationError
	if _, err := Run(context.Background(), cfg); !errors.As(err, &ve) || ve.Field != "Config.Listener" {
		t.Errorf("listener: %v", err)
	}
	if !ln.Closed() {
		t.Error("listener not closed after a validation error")
	}
	var r *Result
	if r.String() != "login.Result(nil)" {
		t.Error(r.String())
	}
	if err := (&Result{}).WriteCredentialsFile(""); !errors.As(err, &ve) {
		t.Errorf("empty path: %v", err)
	}
	var se *sts.Error
	if err := (&Result{}).WriteCredentialsFile(filepath.Join(t.TempDir(), "missing\x00", "x")); !errors.As(err, &se) {
		t.Errorf("bad path: %v", err)
	}
}

type badAddrListener struct{ *fixture.PipeListener }

func (badAddrListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 80} }

func withPath(f ststest.Fault) ststest.Fault {
	f.Path = "/v1/oauthtoken"
	return f
}

func TestLoginAndIntrospectLogsHoldNoSecrets(t *testing.T) {
	srv := newLoginServer(t)
	var buf fixture.Log
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	open, _ := browser(t, http.DefaultClient)
	cfg := loginConfig(srv, func(u string) error { _ = open(u); return errors.New("pretend the browser failed") })
	cfg.Logger = logger
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.PushFaults(ststest.Fault{Path: "/v1/introspect", Status: 503, HTML: true})
	if _, err := sts.Introspect(context.Background(), res.Token.AccessToken, sts.IntrospectOptions{
		URL: srv.IntrospectURL(), ClientID: loginClientID, ClientSecret: loginSecret,
		HTTPOptions: sts.HTTPOptions{Logger: logger, Retry: sts.RetryPolicy{InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond}},
	}); err != nil {
		t.Fatal(err)
	}
	logs := buf.String()
	if !strings.Contains(logs, "waiting for the browser") || !strings.Contains(logs, "retrying") {
		t.Errorf("expected events missing:\n%s", logs)
	}
	var code, verifier string
	for _, r := range srv.Requests() {
		if r.Path == "/v1/oauthtoken" {
			code, verifier = r.Form.Get("code"), r.Form.Get("code_verifier")
		}
	}
	for _, secret := range []string{res.Token.AccessToken, res.Token.RefreshToken, loginSecret, code, verifier, httpx.BasicAuth(loginClientID, loginSecret)} {
		if strings.Contains(logs, secret) {
			t.Errorf("secret in logs:\n%s", logs)
		}
	}
}

// TestLoginListenAddrLoopbackRule: the redirect listener's host follows the
// one loopback rule (internal/loopback): names a resolver would send to DNS
// and other spellings of numbers are refused at construction; localhost and
// an IPv4-mapped loopback address are bound as the literal address they
// resolve to, which is what the redirect URI names.
func TestLoginListenAddrLoopbackRule(t *testing.T) {
	base := Config{Audience: loginAud, ClientID: loginClientID, ClientSecret: loginSecret}
	for _, addr := range []string{"localhost.:0", "LOCALHOST.:0", "foo.localhost:0", "localhost.evil.example:0", "127.0.0.1.nip.io:0",
		"0x7f.1:0", "2130706433:0", "127.1:0", "0177.0.0.1:0", "[::ffff:10.0.0.1]:0", "[::]:0", ":0", "[::1%lo]:0"} {
		cfg := base
		cfg.ListenAddr = addr
		_, err := Run(context.Background(), cfg)
		var ve *sts.ValidationError
		if !errors.As(err, &ve) || ve.Field != "Config.ListenAddr" {
			t.Errorf("ListenAddr %q: %v, want a ValidationError", addr, err)
		}
	}
	for addr, host := range map[string]string{"localhost:0": "", "LocalHost:0": "", "[::ffff:127.0.0.1]:0": "127.0.0.1", "127.0.0.1:0": "127.0.0.1"} {
		srv := newLoginServer(t)
		var authURL string
		open, _ := browser(t, http.DefaultClient)
		cfg := loginConfig(srv, func(u string) error { authURL = u; return open(u) })
		cfg.ListenAddr = addr
		if _, err := Run(context.Background(), cfg); err != nil {
			t.Fatalf("ListenAddr %q: %v", addr, err)
		}
		u, _ := url.Parse(authURL)
		ru, err := url.Parse(u.Query().Get("redirect_uri"))
		if err != nil {
			t.Fatal(err)
		}
		a, ok := loopback.Addr(ru.Hostname())
		if !ok || (host != "" && a.String() != host) {
			t.Errorf("ListenAddr %q: redirect URI %s does not name the literal address bound", addr, ru)
		}
	}
}
