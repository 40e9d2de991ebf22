package ststest_test

import (
	"encoding/base64"
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

func generateIDToken(t *testing.T, s *ststest.Server, sa, bearer, body string) (int, string, *googleError) {
	t.Helper()
	status, b := call(t, s, http.MethodPost, s.URL+"/v1/projects/-/serviceAccounts/"+sa+":generateIdToken", bearer, "application/json", body)
	var out struct {
		Token string       `json:"token"`
		Error *googleError `json:"error"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("answer %q: %v", b, err)
	}
	return status, out.Token, out.Error
}

// call sends a request with an optional Bearer token and an optional body
// of contentType, and returns the status and the body of the answer.
func call(t *testing.T, s *ststest.Server, method, u, bearer, contentType, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func TestGenerateIDToken(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{})
	defer s.Close()
	at := mustToken(t, s)
	start := time.Now()
	status, tok, gerr := generateIDToken(t, s, testSA, at, `{"audience":"https://service.example","includeEmail":true,"delegates":["projects/-/serviceAccounts/d@example-project.iam.gserviceaccount.com"]}`)
	if status != 200 || gerr != nil {
		t.Fatalf("generateIdToken: %d %+v", status, gerr)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Iss, Aud, Sub, Azp, Email string
		EmailVerified             bool `json:"email_verified"`
		Iat, Exp                  int64
	}
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatal(err)
	}
	if claims.Iss != "https://accounts.google.com" || claims.Aud != "https://service.example" || claims.Email != testSA ||
		!claims.EmailVerified || len(claims.Sub) != 21 || claims.Azp != claims.Sub || claims.Exp-claims.Iat != 3600 ||
		claims.Iat < start.Unix()-1 {
		t.Errorf("claims %s", b)
	}
	info, ok := s.Lookup(tok)
	if !ok || info.Kind != "id_token" || info.Subject != testSA || info.Audience != "https://service.example" {
		t.Errorf("recorded %v", info)
	}
	if !active(t, s, tok) {
		t.Error("the ID token does not introspect as active")
	}
	// Without includeEmail there is no email; the subject is stable.
	_, tok2, _ := generateIDToken(t, s, testSA, at, `{"audience":"a"}`)
	b, _ = base64.RawURLEncoding.DecodeString(strings.Split(tok2, ".")[1])
	var c2 map[string]any
	_ = json.Unmarshal(b, &c2)
	if _, ok := c2["email"]; ok || c2["sub"] != claims.Sub {
		t.Errorf("claims without includeEmail: %s", b)
	}
	// An ID token is not an access token.
	if status, _, gerr := generateIDToken(t, s, testSA, tok, `{"audience":"a"}`); status != 401 || gerr == nil || gerr.Status != "UNAUTHENTICATED" {
		t.Errorf("ID token as bearer: %d %+v", status, gerr)
	}
	form := url.Values{"grant_type": {grantTE}, "subject_token": {tok}, "subject_token_type": {ttAccess}}
	if status, tr := postForm(t, s.Client(), s.TokenURL(), form); status != 400 || tr.Error != "invalid_grant" {
		t.Errorf("ID token exchanged as an access token: %d %+v", status, tr)
	}
}

func TestGenerateIDTokenErrors(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{})
	defer s.Close()
	at := mustToken(t, s)
	s.SetImpersonationCheck(func(_ ststest.TokenInfo, account string, delegates []string) error {
		if len(delegates) > 0 {
			return errors.New("Permission 'iam.serviceAccounts.getOpenIdToken' denied")
		}
		return nil
	})
	for _, tc := range []struct {
		name, sa, bearer, body string
		status                 int
		googleStatus           string
	}{
		{"no bearer", testSA, "", `{"audience":"a"}`, 401, "UNAUTHENTICATED"},
		{"foreign bearer", testSA, "nope", `{"audience":"a"}`, 401, "UNAUTHENTICATED"},
		{"no audience", testSA, at, `{"includeEmail":true}`, 400, "INVALID_ARGUMENT"},
		{"bad json", testSA, at, `{"audience":`, 400, "INVALID_ARGUMENT"},
		{"includeEmail not a bool", testSA, at, `{"audience":"a","includeEmail":"yes"}`, 400, "INVALID_ARGUMENT"},
		{"bad delegate", testSA, at, `{"audience":"a","delegates":["d@x"]}`, 400, "INVALID_ARGUMENT"},
		{"denied", testSA, at, `{"audience":"a","delegates":["projects/-/serviceAccounts/d@x"]}`, 403, "PERMISSION_DENIED"},
		{"bad account", "a b", at, `{"audience":"a"}`, 400, "INVALID_ARGUMENT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, tok, gerr := generateIDToken(t, s, tc.sa, tc.bearer, tc.body)
			if status != tc.status || gerr == nil || gerr.Status != tc.googleStatus || tok != "" {
				t.Errorf("got %d %+v, want %d %s", status, gerr, tc.status, tc.googleStatus)
			}
		})
	}
}
