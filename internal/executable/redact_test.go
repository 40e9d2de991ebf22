package executable

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"error: permission denied", "error: permission denied"},
		{"token " + secretToken + " rejected", "token " + Redacted + " rejected"},
		{"bearer eyJhbGciOi", "bearer " + Redacted},
		{"key=" + strings.Repeat("QUJD", 10), "key=" + Redacted},
		{"secret: aB3dE5gH7jK9mN1p", "secret: " + Redacted},
		{"file /etc/idp/config.json not found", "file /etc/idp/config.json not found"},
		{"line1\nline2\x1b[31m\u202e", "line1 line2"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestClip(t *testing.T) {
	s := strings.Repeat("é", 200)
	c := clip(s, 255)
	if !utf8.ValidString(c) || len(c) > 255+len("…") {
		t.Fatalf("clip gave %d bytes, valid %t", len(c), utf8.ValidString(c))
	}
	if clip("short", 10) != "short" {
		t.Fatal("clip changed a short string")
	}
}

// TestRedactCredentialShapes: the shapes in which an executable's stderr
// (or failure message) can carry a credential: after a scheme, after a
// name and a colon or an equals sign, quoted or not, in JSON and escaped
// JSON, URL-encoded, and token-shaped runs on their own (JWTs with other
// headers or padding, long base64url, hexadecimal keys). No part of six
// bytes or more of the secret may be left; plain diagnostics stay as
// they are.
func TestRedactCredentialShapes(t *testing.T) {
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
	cases := []struct{ text, secret string }{
		{"Authorization: Bearer abc123def", "abc123def"},
		{"authorization: bearer sk_live_x", "sk_live_x"},
		{"Bearer sk.live-short", "sk.live-short"},
		{"authorization=Bearer q1w2e3r4", "q1w2e3r4"},
		{"Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="},
		{`{"access_token":"ya29.a0short"}`, "ya29.a0short"},
		{`{"access_token": "x!y@z#secretvalue", "expires_in": 3600}`, "x!y@z#secretvalue"},
		{`{\"access_token\":\"ya29.a0short\"}`, "ya29.a0short"},
		{`{\"id_token\":\"p q r s secret\"}`, "p q r s secret"},
		{`"client_secret" : "GOCSPX-abcdEFGH"`, "GOCSPX-abcdEFGH"},
		{"token=abcdefghij1234", "abcdefghij1234"},
		{"refresh_token=1//0gabc&scope=x", "1//0gabc"},
		{"access_token=abc%2Bdef%2Fghi%3D%3Dxyz012", "abc%2Bdef%2Fghi%3D%3Dxyz012"},
		{"subject_token%3DeyJhbGciOi%3D%3D.eyJzdWIi%3D.sig", "eyJhbGciOi%3D%3D.eyJzdWIi%3D.sig"},
		{"secret=abc\\/def\\u002bghijk", "abc\\/def\\u002bghijk"},
		{"password=p@ss!word", "p@ss!word"},
		{"password='p@ss word!'", "p@ss word!"},
		{"X-Api-Key: AIzaSyA1b2", "AIzaSyA1b2"},
		{"key: a1b2c3d4e5f6a7b8c9d0", "a1b2c3d4e5f6a7b8c9d0"},
		{"token: 0123456789abcdef0123", "0123456789abcdef0123"},
		{"saw 0123456789abcdef0123456789 in output", "0123456789abcdef0123456789"},
		{"got " + strings.ReplaceAll(jwt, "eyJ", "ewo"), strings.ReplaceAll(jwt, "eyJ", "ewo")},
		{"got ewogICJhbGciOiAiUlMyNTYiCn0=.ewogICJzdWIiOiAieCIKfQ==.c2ln", "ewogICJhbGciOiAiUlMyNTYiCn0=.ewogICJzdWIiOiAieCIKfQ==.c2ln"},
		{"jwt " + jwt + "==", jwt},
		{"zero\u200bwidth: AbCdEf\u200b0123456789xyz", "AbCdEf"},
		{"session: s3ss10n-v4lue", "s3ss10n-v4lue"},
		{"Cookie: SID=abcdef123", "abcdef123"},
	}
	leftover := func(out, secret string) string {
		const n = 6
		if len(secret) < n {
			if strings.Contains(out, secret) {
				return secret
			}
			return ""
		}
		for i := 0; i+n <= len(secret); i++ {
			if strings.Contains(out, secret[i:i+n]) {
				return secret[i : i+n]
			}
		}
		return ""
	}
	for _, c := range cases {
		if got := Redact(c.text); leftover(got, c.secret) != "" {
			t.Errorf("Redact(%q) = %q: %q is left", c.text, got, leftover(got, c.secret))
		}
	}
	t.Logf("redaction corpus: %d credential shapes", len(cases))
	for _, plain := range []string{
		"error: permission denied",
		"token expired at 12:00; exit code 1",
		"lookup sts.googleapis.com: no such host",
		"file /etc/idp/config.json not found",
		"open /var/run/secrets/tokens/gcp-ksa: permission denied",
		"the key file is missing",
	} {
		if got := Redact(plain); got != plain {
			t.Errorf("Redact(%q) = %q, want it unchanged", plain, got)
		}
	}
}

// FuzzRedact: whatever an executable writes, Redact's text is valid UTF-8
// without control or format characters, and a credential given after
// a line "token: " never survives.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"error: permission denied", `{"access_token":"x"}`, "Bearer abc", "a\x1b[31mb", "secret=p%41ss\\u002b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Redact(s)
		if !utf8.ValidString(out) || strings.IndexFunc(out, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) >= 0 {
			t.Fatalf("Redact(%q) = %q", s, out)
		}
		const cred = "Zq9xW2vK7pL4"
		if out := Redact(s + "\ntoken: " + cred); strings.Contains(out, cred) {
			t.Fatalf("credential survived: %q", out)
		}
	})
}
