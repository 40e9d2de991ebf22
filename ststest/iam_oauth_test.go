package ststest_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stsgo/sts/ststest"
)

const testSA = "sa@example-project.iam.gserviceaccount.com"

// googleError is the error member of a Google API answer.
type googleError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
}

type googleAnswer struct {
	AccessToken string       `json:"accessToken"`
	ExpireTime  string       `json:"expireTime"`
	Error       *googleError `json:"error"`
}

// generate posts body, of contentType, to the server's path with an
// optional Bearer token, and decodes the answer.
func generate(t *testing.T, s *ststest.Server, path, bearer, contentType, body string) (int, googleAnswer) {
	t.Helper()
	status, b := call(t, s, http.MethodPost, s.URL+path, bearer, contentType, body)
	var a googleAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("answer %q: %v", b, err)
	}
	return status, a
}

func TestGenerateAccessToken(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{})
	defer s.Close()
	at := mustToken(t, s)
	path := strings.TrimPrefix(s.ImpersonationURL(testSA), s.URL)
	start := time.Now()
	status, a := generate(t, s, path, at, "application/json",
		`{"scope":["https://www.googleapis.com/auth/cloud-platform"],"lifetime":"1800s","delegates":["projects/-/serviceAccounts/d@example-project.iam.gserviceaccount.com"]}`)
	if status != 200 || a.AccessToken == "" {
		t.Fatalf("generateAccessToken: %d %+v", status, a)
	}
	exp, err := time.Parse(time.RFC3339Nano, a.ExpireTime)
	if err != nil || exp.Sub(start) < 29*time.Minute || exp.Sub(start) > 31*time.Minute {
		t.Errorf("expireTime %q (%v)", a.ExpireTime, err)
	}
	info, ok := s.Lookup(a.AccessToken)
	if !ok || info.Kind != "impersonated" || info.Subject != testSA || info.Audience != workloadAud {
		t.Errorf("recorded %v", info)
	}
	// Default lifetime one hour.
	_, a = generate(t, s, path, at, "application/json; charset=utf-8", `{"scope":["openid"]}`)
	if info, _ := s.Lookup(a.AccessToken); info.ExpiresAt.Sub(info.IssuedAt) != time.Hour {
		t.Errorf("default lifetime %v", info.ExpiresAt.Sub(info.IssuedAt))
	}

	s.SetImpersonationCheck(func(caller ststest.TokenInfo, account string, delegates []string) error {
		if account == "denied@example-project.iam.gserviceaccount.com" {
			return errors.New("Permission 'iam.serviceAccounts.getAccessToken' denied")
		}
		return nil
	})
	scope := `{"scope":["openid"]}`
	for _, tc := range []struct {
		name, path, bearer, ct, body string
		status                       int
		googleStatus                 string
	}{
		{"no bearer", path, "", "application/json", scope, 401, "UNAUTHENTICATED"},
		{"foreign bearer", path, "not-issued", "application/json", scope, 401, "UNAUTHENTICATED"},
		{"denied", "/v1/projects/-/serviceAccounts/denied@example-project.iam.gserviceaccount.com:generateAccessToken", at, "application/json", scope, 403, "PERMISSION_DENIED"},
		{"project not dash", "/v1/projects/p1/serviceAccounts/" + testSA + ":generateAccessToken", at, "application/json", scope, 400, "INVALID_ARGUMENT"},
		{"unknown method", "/v1/projects/-/serviceAccounts/" + testSA + ":signJwt", at, "application/json", scope, 404, "NOT_FOUND"},
		{"form body", path, at, "application/x-www-form-urlencoded", "scope=openid", 400, "INVALID_ARGUMENT"},
		{"bad json", path, at, "application/json", `{"scope":`, 400, "INVALID_ARGUMENT"},
		{"no scope", path, at, "application/json", `{"lifetime":"60s"}`, 400, "INVALID_ARGUMENT"},
		{"scope not array", path, at, "application/json", `{"scope":"openid"}`, 400, "INVALID_ARGUMENT"},
		{"lifetime unit", path, at, "application/json", `{"scope":["openid"],"lifetime":"60m"}`, 400, "INVALID_ARGUMENT"},
		{"lifetime too long", path, at, "application/json", `{"scope":["openid"],"lifetime":"43201s"}`, 400, "INVALID_ARGUMENT"},
		{"bad delegate", path, at, "application/json", `{"scope":["openid"],"delegates":["d@x"]}`, 400, "INVALID_ARGUMENT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, a := generate(t, s, tc.path, tc.bearer, tc.ct, tc.body)
			if status != tc.status || a.Error == nil || a.Error.Status != tc.googleStatus || a.Error.Code != tc.status {
				t.Errorf("got %d %+v, want %d %s", status, a.Error, tc.status, tc.googleStatus)
			}
		})
	}

	// Expired and downscoped tokens are refused.
	short := ststest.NewInMemoryServer(ststest.Options{TokenLifetime: time.Nanosecond})
	defer short.Close()
	expired := mustToken(t, short)
	status, a = generate(t, short, path, expired, "application/json", scope)
	if status != 401 {
		t.Errorf("expired token: %d %+v", status, a.Error)
	}
	form := url.Values{"grant_type": {grantTE}, "subject_token": {at}, "subject_token_type": {ttAccess},
		"options": {`{"accessBoundary":{"accessBoundaryRules":[{"availableResource":"//storage.googleapis.com/projects/_/buckets/b","availablePermissions":["inRole:roles/storage.objectViewer"]}]}}`}}
	st, tr := postForm(t, s.Client(), s.TokenURL(), form)
	if st != 200 {
		t.Fatalf("downscope: %d %+v", st, tr)
	}
	status, a = generate(t, s, path, tr.AccessToken, "application/json", scope)
	if status != 403 {
		t.Errorf("downscoped token: %d %+v", status, a.Error)
	}
}

func TestOAuthTokenRefresh(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{ClientID: "cid", ClientSecret: "csecret"})
	defer s.Close()
	s.AddRefreshToken("rt-1", "cid")
	s.AddRefreshToken("rt-other", "other")
	post := func(id, secret string, form url.Values) (int, tokenResponse, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/oauthtoken", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if id != "" {
			req.SetBasicAuth(id, secret)
		}
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var tr tokenResponse
		var rt struct {
			RefreshToken string `json:"refresh_token"`
		}
		_ = json.Unmarshal(b, &tr)
		_ = json.Unmarshal(b, &rt)
		return resp.StatusCode, tr, rt.RefreshToken
	}
	refresh := func(rt string) url.Values { return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}} }

	status, tr, newRT := post("cid", "csecret", refresh("rt-1"))
	if status != 200 || tr.AccessToken == "" || tr.ExpiresIn == nil || *tr.ExpiresIn != 3600 || newRT != "" {
		t.Fatalf("refresh: %d %+v rt=%q", status, tr, newRT)
	}
	info, ok := s.Lookup(tr.AccessToken)
	if !ok || info.Kind != "refreshed" || info.Subject == "" || strings.Contains(info.Subject, "rt-1") {
		t.Errorf("recorded %v", info)
	}

	s.SetRefreshTokenRotation(true)
	status, _, newRT = post("cid", "csecret", refresh("rt-1"))
	if status != 200 || newRT == "" || s.RefreshTokenValid("rt-1") || !s.RefreshTokenValid(newRT) {
		t.Fatalf("rotation: %d rt=%q", status, newRT)
	}
	status, tr2, _ := post("cid", "csecret", refresh(newRT))
	if status != 200 {
		t.Fatalf("refresh with the rotated token: %d", status)
	}
	if i2, _ := s.Lookup(tr2.AccessToken); i2.Subject != info.Subject {
		t.Errorf("subject changed across rotation: %q vs %q", i2.Subject, info.Subject)
	}

	for _, tc := range []struct {
		name       string
		id, secret string
		form       url.Values
		status     int
		code       string
	}{
		{"no client auth", "", "", refresh("rt-1"), 401, "invalid_client"},
		{"wrong secret", "cid", "nope", refresh("rt-1"), 401, "invalid_client"},
		{"revoked by rotation", "cid", "csecret", refresh("rt-1"), 400, "invalid_grant"},
		{"unknown", "cid", "csecret", refresh("rt-unknown"), 400, "invalid_grant"},
		{"missing refresh_token", "cid", "csecret", url.Values{"grant_type": {"refresh_token"}}, 400, "invalid_request"},
		{"missing grant", "cid", "csecret", url.Values{"refresh_token": {"x"}}, 400, "invalid_request"},
		{"unsupported grant", "cid", "csecret", url.Values{"grant_type": {"password"}}, 400, "unsupported_grant_type"},
		{"repeated parameter", "cid", "csecret", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"a", "b"}}, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, tr, _ := post(tc.id, tc.secret, tc.form)
			if status != tc.status || tr.Error != tc.code {
				t.Errorf("got %d %q (%s), want %d %s", status, tr.Error, tr.ErrorDescription, tc.status, tc.code)
			}
		})
	}

	// Without Options.ClientID, the refresh token's client must still match.
	open := ststest.NewInMemoryServer(ststest.Options{})
	defer open.Close()
	open.AddRefreshToken("rt", "cid")
	req, _ := http.NewRequest(http.MethodPost, open.URL+"/v1/oauthtoken", strings.NewReader(refresh("rt").Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("someone-else", "x")
	resp, err := open.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if st, tr := decode(t, resp); st != 400 || tr.Error != "invalid_grant" {
		t.Errorf("other client: %d %+v", st, tr)
	}
}
