package ststest

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzCheckSubject: the strict subject check never panics, refuses with
// STS's invalid_grant answers only, and accepts a JWT only when its exp is
// in the future and, checking audiences, when its aud is an allowed one.
func FuzzCheckSubject(f *testing.F) {
	const aud = "//iam.googleapis.com/x"
	s := &Server{URL: "http://x"}
	strict := &Server{URL: "http://x", opts: Options{CheckSubjectAudience: true, AllowedAudiences: []string{"other"}}}
	now := time.Unix(1_800_000_000, 0)
	for _, seed := range []string{
		"hello", "a.b.c", "..", "e30.e30.", s.SubjectJWT("u", aud),
		unsignedJWT(map[string]any{"exp": 1_900_000_000, "aud": []any{"x", "other"}}),
		unsignedJWT(map[string]any{"exp": 1_900_000_000, "aud": []any{"https://iam.googleapis.com/x", 1}}),
		unsignedJWT(map[string]any{"exp": 1_900_000_000, "aud": nil}),
		unsignedJWT(map[string]any{"exp": 1_700_000_000, "iat": 1_699_999_000}),
		unsignedJWT(map[string]any{"exp": "1900000000"}),
		unsignedJWT(map[string]any{"exp": 1.9e9}),
		base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"exp":1e308}`)) + ".c2ln",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		oe := s.checkSubject(typeJWT, token, aud, now)
		if soe := strict.checkSubject(typeJWT, token, aud, now); soe == nil {
			claims, _ := parseJWT(token)
			var auds []string
			var one string
			if json.Unmarshal(claims["aud"], &one) == nil {
				auds = []string{one}
			} else {
				_ = json.Unmarshal(claims["aud"], &auds)
			}
			if oe != nil || (!slices.Contains(auds, "https:"+aud) && !slices.Contains(auds, "other")) {
				t.Fatalf("accepted %q checking audiences", token)
			}
		} else if oe == nil && (soe.status != 400 || soe.code != "invalid_grant" || soe.desc != descWrongAudience) {
			t.Fatalf("refusal checking audiences %+v", soe)
		}
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
		if s.checkSubject(typeSAML2, token, aud, now) != nil || strict.checkSubject(typeSAML2, token, aud, now) != nil {
			t.Fatal("a SAML subject was parsed as a JWT")
		}
	})
}
