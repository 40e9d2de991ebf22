package ststest

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// FuzzCheckSubject: the strict subject check never panics, refuses with
// STS's invalid_grant answers only, and accepts a JWT only when its exp is
// in the future.
func FuzzCheckSubject(f *testing.F) {
	s := &Server{URL: "http://x"}
	now := time.Unix(1_800_000_000, 0)
	for _, seed := range []string{
		"hello", "a.b.c", "..", "e30.e30.", s.SubjectJWT("u", "//iam.googleapis.com/x"),
		unsignedJWT(map[string]any{"exp": 1_700_000_000, "iat": 1_699_999_000}),
		unsignedJWT(map[string]any{"exp": "1900000000"}),
		unsignedJWT(map[string]any{"exp": 1.9e9}),
		base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"exp":1e308}`)) + ".c2ln",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		oe := s.checkSubject(typeJWT, token, now)
		if oe == nil {
			claims, ok := parseJWT(token)
			exp, okExp := numericClaim(claims, "exp")
			if !ok || !okExp || exp <= float64(now.Unix()) {
				t.Fatalf("accepted %q", token)
			}
			return
		}
		if oe.status != 400 || oe.code != "invalid_grant" ||
			(oe.desc != descUnparsableJWT && !strings.HasSuffix(oe.desc, " is stale to sign-in.")) {
			t.Fatalf("refusal %+v", oe)
		}
		if s.checkSubject(typeSAML2, token, now) != nil {
			t.Fatal("a SAML subject was parsed as a JWT")
		}
	})
}
