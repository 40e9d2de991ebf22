package ststest_test

import (
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stsgo/sts/ststest"
)

func downscopeForm(subject string, withBoundary bool) url.Values {
	f := url.Values{
		"grant_type":           {grantTE},
		"requested_token_type": {ttAccess},
		"subject_token":        {subject},
		"subject_token_type":   {ttAccess},
	}
	if withBoundary {
		f.Set("options", boundary(okRule))
	}
	return f
}

func TestExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := ststest.NewInMemoryServer(ststest.Options{TokenLifetime: 10 * time.Minute})
		defer s.Close()
		t0 := time.Now()
		tok := mustToken(t, s)
		info, ok := s.Lookup(tok)
		if !ok || !info.IssuedAt.Equal(t0) || !info.ExpiresAt.Equal(t0.Add(10*time.Minute)) || !info.Valid(t0) {
			t.Fatalf("issued %v", info)
		}

		// Downscoping an issued token: no expires_in, the subject's expiry.
		time.Sleep(4 * time.Minute)
		status, tr := postForm(t, s.Client(), s.TokenURL(), downscopeForm(tok, true))
		if status != 200 || tr.ExpiresIn != nil {
			t.Fatalf("downscope: %d %+v", status, tr)
		}
		down, ok := s.Lookup(tr.AccessToken)
		if !ok || down.Kind != "downscoped" || !down.ExpiresAt.Equal(info.ExpiresAt) || down.Subject != info.Subject ||
			string(down.AccessBoundary) != `{"accessBoundaryRules":[`+okRule+`]}` || down.Audience != "" {
			t.Fatalf("downscoped %v", down)
		}
		if len(down.Scopes) != 1 || down.Scopes[0] != cloudScope {
			t.Fatalf("downscoped token did not inherit the scopes: %v", down.Scopes)
		}
		// A boundary cannot be added to a token that has one.
		status, tr2 := postForm(t, s.Client(), s.TokenURL(), downscopeForm(tr.AccessToken, true))
		if status != 400 || tr2.Error != "invalid_request" || !strings.Contains(tr2.ErrorDescription, "already") {
			t.Fatalf("boundary on boundary: %d %+v", status, tr2)
		}
		// Exchanging it without a boundary keeps its boundary.
		_, tr2 = postForm(t, s.Client(), s.TokenURL(), downscopeForm(tr.AccessToken, false))
		if again, _ := s.Lookup(tr2.AccessToken); string(again.AccessBoundary) != string(down.AccessBoundary) {
			t.Fatalf("re-exchange lost the boundary: %v", again)
		}
		// Without a boundary the kind stays "exchange".
		_, tr = postForm(t, s.Client(), s.TokenURL(), downscopeForm(tok, false))
		if plain, _ := s.Lookup(tr.AccessToken); plain.Kind != "exchange" || !plain.ExpiresAt.Equal(info.ExpiresAt) {
			t.Fatalf("plain access-token exchange %v", plain)
		}

		// A foreign access token gets the default lifetime.
		_, tr = postForm(t, s.Client(), s.TokenURL(), downscopeForm("ya29.foreign", true))
		foreign, _ := s.Lookup(tr.AccessToken)
		if tr.ExpiresIn != nil || !foreign.ExpiresAt.Equal(time.Now().Add(10*time.Minute)) {
			t.Fatalf("foreign %v, %+v", foreign, tr)
		}

		// Past its expiry the token is invalid and cannot be exchanged.
		time.Sleep(6 * time.Minute)
		if info, _ := s.Lookup(tok); info.Valid(time.Now()) {
			t.Fatal("expired token still valid")
		}
		status, tr = postForm(t, s.Client(), s.TokenURL(), downscopeForm(tok, true))
		if status != 400 || tr.Error != "invalid_grant" {
			t.Fatalf("expired subject: %d %+v", status, tr)
		}
		if _, ok := s.Lookup(tok); !ok {
			t.Fatal("expired tokens must still be found")
		}
	})
}
