package ststest_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stsgo/sts/ststest"
)

func jwtWith(header string, claims map[string]any) string {
	b, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString(b) + ".c2ln"
}

// TestSubjectChecks: by default the emulator refuses, with STS's errors, a
// JWT subject that is not a JWT or has expired; AcceptAnySubject accepts
// them.
func TestSubjectChecks(t *testing.T) {
	now := time.Now().Unix()
	const alg = `{"alg":"RS256"}`
	tests := []struct {
		name      string
		tokenType string
		token     string
		lenient   bool   // accepted with AcceptAnySubject
		desc      string // "" when accepted by default
	}{
		{"plain text", ttJWT, "hello", true, "Unable to parse the ID Token."},
		{"plain text as id_token", ttIDToken, "hello", true, "Unable to parse the ID Token."},
		{"two parts", ttJWT, "e30.e30", true, "Unable to parse the ID Token."},
		{"header not JSON", ttJWT, "aGk.e30.c2ln", true, "Unable to parse the ID Token."},
		{"header without alg", ttJWT, jwtWith(`{}`, map[string]any{"exp": now + 60}), true, "Unable to parse the ID Token."},
		{"payload not an object", ttJWT, base64.RawURLEncoding.EncodeToString([]byte(alg)) + ".WzFd.c2ln", true, "Unable to parse the ID Token."},
		{"signature not checked", ttJWT, strings.TrimSuffix(jwtWith(alg, map[string]any{"exp": now + 60}), "c2ln") + "***", true, ""},
		{"no exp", ttJWT, jwtWith(alg, map[string]any{"sub": "u"}), true, "Unable to parse the ID Token."},
		{"exp not a number", ttJWT, jwtWith(alg, map[string]any{"exp": "tomorrow"}), true, "Unable to parse the ID Token."},
		{"expired", ttJWT, jwtWith(alg, map[string]any{"iat": now - 3700, "exp": now - 100}), true,
			fmt.Sprintf("ID Token issued at %d is stale to sign-in.", now-3700)},
		{"expired without iat", ttIDToken, jwtWith(alg, map[string]any{"exp": now - 100}), true,
			fmt.Sprintf("ID Token issued at %d is stale to sign-in.", now-100)},
		{"valid", ttJWT, jwtWith(alg, map[string]any{"sub": "u", "exp": now + 600}), true, ""},
		{"valid, unsigned", ttIDToken, strings.TrimSuffix(jwtWith(`{"alg":"none"}`, map[string]any{"exp": now + 600}), "c2ln"), true, ""},
		{"SAML is not parsed", "urn:ietf:params:oauth:token-type:saml2", "hello", true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, strict := range []bool{false, true} {
				s := ststest.NewInMemoryServer(ststest.Options{AcceptAnySubject: !strict})
				form := exchangeForm()
				form.Set("subject_token_type", tc.tokenType)
				form.Set("subject_token", tc.token)
				status, tr := postForm(t, s.Client(), s.TokenURL(), form)
				s.Close()
				wantOK := tc.lenient
				if strict {
					wantOK = tc.desc == ""
				}
				if wantOK {
					if status != 200 {
						t.Errorf("strict=%t: %d %+v, want 200", strict, status, tr)
					}
					continue
				}
				if status != 400 || tr.Error != "invalid_grant" || tr.ErrorDescription != tc.desc {
					t.Errorf("strict=%t: %d %+v, want 400 invalid_grant %q", strict, status, tr, tc.desc)
				}
			}
		})
	}
}

// TestSubjectAudience: with CheckSubjectAudience, a JWT or ID token subject
// whose aud names neither the provider's default audience nor one of
// AllowedAudiences is refused with STS's answer; SubjectJWT's tokens pass.
// Without it (the default), or with AcceptAnySubject, aud is not looked at.
func TestSubjectAudience(t *testing.T) {
	exp := time.Now().Add(time.Hour).Unix()
	def := "https:" + workloadAud
	const alg = `{"alg":"RS256"}`
	tests := []struct {
		name      string
		tokenType string
		aud       any // nil: no aud claim
		audience  string
		ok        bool // accepted checking audiences
	}{
		{"default audience", ttJWT, def, workloadAud, true},
		{"default audience, ID token", ttIDToken, def, workloadAud, true},
		{"in an array", ttJWT, []any{"x", def}, workloadAud, true},
		{"workforce default", ttJWT, "https:" + workforceAud, workforceAud, true},
		{"allowed audience", ttJWT, "https://github.com/org", workloadAud, true},
		{"another provider's", ttJWT, "https:" + workforceAud, workloadAud, false},
		{"the audience without https:", ttJWT, workloadAud, workloadAud, false},
		{"unknown", ttJWT, "https://example.com", workloadAud, false},
		{"none", ttJWT, nil, workloadAud, false},
		{"empty", ttJWT, "", workloadAud, false},
		{"empty array", ttJWT, []any{}, workloadAud, false},
		{"not a string", ttJWT, 42, workloadAud, false},
		{"array of non-strings", ttJWT, []any{def, 1}, workloadAud, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			claims := map[string]any{"sub": "u", "exp": exp}
			if tc.aud != nil {
				claims["aud"] = tc.aud
			}
			for _, o := range []struct {
				opts  ststest.Options
				check bool
			}{
				{ststest.Options{}, false},
				{ststest.Options{CheckSubjectAudience: true, AllowedAudiences: []string{"https://github.com/org"}}, true},
				{ststest.Options{CheckSubjectAudience: true, AcceptAnySubject: true}, false},
			} {
				s := ststest.NewInMemoryServer(o.opts)
				form := exchangeForm()
				form.Set("subject_token_type", tc.tokenType)
				form.Set("subject_token", jwtWith(alg, claims))
				form.Set("audience", tc.audience)
				status, tr := postForm(t, s.Client(), s.TokenURL(), form)
				s.Close()
				if !o.check || tc.ok {
					if status != 200 {
						t.Errorf("%v: %d %+v, want 200", o.opts, status, tr)
					}
					continue
				}
				if status != 400 || tr.Error != "invalid_grant" || tr.ErrorDescription != "The audience in JWT does not match the expected values." {
					t.Errorf("%v: %d %+v, want 400 invalid_grant", o.opts, status, tr)
				}
			}
		})
	}
	// SubjectJWT mints subjects that pass; an expired one is still stale.
	synctest.Test(t, func(t *testing.T) {
		s := ststest.NewInMemoryServer(ststest.Options{CheckSubjectAudience: true})
		defer s.Close()
		for _, aud := range []string{workloadAud, workforceAud} {
			form := exchangeForm()
			form.Set("audience", aud)
			form.Set("subject_token", s.SubjectJWT("u", aud))
			if status, tr := postForm(t, s.Client(), s.TokenURL(), form); status != 200 {
				t.Errorf("SubjectJWT for %s: %d %+v", aud, status, tr)
			}
		}
		form := exchangeForm()
		form.Set("subject_token", s.SubjectJWT("u", workloadAud))
		time.Sleep(2 * time.Hour)
		if status, tr := postForm(t, s.Client(), s.TokenURL(), form); status != 400 || !strings.HasSuffix(tr.ErrorDescription, "is stale to sign-in.") {
			t.Errorf("expired: %d %+v", status, tr)
		}
	})
}

// TestSubjectJWT: a minted subject token passes the checks until it expires,
// and names its subject.
func TestSubjectJWT(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := ststest.NewInMemoryServer(ststest.Options{Providers: []string{workloadAud}})
		defer s.Close()
		tok := s.SubjectJWT("svc-7", workloadAud)
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("not a JWT: %q", tok)
		}
		b, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var claims map[string]any
		if err := json.Unmarshal(b, &claims); err != nil || claims["aud"] != "https:"+workloadAud || claims["iss"] != s.URL {
			t.Fatalf("claims %s", b)
		}
		form := exchangeForm()
		form.Set("subject_token", tok)
		status, tr := postForm(t, s.Client(), s.TokenURL(), form)
		if status != 200 {
			t.Fatalf("exchange: %d %+v", status, tr)
		}
		if info, _ := s.Lookup(tr.AccessToken); info.Subject != "svc-7" {
			t.Errorf("subject %q", info.Subject)
		}
		time.Sleep(time.Hour)
		if status, tr := postForm(t, s.Client(), s.TokenURL(), form); status != 400 || tr.Error != "invalid_grant" ||
			!strings.HasSuffix(tr.ErrorDescription, "is stale to sign-in.") {
			t.Fatalf("after an hour: %d %+v", status, tr)
		}
	})
}

func TestProviders(t *testing.T) {
	otherWorkload := strings.Replace(workloadAud, "prov-1", "prov-2", 1)
	s := ststest.NewInMemoryServer(ststest.Options{Providers: []string{workloadAud, workforceAud}})
	defer s.Close()
	for _, tc := range []struct {
		aud    string
		status int
	}{
		{workloadAud, 200},
		{workforceAud, 200},
		{otherWorkload, 400},
		{strings.Replace(workforceAud, "wf-pool", "other-pool", 1), 400},
	} {
		form := exchangeForm()
		form.Set("audience", tc.aud)
		status, tr := postForm(t, s.Client(), s.TokenURL(), form)
		if status != tc.status {
			t.Errorf("%s: %d %+v, want %d", tc.aud, status, tr, tc.status)
		}
		if status == 400 && (tr.Error != "invalid_target" || !strings.Contains(tr.ErrorDescription, `indicated by the "audience" parameters is invalid`)) {
			t.Errorf("%s: %+v", tc.aud, tr)
		}
	}
	// Downscoping names no audience: not refused.
	at := mustToken(t, s)
	form := url.Values{"grant_type": {grantTE}, "subject_token": {at}, "subject_token_type": {ttAccess},
		"options": {`{"accessBoundary":{"accessBoundaryRules":[{"availableResource":"//storage.googleapis.com/projects/_/buckets/b","availablePermissions":["inRole:roles/storage.objectViewer"]}]}}`}}
	if status, tr := postForm(t, s.Client(), s.TokenURL(), form); status != 200 {
		t.Errorf("downscoping: %d %+v", status, tr)
	}
	// Without Providers every well-formed audience is accepted.
	open := ststest.NewInMemoryServer(ststest.Options{})
	defer open.Close()
	form = exchangeForm()
	form.Set("audience", otherWorkload)
	if status, tr := postForm(t, open.Client(), open.TokenURL(), form); status != 200 {
		t.Errorf("no providers: %d %+v", status, tr)
	}
	// Workforce sign-in for an unknown provider is refused too.
	q := authorizeParams()
	q.Set("provider_name", "locations/global/workforcePools/other-pool/providers/p")
	if st, got := authorize(t, s, q); st != 302 || got.Get("error") != "invalid_target" {
		t.Errorf("authorize: %d %v", st, got)
	}
}
