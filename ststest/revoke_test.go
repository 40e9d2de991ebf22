package ststest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stsgo/sts/ststest"
)

// post sends a form with optional Basic credentials and returns the status
// and the decoded error answer.
func postAs(t *testing.T, s *ststest.Server, u, id, secret string, form url.Values) (int, tokenResponse) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(id, secret)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp)
}

func active(t *testing.T, s *ststest.Server, token string) bool {
	t.Helper()
	resp, err := s.Client().PostForm(s.IntrospectURL(), url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var in struct {
		Active bool `json:"active"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&in); err != nil || resp.StatusCode != 200 {
		t.Fatalf("introspect: %d %v", resp.StatusCode, err)
	}
	return in.Active
}

func TestRevokeRefreshToken(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{ClientID: "cid", ClientSecret: "csecret"})
	defer s.Close()
	s.AddRefreshToken("rt-1", "cid")
	refresh := func(rt string) url.Values { return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}} }
	status, tr := postAs(t, s, s.OAuthTokenURL(), "cid", "csecret", refresh("rt-1"))
	if status != 200 || !active(t, s, tr.AccessToken) {
		t.Fatalf("refresh: %d %+v", status, tr)
	}
	at := tr.AccessToken

	if status, tr := postAs(t, s, s.RevokeURL(), "cid", "csecret", url.Values{"token": {"rt-1"}, "token_type_hint": {"refresh_token"}}); status != 200 {
		t.Fatalf("revoke: %d %+v", status, tr)
	}
	if s.RefreshTokenValid("rt-1") {
		t.Error("the refresh token is still valid")
	}
	for i := 0; i < 2; i++ { // every later refresh fails
		if status, tr := postAs(t, s, s.OAuthTokenURL(), "cid", "csecret", refresh("rt-1")); status != 400 || tr.Error != "invalid_grant" {
			t.Fatalf("refresh after revocation: %d %+v", status, tr)
		}
	}
	// The access tokens of the grant end with it.
	if active(t, s, at) {
		t.Error("an access token of the revoked grant is still active")
	}
	if info, ok := s.Lookup(at); !ok || info.Valid(time.Now()) {
		t.Errorf("lookup after revocation: %v %v", info, ok)
	}
	// Revoking again, or an unknown token, is not an error.
	for _, tok := range []string{"rt-1", "never-issued"} {
		if status, tr := postAs(t, s, s.RevokeURL(), "cid", "csecret", url.Values{"token": {tok}}); status != 200 {
			t.Errorf("revoke %s: %d %+v", tok, status, tr)
		}
	}
}

func TestRevokeRotatedRefreshToken(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{})
	defer s.Close()
	s.SetRefreshTokenRotation(true)
	s.AddRefreshToken("rt-1", "cid")
	req := func(rt string) url.Values { return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}} }
	// Rotate twice; revoking the newest ends the grant.
	rt := "rt-1"
	var ats []string
	for i := 0; i < 2; i++ {
		resp, err := s.Client().Do(basicReq(s.OAuthTokenURL(), "cid", "any", req(rt)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var out struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
		if err := json.Unmarshal(b, &out); err != nil || out.RefreshToken == "" {
			t.Fatalf("rotation: %s", b)
		}
		rt = out.RefreshToken
		ats = append(ats, out.AccessToken)
	}
	// JSON body, client credentials in the body.
	resp, err := s.Client().Post(s.RevokeURL(), "application/json",
		strings.NewReader(`{"token":"`+rt+`","clientId":"cid","clientSecret":"whatever"}`))
	if err != nil {
		t.Fatal(err)
	}
	if status, tr := decode(t, resp); status != 200 {
		t.Fatalf("revoke: %d %+v", status, tr)
	}
	if s.RefreshTokenValid(rt) {
		t.Error("rotated refresh token still valid")
	}
	for _, at := range ats {
		if active(t, s, at) {
			t.Error("access token of the grant still active")
		}
	}
}

func basicReq(u, id, secret string, form url.Values) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	return req
}

func TestRevokeAccessToken(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{})
	defer s.Close()
	at := mustToken(t, s)
	if status, tr := postAs(t, s, s.RevokeURL(), "", "", url.Values{"token": {at}, "token_type_hint": {"access_token"}}); status != 200 {
		t.Fatalf("revoke: %d %+v", status, tr)
	}
	if active(t, s, at) {
		t.Error("revoked access token still active")
	}
	status, a := generate(t, s, "/v1/projects/-/serviceAccounts/"+testSA+":generateAccessToken", at,
		"application/json", `{"scope":["`+cloudScope+`"]}`)
	if status != 401 || a.Error == nil || a.Error.Status != "UNAUTHENTICATED" {
		t.Errorf("impersonation with a revoked token: %d %+v", status, a)
	}
	// An exchange with it as the subject fails too.
	form := exchangeForm()
	form.Set("subject_token", at)
	form.Set("subject_token_type", ttAccess)
	form.Del("audience")
	if status, tr := postForm(t, s.Client(), s.TokenURL(), form); status != 400 || tr.Error != "invalid_grant" {
		t.Errorf("exchange of a revoked token: %d %+v", status, tr)
	}
}

func TestRevokeErrors(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{})
	defer s.Close()
	s.AddRefreshToken("rt-1", "cid")
	for _, tc := range []struct {
		name       string
		id, secret string
		form       url.Values
		status     int
		code       string
	}{
		{"missing token", "cid", "x", url.Values{}, 400, "invalid_request"},
		{"repeated token", "cid", "x", url.Values{"token": {"a", "b"}}, 400, "invalid_request"},
		{"unknown hint", "cid", "x", url.Values{"token": {"rt-1"}, "token_type_hint": {"id_token"}}, 400, "unsupported_token_type"},
		{"another client's token", "other", "x", url.Values{"token": {"rt-1"}}, 400, "invalid_grant"},
		{"a client's token without client", "", "", url.Values{"token": {"rt-1"}}, 401, "invalid_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, tr := postAs(t, s, s.RevokeURL(), tc.id, tc.secret, tc.form)
			if status != tc.status || tr.Error != tc.code {
				t.Errorf("got %d %+v, want %d %s", status, tr, tc.status, tc.code)
			}
		})
	}
	if !s.RefreshTokenValid("rt-1") {
		t.Error("a refused revocation revoked the token")
	}
}

// TestRevokeAuthorizationCodeGrant: a refresh token from the sign-in flow
// is revoked with its access tokens.
func TestRevokeAuthorizationCodeGrant(t *testing.T) {
	srv := ststest.NewInMemoryServer(ststest.Options{ClientID: emuClient, ClientSecret: emuSecret})
	defer srv.Close()
	_, got := authorize(t, srv, authorizeParams())
	status, cr := redeem(t, srv, codeForm(got.Get("code")), true)
	if status != 200 {
		t.Fatalf("redeem: %d %+v", status, cr)
	}
	if status, tr := postAs(t, srv, srv.RevokeURL(), emuClient, emuSecret, url.Values{"token": {cr.RefreshToken}}); status != 200 {
		t.Fatalf("revoke: %d %+v", status, tr)
	}
	if active(t, srv, cr.AccessToken) {
		t.Error("the sign-in's access token is still active")
	}
	if status, rr := redeem(t, srv, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {cr.RefreshToken}}, true); status != 400 || rr.Error != "invalid_grant" {
		t.Errorf("refresh after revocation: %d %+v", status, rr)
	}
}
