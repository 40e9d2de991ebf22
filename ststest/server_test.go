package ststest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stsgo/sts/ststest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	workloadAud  = "//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/pool-1/providers/prov-1"
	workforceAud = "//iam.googleapis.com/locations/global/workforcePools/wf-pool/providers/wf-prov"
	grantTE      = "urn:ietf:params:oauth:grant-type:token-exchange"
	ttAccess     = "urn:ietf:params:oauth:token-type:access_token"
	ttJWT        = "urn:ietf:params:oauth:token-type:jwt"
	ttIDToken    = "urn:ietf:params:oauth:token-type:id_token"
	ttInterm     = "urn:ietf:params:oauth:token-type:access_boundary_intermediary_token"
	cloudScope   = "https://www.googleapis.com/auth/cloud-platform"
)

// testJWT is an unsigned JWT with sub "user-42".
const testJWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIiwiYXVkIjoieCJ9.c2ln"

func exchangeForm() url.Values {
	return url.Values{
		"grant_type":           {grantTE},
		"requested_token_type": {ttAccess},
		"subject_token":        {testJWT},
		"subject_token_type":   {ttJWT},
		"audience":             {workloadAud},
		"scope":                {cloudScope},
	}
}

type tokenResponse struct {
	AccessToken      string `json:"access_token"`
	IssuedTokenType  string `json:"issued_token_type"`
	TokenType        string `json:"token_type"`
	ExpiresIn        *int64 `json:"expires_in"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

func postForm(t *testing.T, c *http.Client, u string, form url.Values) (int, tokenResponse) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	return decode(t, resp)
}

func decode(t *testing.T, resp *http.Response) (int, tokenResponse) {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	var tr tokenResponse
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return resp.StatusCode, tr
}

func TestExchangeStarted(t *testing.T) {
	s := ststest.NewServer(ststest.Options{})
	defer s.Close()
	status, tr := postForm(t, s.Client(), s.TokenURL(), exchangeForm())
	if status != 200 {
		t.Fatalf("status %d: %+v", status, tr)
	}
	if !strings.HasPrefix(tr.AccessToken, "ststest-") || tr.TokenType != "Bearer" || tr.IssuedTokenType != ttAccess {
		t.Fatalf("bad response %+v", tr)
	}
	if tr.ExpiresIn == nil || *tr.ExpiresIn != 3600 {
		t.Fatalf("expires_in = %v, want 3600", tr.ExpiresIn)
	}
	info, ok := s.Lookup(tr.AccessToken)
	if !ok || info.Subject != "user-42" || info.Kind != "exchange" || info.Audience != workloadAud {
		t.Fatalf("lookup = %v, %v", info, ok)
	}
}

func TestExchangeInMemory(t *testing.T) {
	s := ststest.NewUnstartedServer(ststest.Options{})
	defer s.Close()
	status, tr := postForm(t, s.Client(), s.TokenURL(), exchangeForm())
	if status != 200 || tr.AccessToken == "" {
		t.Fatalf("status %d: %+v", status, tr)
	}
	if _, ok := s.Lookup(tr.AccessToken); !ok {
		t.Fatal("token not recorded")
	}
}

var _ = context.Background
var _ = errors.New
var _ = time.Second
