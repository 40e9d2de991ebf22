package ststest_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stsgo/sts/ststest"
)

const (
	emuClient   = "emu-client"
	emuSecret   = "emu-secret-5555"
	emuVerifier = "verifier-0123456789-0123456789-0123456789-abc"
	emuRedirect = "http://127.0.0.1:8085/callback"
)

func challengeOf(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

func authorizeParams() url.Values {
	return url.Values{
		"client_id": {emuClient}, "redirect_uri": {emuRedirect}, "response_type": {"code"},
		"scope": {cloudScope}, "state": {"st-1"}, "code_challenge": {challengeOf(emuVerifier)},
		"code_challenge_method": {"S256"}, "provider_name": {"locations/global/workforcePools/wf-pool/providers/wf-prov"},
	}
}

func noRedirect(c *http.Client) *http.Client {
	return &http.Client{Transport: c.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// authorize returns the status and, for a redirect, the Location's query.
func authorize(t *testing.T, srv *ststest.Server, q url.Values) (int, url.Values) {
	t.Helper()
	resp, err := noRedirect(srv.Client()).Get(srv.AuthorizeURL() + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return resp.StatusCode, nil
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Scheme+"://"+loc.Host+loc.Path != emuRedirect {
		t.Fatalf("Location %v", loc)
	}
	return resp.StatusCode, loc.Query()
}

type codeResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	ExpiresIn    int64  `json:"expires_in"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

func redeem(t *testing.T, srv *ststest.Server, form url.Values, basic bool) (int, codeResponse) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.OAuthTokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(emuClient, emuSecret)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cr codeResponse
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &cr); err != nil {
		t.Fatalf("body %s", b)
	}
	return resp.StatusCode, cr
}

func codeForm(code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {emuVerifier}, "redirect_uri": {emuRedirect}}
}

func TestAuthorizationCodeFlow(t *testing.T) {
	srv := ststest.NewServer(ststest.Options{ClientID: emuClient, ClientSecret: emuSecret})
	defer srv.Close()
	q := authorizeParams()
	q.Set("login_hint", "alice@example.com")
	st, got := authorize(t, srv, q)
	if st != http.StatusFound || got.Get("state") != "st-1" || got.Get("code") == "" {
		t.Fatalf("authorize: %d %v", st, got)
	}
	code := got.Get("code")
	status, cr := redeem(t, srv, codeForm(code), true)
	if status != 200 || cr.AccessToken == "" || cr.RefreshToken == "" || cr.IDToken == "" || cr.ExpiresIn != 3600 {
		t.Fatalf("redeem: %d %+v", status, cr)
	}
	info, ok := srv.Lookup(cr.AccessToken)
	if !ok || info.Kind != "authorization_code" || info.Subject != "alice@example.com" ||
		info.Audience != "//iam.googleapis.com/locations/global/workforcePools/wf-pool/providers/wf-prov" {
		t.Errorf("lookup %v", info)
	}
	if !srv.RefreshTokenValid(cr.RefreshToken) {
		t.Error("refresh token not recorded")
	}
	// The refresh token works with the refresh_token grant, for the same user.
	status, rr := redeem(t, srv, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {cr.RefreshToken}}, true)
	if status != 200 || rr.AccessToken == "" {
		t.Fatalf("refresh: %d %+v", status, rr)
	}
	if info, ok := srv.Lookup(rr.AccessToken); !ok || info.Kind != "refreshed" || info.Subject != "alice@example.com" {
		t.Errorf("refreshed %v", info)
	}
	// Introspection, JSON body, reports the client.
	resp, err := srv.Client().Post(srv.IntrospectURL(), "application/json", strings.NewReader(`{"token":"`+cr.AccessToken+`","tokenTypeHint":"access_token"}`))
	if err != nil {
		t.Fatal(err)
	}
	var in map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&in)
	resp.Body.Close()
	if in["active"] != true || in["client_id"] != emuClient || in["username"] != "alice@example.com" || in["scope"] != cloudScope {
		t.Errorf("introspection %v", in)
	}
	if _, ok := in["exp"].(string); !ok {
		t.Errorf("exp is not a string: %v", in["exp"])
	}
	// Second use.
	status, cr = redeem(t, srv, codeForm(code), true)
	if status != 400 || cr.Error != "invalid_grant" || !strings.Contains(cr.Description, "already used") {
		t.Errorf("reuse: %d %+v", status, cr)
	}
}

func TestAuthorizationCodeErrors(t *testing.T) {
	srv := ststest.NewServer(ststest.Options{})
	defer srv.Close()
	newCode := func() string {
		_, got := authorize(t, srv, authorizeParams())
		return got.Get("code")
	}
	for _, tc := range []struct {
		name   string
		form   func() url.Values
		basic  bool
		status int
		code   string
		desc   string
	}{
		{"unknown code", func() url.Values { return codeForm("nope") }, true, 400, "invalid_grant", "unknown"},
		{"bad verifier", func() url.Values {
			f := codeForm(newCode())
			f.Set("code_verifier", strings.Repeat("z", 43))
			return f
		}, true, 400, "invalid_grant", "code_verifier does not match"},
		{"malformed verifier", func() url.Values {
			f := codeForm(newCode())
			f.Set("code_verifier", "short")
			return f
		}, true, 400, "invalid_request", "43 to 128"},
		{"no verifier", func() url.Values {
			f := codeForm(newCode())
			f.Del("code_verifier")
			return f
		}, true, 400, "invalid_request", "code_verifier is required"},
		{"other redirect", func() url.Values {
			f := codeForm(newCode())
			f.Set("redirect_uri", "http://127.0.0.1:9999/callback")
			return f
		}, true, 400, "invalid_grant", "redirect_uri"},
		{"no client auth", func() url.Values { return codeForm(newCode()) }, false, 401, "invalid_client", "required"},
		{"other client", func() url.Values {
			q := authorizeParams()
			q.Set("client_id", "another-client")
			_, got := authorize(t, srv, q)
			return codeForm(got.Get("code"))
		}, true, 400, "invalid_grant", "another client"},
		{"unsupported grant", func() url.Values { return url.Values{"grant_type": {"password"}} }, true, 400, "unsupported_grant_type", "password"},
		{"no grant", func() url.Values { return url.Values{} }, true, 400, "invalid_request", "grant_type is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, cr := redeem(t, srv, tc.form(), tc.basic)
			if status != tc.status || cr.Error != tc.code || !strings.Contains(cr.Description, tc.desc) {
				t.Errorf("got %d %+v", status, cr)
			}
		})
	}
}

func TestAuthorizeErrors(t *testing.T) {
	srv := ststest.NewServer(ststest.Options{ClientID: emuClient, ClientSecret: emuSecret})
	defer srv.Close()
	for _, tc := range []struct {
		name   string
		mod    func(url.Values)
		status int
		errStr string
	}{
		{"no client", func(q url.Values) { q.Del("client_id") }, 400, ""},
		{"unknown client", func(q url.Values) { q.Set("client_id", "other") }, 400, ""},
		{"non-loopback redirect", func(q url.Values) { q.Set("redirect_uri", "http://evil.example/cb") }, 400, ""},
		{"https redirect", func(q url.Values) { q.Set("redirect_uri", "https://127.0.0.1/cb") }, 400, ""},
		{"token response", func(q url.Values) { q.Set("response_type", "token") }, 302, "unsupported_response_type"},
		{"no challenge", func(q url.Values) { q.Del("code_challenge") }, 302, "invalid_request"},
		{"plain challenge", func(q url.Values) { q.Set("code_challenge_method", "plain") }, 302, "invalid_request"},
		{"short challenge", func(q url.Values) { q.Set("code_challenge", "abc") }, 302, "invalid_request"},
		{"no provider", func(q url.Values) { q.Del("provider_name") }, 302, "invalid_request"},
		{"workload provider", func(q url.Values) {
			q.Set("provider_name", "projects/1/locations/global/workloadIdentityPools/p/providers/q")
		}, 302, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := authorizeParams()
			tc.mod(q)
			status, got := authorize(t, srv, q)
			if status != tc.status || (tc.errStr != "" && (got.Get("error") != tc.errStr || got.Get("state") != "st-1" || got.Has("code"))) {
				t.Errorf("got %d %v", status, got)
			}
		})
	}
	// The full audience is accepted as audience too.
	q := authorizeParams()
	q.Del("provider_name")
	q.Set("audience", "//iam.googleapis.com/locations/global/workforcePools/wf-pool/providers/wf-prov")
	if status, got := authorize(t, srv, q); status != 302 || got.Get("code") == "" {
		t.Errorf("audience: %d %v", status, got)
	}
}

func TestAuthorizationCodeExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := ststest.NewInMemoryServer(ststest.Options{})
		defer srv.Close()
		_, got := authorize(t, srv, authorizeParams())
		time.Sleep(ststest.AuthorizationCodeLifetime)
		status, cr := redeem(t, srv, codeForm(got.Get("code")), true)
		if status != 400 || cr.Error != "invalid_grant" || !strings.Contains(cr.Description, "expired") {
			t.Errorf("got %d %+v", status, cr)
		}
	})
}

func TestIntrospectEndpoint(t *testing.T) {
	srv := ststest.NewInMemoryServer(ststest.Options{TokenLifetime: time.Minute})
	defer srv.Close()
	c := srv.Client()
	post := func(ct, body string) (int, map[string]any) {
		resp, err := c.Post(srv.IntrospectURL(), ct, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	form := "application/x-www-form-urlencoded"
	if st, m := post(form, "token=unknown"); st != 200 || m["active"] != false || len(m) != 1 {
		t.Errorf("unknown: %d %v", st, m)
	}
	if st, m := post(form, ""); st != 400 || m["error"] != "invalid_request" {
		t.Errorf("no token: %d %v", st, m)
	}
	if st, m := post(form, "token=a&token=b"); st != 400 {
		t.Errorf("repeated: %d %v", st, m)
	}
	if st, m := post(form, "token=a&token_type_hint=refresh_token"); st != 400 {
		t.Errorf("hint: %d %v", st, m)
	}
	if st, m := post("application/json", `{"token":`); st != 400 {
		t.Errorf("bad JSON: %d %v", st, m)
	}
}
