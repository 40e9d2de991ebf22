package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// FuzzDecodeError feeds error bodies of both shapes (RFC 6749 and Google
// JSON) and anything else: the decoder must not panic, must strip control
// characters, and must keep what it returns short enough for an error
// message.
func FuzzDecodeError(f *testing.F) {
	for _, s := range []string{
		`{"error":"invalid_grant","error_description":"The subject token is expired."}`,
		`{"error":"invalid_request","error_description":"bad","error_uri":"https://example.com/e"}`,
		`{"error":{"code":403,"message":"Permission denied","status":"PERMISSION_DENIED"}}`,
		`{"error":{"code":"503","message":"unavailable"}}`,
		`{"error":{"code":1e400}}`,
		`{"error":""}`, `{"error":null}`, `{"error":[]}`, `{"error":{}}`,
		`<html><body>502 Bad Gateway</body></html>`, ``, `null`, `[]`,
		`{"error":"a\u0000b\r\nc"}`,
		`{"error":"x","error_description":"SECRET-fuzz\u002dtoken\/+x \u001b[31m\u202e"}`,
	} {
		f.Add([]byte(s))
	}
	const secret = "SECRET-fuzz-token/+x"
	f.Fuzz(func(t *testing.T, body []byte) {
		e, ok := DecodeError(body, []string{secret})
		if !ok {
			return
		}
		if e.Code == "" && e.Description == "" {
			t.Fatal("ok with neither code nor description")
		}
		for name, s := range map[string]string{"code": e.Code, "description": e.Description, "uri": e.URI} {
			if strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) >= 0 {
				t.Fatalf("%s keeps control or format characters: %q", name, s)
			}
			if strings.Contains(s, secret) {
				t.Fatalf("%s keeps the secret: %q", name, s)
			}
			if len(s) > 512+len("…") {
				t.Fatalf("%s is %d bytes long", name, len(s))
			}
		}
		if utf8.Valid(body) && !utf8.ValidString(e.Description) {
			t.Fatalf("truncation split a character: %q", e.Description)
		}
	})
}

// FuzzDecodeGenerateAccessTokenResponse feeds IAM Credentials answers: a
// success must carry a token and a time, and an error must never quote the
// access token.
func FuzzDecodeGenerateAccessTokenResponse(f *testing.F) {
	for _, s := range []string{
		`{"accessToken":"ya29.secret","expireTime":"2026-01-01T00:00:00Z"}`,
		`{"accessToken":"ya29.secret","expireTime":"2026-01-01T00:00:00.123456789+02:00"}`,
		`{"accessToken":"ya29.secret","expireTime":"tomorrow"}`,
		`{"accessToken":"ya29.secret","expireTime":3600}`,
		`{"accessToken":"ya29.secret"}`,
		`{"expireTime":"2026-01-01T00:00:00Z"}`,
		`{"accessToken":7}`, `{"error":{"code":403}}`, `<html>`, ``, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeGenerateAccessTokenResponse(body)
		if err != nil {
			if r != nil {
				t.Fatal("result with error")
			}
			var j struct {
				AccessToken string `json:"accessToken"`
				ExpireTime  any    `json:"expireTime"`
			}
			if json.Unmarshal(body, &j) == nil && len(j.AccessToken) >= 8 && strings.Contains(err.Error(), j.AccessToken) &&
				!strings.Contains(fmt.Sprint(j.ExpireTime), j.AccessToken) {
				t.Fatalf("error quotes the access token: %v", err)
			}
			return
		}
		if r.AccessToken == "" || r.ExpireTime.IsZero() {
			t.Fatalf("accepted an incomplete response: %+v", r)
		}
	})
}

// FuzzParseRetryAfter checks that any header gives a delay within [0, 24h].
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "1", "-5", "120", "99999999999999999999", "Wed, 21 Oct 2015 07:28:00 GMT", "soon", " 7 ",
		"+5", "5.5", "1e3", "0x10", "1_000", "007", "\t3", "5 s", "\u0665", "Thu, 01 Jan 2026 00:00:30 GMT"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, h string) {
		d := ParseRetryAfter(h, now)
		if d < 0 || d > 24*time.Hour {
			t.Fatalf("ParseRetryAfter(%q) = %v", h, d)
		}
		// A delay comes from digits only, or from an HTTP date.
		if s := strings.TrimSpace(h); d > 0 && strings.Trim(s, "0123456789") != "" {
			if _, err := http.ParseTime(s); err != nil {
				t.Fatalf("ParseRetryAfter(%q) = %v from neither digits nor a date", h, d)
			}
		}
	})
}

// FuzzParseSeconds checks expires_in-like values: a number or a string
// holding one, within ten years either way, never a panic.
func FuzzParseSeconds(f *testing.F) {
	for _, s := range []string{`3600`, `"3600"`, `3600.0`, `-1`, `0`, `1e400`, `"abc"`, `null`, `true`, `{}`, `9223372036854775807`, `"  12 "`,
		`"0x1p12"`, `"0x10"`, `"3_600"`, `36e2`, `3.6E3`, `"+3600"`, `"03600"`, `-0`, `"\u0033600"`, `"3600\u0000"`, `"Inf"`,
		`315360001`, `"315360000"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, ok, err := ParseSeconds(raw)
		if err != nil && ok {
			t.Fatal("ok with error")
		}
		if ok && (d > MaxLifetime || d < -MaxLifetime) {
			t.Fatalf("out of range: %v", d)
		}
		if !ok {
			return
		}
		// Only an integer in its one canonical decimal spelling passes
		// (a number, or a string holding one).
		s := string(bytes.TrimSpace(raw))
		var str string
		if json.Unmarshal([]byte(s), &str) == nil {
			s = str
		}
		if n := int64(d / time.Second); strconv.FormatInt(n, 10) != s && s != "-0" {
			t.Fatalf("ParseSeconds(%s) = %v: not the canonical spelling %d", raw, d, n)
		}
	})
}

// FuzzDecodeGenerateIDTokenResponse: never a panic; an error never quotes
// the token; an accepted token has a plausible expiry.
func FuzzDecodeGenerateIDTokenResponse(f *testing.F) {
	for _, s := range []string{
		`{"token":"eyJhbGciOiJub25lIn0.eyJleHAiOjQxMDI0NDQ4MDB9.sig"}`,
		`{"token":"eyJhbGciOiJub25lIn0.eyJleHAiOiI0MTAyNDQ0ODAwIn0.sig"}`,
		`{"token":"a.eyJleHAiOjEuNWUxMH0.c"}`,
		`{"token":"a.bm90IGpzb24.c"}`,
		`{"token":"a.%%%.c"}`,
		`{"token":"only-one-part"}`,
		`{"token":7}`, `{}`, `<html>`, ``, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, exp, err := DecodeGenerateIDTokenResponse(body)
		if err != nil {
			if tok != "" {
				t.Fatal("token with error")
			}
			var j struct {
				Token string `json:"token"`
			}
			if json.Unmarshal(body, &j) == nil && len(j.Token) >= 8 && strings.Contains(err.Error(), j.Token) {
				t.Fatalf("error quotes the token: %v", err)
			}
			return
		}
		if tok == "" || exp.Before(time.Unix(1, 0)) || exp.After(time.Now().Add(MaxLifetime+time.Minute)) {
			t.Fatalf("accepted %q expiring %v", tok, exp)
		}
	})
}
