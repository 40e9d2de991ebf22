package wire

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzScanTokenResponse: every answer the scanner reads, encoding/json
// reads too, into the same fields and the same raw expires_in; and a
// well-formed answer is read by the scanner.
func FuzzScanTokenResponse(f *testing.F) {
	for _, s := range []string{
		`{"access_token":"a","token_type":"Bearer","expires_in":3600}`,
		`{"access_token":"a","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":3599}`,
		` { "access_token" : "a" , "expires_in" : "3600" , "x" : [1, {"y": [true, false, null, -0.5e+3]}, "\u00e9\n"] } `,
		`{"access_token":"a","access_token":null,"scope":"s","id_token":"i","refresh_token":"r","access_boundary_session_key":"k"}`,
		`{"Access_Token":"a"}`, `{"access_token":"\u0061"}`, `{"access_token":"é"}`, `{}`, `[]`, `null`, `"x"`,
		`{"access_token":"a",}`, `{"access_token":"a"} x`, `{"a":01}`, `{"a":1.}`, `{"a":"\x"}`, `{"expires_in":[[[]]]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got TokenResponse
		var gotExp []byte
		if !scanTokenResponse(body, &got, &gotExp) {
			return
		}
		var want TokenResponse
		var wantExp []byte
		if err := decodeTokenResponseJSON(body, &want, &wantExp); err != nil {
			t.Fatalf("scanned %q, which encoding/json refuses: %v", body, err)
		}
		if cmp.Diff(want, got) != "" || !bytes.Equal(gotExp, wantExp) || (gotExp == nil) != (wantExp == nil) {
			t.Fatalf("%q: scanned %+v, expires_in %q; encoding/json: %+v, %q", body, got, gotExp, want, wantExp)
		}
	})
}

// TestScanTokenResponseReadsCommonAnswers: the answers of STS, Google's
// OAuth endpoint and the emulator are read by the scanner, with one
// allocation for the response and one per string that is not a common
// value (token types are shared).
func TestScanTokenResponseReadsCommonAnswers(t *testing.T) {
	for _, tc := range []struct {
		body   string
		allocs float64
	}{
		{`{"access_token":"ya29.abc","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":3599}`, 2},
		{"{\n  \"access_token\": \"ya29.abc\",\n  \"expires_in\": 3599,\n  \"scope\": \"openid\",\n  \"token_type\": \"Bearer\",\n  \"id_token\": \"eyJ.x.y\"\n}\n", 4},
		{`{"access_token":"ya29.abc","issued_token_type":"urn:ietf:params:oauth:token-type:access_boundary_intermediary_token","token_type":"N_A","access_boundary_session_key":"CiQ="}`, 3},
	} {
		body := tc.body
		var r TokenResponse
		var exp []byte
		if !scanTokenResponse([]byte(body), &r, &exp) || r.AccessToken != "ya29.abc" {
			t.Errorf("not scanned: %s", body)
		}
		b := []byte(body)
		if n := testing.AllocsPerRun(50, func() {
			if _, err := DecodeTokenResponse(b); err != nil {
				t.Fatal(err)
			}
		}); n != tc.allocs {
			t.Errorf("%v allocations decoding %s; want %v", n, body, tc.allocs)
		}
	}
}

// FuzzParseJSONInt: the integer read is strconv's reading of the same
// digits, and anything strconv refuses is refused.
func FuzzParseJSONInt(f *testing.F) {
	for _, s := range []string{"0", "-0", "3600", `"3600"`, "9223372036854775807", "-9223372036854775808",
		"9223372036854775808", "-9223372036854775809", "01", "1e3", " 7 ", `"-1"`, "-", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseJSONInt([]byte(s))
		digits := strings.TrimSpace(s)
		if u, e := strconv.Unquote(digits); e == nil && strings.HasPrefix(digits, `"`) {
			digits = u
		}
		want, werr := strconv.ParseInt(digits, 10, 64)
		if err == nil && (werr != nil || n != want) {
			t.Fatalf("ParseJSONInt(%q) = %d; strconv: %d, %v", s, n, want, werr)
		}
	})
}
