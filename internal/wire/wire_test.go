package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stsgo/sts/internal/scrub"
)

func TestFormEncoding(t *testing.T) {
	r := TokenRequest{
		RequestedTokenType: "urn:ietf:params:oauth:token-type:access_token",
		SubjectToken:       "subj",
		SubjectTokenType:   "urn:ietf:params:oauth:token-type:jwt",
		Audience:           "//iam.googleapis.com/x",
		Scopes:             []string{"a", "b"},
		Options:            `{"userProject":"p"}`,
		ActorToken:         "act",
		ActorTokenType:     "urn:ietf:params:oauth:token-type:jwt",
		Resource:           "https://r",
	}
	got := r.Form()
	want := map[string][]string{
		"grant_type":           {GrantTypeTokenExchange},
		"requested_token_type": {r.RequestedTokenType},
		"subject_token":        {"subj"},
		"subject_token_type":   {r.SubjectTokenType},
		"audience":             {r.Audience},
		"scope":                {"a b"},
		"options":              {`{"userProject":"p"}`},
		"actor_token":          {"act"},
		"actor_token_type":     {r.ActorTokenType},
		"resource":             {"https://r"},
	}
	if d := cmp.Diff(want, map[string][]string(got)); d != "" {
		t.Fatalf("form (-want +got):\n%s", d)
	}
	min := (&TokenRequest{SubjectToken: "s", SubjectTokenType: "t"}).Form()
	for _, k := range []string{"audience", "scope", "options", "actor_token", "actor_token_type", "resource", "requested_token_type"} {
		if min.Has(k) {
			t.Errorf("empty field %s encoded", k)
		}
	}
}

func TestDecodeTokenResponse(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		want    *TokenResponse
		wantErr string
	}{
		{"number", `{"access_token":"a","token_type":"Bearer","expires_in":3600,"issued_token_type":"x"}`,
			&TokenResponse{AccessToken: "a", TokenType: "Bearer", ExpiresIn: time.Hour, HasExpiresIn: true, IssuedTokenType: "x"}, ""},
		{"string", `{"access_token":"a","expires_in":"3600"}`, &TokenResponse{AccessToken: "a", ExpiresIn: time.Hour, HasExpiresIn: true}, ""},
		{"float", `{"access_token":"a","expires_in":3600.0}`, nil, "not an integer"},
		{"missing", `{"access_token":"a","token_type":"Bearer"}`, &TokenResponse{AccessToken: "a", TokenType: "Bearer"}, ""},
		{"null", `{"access_token":"a","expires_in":null}`, &TokenResponse{AccessToken: "a"}, ""},
		{"session key", `{"access_token":"a","expires_in":1,"access_boundary_session_key":"k","refresh_token":"r","id_token":"i"}`,
			&TokenResponse{AccessToken: "a", ExpiresIn: time.Second, HasExpiresIn: true, SessionKey: "k", RefreshToken: "r", IDToken: "i"}, ""},
		{"na type", `{"access_token":"a","token_type":"N_A"}`, &TokenResponse{AccessToken: "a", TokenType: "N_A"}, ""},
		{"no token", `{"token_type":"Bearer","expires_in":3600}`, nil, "no access_token"},
		{"zero", `{"access_token":"a","expires_in":0}`, nil, "must be positive"},
		{"negative", `{"access_token":"a","expires_in":-5}`, nil, "must be positive"},
		{"huge", `{"access_token":"a","expires_in":99999999999999}`, nil, "out of range"},
		{"fraction", `{"access_token":"a","expires_in":1.5}`, nil, "not an integer"},
		{"word", `{"access_token":"a","expires_in":"soon"}`, nil, "not an integer"},
		{"bool", `{"access_token":"a","expires_in":true}`, nil, "not an integer"},
		{"mac", `{"access_token":"a","token_type":"MAC"}`, nil, "not Bearer"},
		{"html", `<html>502</html>`, nil, "not valid JSON"},
		{"truncated", `{"access_token":"a","expi`, nil, "JSON"},
		{"empty", ``, nil, "empty response body"},
		{"array", `[]`, nil, "wrong type"},
		{"token number", `{"access_token":5}`, nil, "wrong type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeTokenResponse([]byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), `"a"`) && strings.Contains(tc.body, `"access_token":"a"`) {
					t.Fatalf("error quotes the body: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Fatalf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestDecodeError(t *testing.T) {
	cases := []struct {
		body string
		want ErrorBody
		ok   bool
	}{
		{`{"error":"invalid_grant","error_description":"The token is expired.","error_uri":"https://e"}`,
			ErrorBody{"invalid_grant", "The token is expired.", "https://e"}, true},
		{`{"error":{"code":403,"message":"Permission denied.","status":"PERMISSION_DENIED"}}`,
			ErrorBody{Code: "PERMISSION_DENIED", Description: "Permission denied."}, true},
		{`{"error":{"code":"404","message":"nope"}}`, ErrorBody{Code: "404", Description: "nope"}, true},
		{`{"error":"x","error_description":"line1\nline2"}`, ErrorBody{Code: "x", Description: "line1 line2"}, true},
		{`<html>`, ErrorBody{}, false},
		{`{}`, ErrorBody{}, false},
		{`{"error":""}`, ErrorBody{}, false},
		{`{"error":42}`, ErrorBody{}, false},
		{`{"error":{}}`, ErrorBody{}, false},
	}
	for _, tc := range cases {
		got, ok := DecodeError([]byte(tc.body), nil)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("DecodeError(%s) = %+v, %v; want %+v, %v", tc.body, got, ok, tc.want, tc.ok)
		}
	}
	long := `{"error":"e","error_description":"` + strings.Repeat("x", 5000) + `"}`
	got, _ := DecodeError([]byte(long), nil)
	if len(got.Description) > 520 {
		t.Errorf("description not truncated: %d bytes", len(got.Description))
	}
}

func TestReadBodyLimit(t *testing.T) {
	if _, err := ReadBody(bytes.NewReader(make([]byte, MaxBodySize))); err != nil {
		t.Fatalf("1 MiB body: %v", err)
	}
	if _, err := ReadBody(bytes.NewReader(make([]byte, MaxBodySize+1))); err != ErrBodyTooLarge {
		t.Fatalf("1 MiB + 1 body: err = %v", err)
	}
}

// TestParseJSONIntForms: integers as JSON numbers or strings holding a JSON
// integer are accepted; every other spelling of a number is refused.
func TestParseJSONIntForms(t *testing.T) {
	for raw, want := range map[string]int64{
		`3600`: 3600, `"3600"`: 3600, ` 3600 `: 3600, `0`: 0, `-5`: -5, `"-5"`: -5, `"0"`: 0, `-0`: 0,
		`9223372036854775807`: math.MaxInt64, `"-9223372036854775808"`: math.MinInt64,
	} {
		got, err := ParseJSONInt(json.RawMessage(raw))
		if err != nil || got != want {
			t.Errorf("ParseJSONInt(%s) = %d, %v; want %d", raw, got, err, want)
		}
	}
	for raw, want := range map[string]string{
		`3600.0`: "not an integer", `"3600.0"`: "not an integer", `3600.5`: "not an integer",
		`3.6e3`: "not an integer", `36e2`: "not an integer", `"36E2"`: "not an integer", `1e400`: "not an integer",
		`"0x10"`: "not an integer", `"0x1p12"`: "not an integer", `"0X1P-2"`: "not an integer", `"0b101"`: "not an integer",
		`"0o17"`: "not an integer", `"3_600"`: "not an integer", `"1_0"`: "not an integer", `"+3600"`: "not an integer",
		`"03600"`: "not an integer", `"00"`: "not an integer", `"-03"`: "not an integer", `" 3600"`: "not an integer",
		`"3600 "`: "not an integer", `"\t3600"`: "not an integer", `"3600\n"`: "not an integer", `""`: "not an integer",
		`"-"`: "not an integer", `"Inf"`: "not an integer", `"NaN"`: "not an integer", `"infinity"`: "not an integer",
		`"３６００"`: "not an integer", `"3600s"`: "not an integer", `"١٢"`: "not an integer",
		`9223372036854775808`: "out of range", `"-9223372036854775809"`: "out of range",
		`99999999999999999999999`: "out of range", `true`: "not an integer", `{}`: "not an integer", `[1]`: "not an integer",
		`"\u0033600"`: "", // an escaped digit is still the digit 3: accepted below
	} {
		if want == "" {
			continue
		}
		got, err := ParseJSONInt(json.RawMessage(raw))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseJSONInt(%s) = %d, %v; want an error saying %q", raw, got, err, want)
		}
	}
	if got, err := ParseJSONInt(json.RawMessage(`"\u0033600"`)); err != nil || got != 3600 {
		t.Errorf("escaped digit: %d, %v", got, err)
	}
}

// TestParseSecondsBounds: expires_in-like values past ten years are refused
// (they would reach beyond year 2262 in nanoseconds for the cache), and
// missing or null is "absent", not zero.
func TestParseSecondsBounds(t *testing.T) {
	if d, ok, err := ParseSeconds(json.RawMessage(`315360000`)); err != nil || !ok || d != MaxLifetime {
		t.Errorf("ten years: %v %v %v", d, ok, err)
	}
	for _, raw := range []string{`315360001`, `"315360001"`, `9223372036`, `9223372037`, `9223372036854775807`, `-315360001`} {
		if _, ok, err := ParseSeconds(json.RawMessage(raw)); err == nil || ok || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("ParseSeconds(%s): ok %v, err %v; want out of range", raw, ok, err)
		}
	}
	for _, raw := range []string{``, `null`, ` null `} {
		if _, ok, err := ParseSeconds(json.RawMessage(raw)); ok || err != nil {
			t.Errorf("ParseSeconds(%q): ok %v, err %v; want absent", raw, ok, err)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		"-1":                            0,
		"x":                             0,
		"999999999":                     24 * time.Hour,
		"99999999999999999999999999":    24 * time.Hour,  // beyond int64: still a long delay
		"007":                           7 * time.Second, // 1*DIGIT allows leading zeros
		" 12 ":                          12 * time.Second,
		"+5":                            0,
		"5.5":                           0,
		"1e3":                           0,
		"0x10":                          0,
		"1_000":                         0,
		"5 s":                           0,
		"５":                             0,
		"0":                             0,
		"Thu, 01 Jan 2026 00:00:30 GMT": 30 * time.Second,
		"Wed, 31 Dec 2025 00:00:00 GMT": 0,
	}
	for h, want := range cases {
		if got := ParseRetryAfter(h, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", h, got, want)
		}
	}
}

func FuzzDecodeTokenResponse(f *testing.F) {
	for _, s := range []string{
		`{"access_token":"a","token_type":"Bearer","expires_in":3600}`,
		`{"access_token":"a","expires_in":"3600"}`,
		`{"access_token":"a","expires_in":1e400}`,
		`{"error":"invalid_grant"}`,
		`{"error":{"code":403,"message":"m","status":"S"}}`,
		`<html></html>`, ``, `null`, `{"expires_in":-1}`,
		`{"access_token":"a","ACCESS_TOKEN":"b","expires_in":1}`, `{"access_token":"a","access_token":"b"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeTokenResponse(body)
		if err == nil {
			if r.AccessToken == "" {
				t.Fatal("accepted a response without access_token")
			}
			if r.HasExpiresIn && r.ExpiresIn <= 0 {
				t.Fatal("accepted a non-positive lifetime")
			}
			// The token is the one exactly named access_token: no case
			// variant or later duplicate stood in for it.
			var m map[string]json.RawMessage
			var at string
			if json.Unmarshal(body, &m) != nil || json.Unmarshal(m["access_token"], &at) != nil || at != r.AccessToken {
				t.Fatalf("access_token %q is not the exactly named member %q", r.AccessToken, at)
			}
		}
		e, ok := DecodeError(body, nil)
		if ok && e.Code == "" && e.Description == "" {
			t.Fatal("ok error with nothing in it")
		}
		var raw json.RawMessage
		if json.Unmarshal(body, &raw) == nil {
			ParseSeconds(raw)
		}
	})
}

// TestAnswerMemberNames: the protocols' member names are case-sensitive
// and appear once. encoding/json alone would fill expires_in from
// "EXPIRES_IN" (or "expires_\u0131n"-style folds) and keep the last of
// duplicates; such answers are refused naming the member. Unknown members
// and nested objects are not concerned.
func TestAnswerMemberNames(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"upper case", `{"access_token":"a","EXPIRES_IN":3600}`, `response member "EXPIRES_IN" is not "expires_in"`},
		{"mixed case", `{"Access_Token":"a","expires_in":3600}`, `response member "Access_Token" is not "access_token"`},
		{"kelvin fold", `{"access_token":"a","expires_in":3600,"to\u212aen_type":"Bearer"}`, `response member "to\u212aen_type" is not "token_type"`},
		{"duplicate", `{"access_token":"a","expires_in":3600,"expires_in":99999}`, `response member "expires_in" appears more than once`},
		{"escaped duplicate", `{"access_token":"a","access_\u0074oken":"b","expires_in":1}`, `response member "access_token" appears more than once`},
		{"variant after the real one", `{"access_token":"a","expires_in":3600,"Expires_In":1}`, `is not "expires_in"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeTokenResponse([]byte(tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	for _, body := range []string{
		`{"access_token":"a","expires_in":3600,"other":{"expires_in":1,"EXPIRES_IN":2},"list":[{"access_token":"x"}]}`,
		`{"access_token":"a","expires_in":3600,"expires":5,"x_expires_in":1}`,
	} {
		if r, err := DecodeTokenResponse([]byte(body)); err != nil || r.ExpiresIn != time.Hour {
			t.Errorf("%s: %v, %v", body, r, err)
		}
	}
	if _, err := DecodeGenerateAccessTokenResponse([]byte(`{"accessToken":"a","ExpireTime":"2030-01-01T00:00:00Z"}`)); err == nil || !strings.Contains(err.Error(), `"ExpireTime" is not "expireTime"`) {
		t.Errorf("IAM answer: %v", err)
	}
	if err := CheckMembers([]byte(`{"token":"a","Token":"b"}`), "token"); err == nil {
		t.Error("CheckMembers accepted a case variant")
	}
	for _, body := range []string{``, `[`, `{"a"`, `{"token":`, `[{"token":1,"token":2}]`, `"token"`} {
		if err := CheckMembers([]byte(body), "token"); err != nil {
			t.Errorf("CheckMembers(%q) = %v, want the decoder to judge", body, err)
		}
	}
}

// TestReadBodyOf: a body is read into a buffer of its declared length, and
// one that is shorter than declared fails; one longer than declared (from a
// transport that does not hold it to its length) is read whole, through the
// limit; an undeclared length is read as ReadBody reads.
func TestReadBodyOf(t *testing.T) {
	resp := func(body string, n int64) *http.Response {
		return &http.Response{Body: io.NopCloser(strings.NewReader(body)), ContentLength: n}
	}
	for _, tc := range []struct {
		name, body string
		n          int64
		want       string
		err        error
	}{
		{"declared", "hello", 5, "hello", nil},
		{"empty", "", 0, "", nil},
		{"undeclared", "hello", -1, "hello", nil},
		{"shorter", "hel", 5, "", io.ErrUnexpectedEOF},
		{"longer", "hello world", 5, "hello world", nil},
		{"declared too large", "x", MaxBodySize + 1, "x", nil},
	} {
		got, err := ReadBodyOf(resp(tc.body, tc.n))
		if string(got) != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("%s: %q, %v; want %q, %v", tc.name, got, err, tc.want, tc.err)
		}
		if tc.n >= 0 && int64(len(tc.body)) == tc.n && cap(got) != len(got) {
			t.Errorf("%s: capacity %d for %d bytes", tc.name, cap(got), len(got))
		}
	}
	big := strings.Repeat("x", MaxBodySize+1)
	if _, err := ReadBodyOf(resp(big, 10)); !errors.Is(err, ErrBodyTooLarge) {
		t.Errorf("longer than declared and than the limit: %v", err)
	}
}

// checkMembersDecoder is CheckMembers as it was written with encoding/json's
// tokenizer: the reference FuzzCheckMembers holds the scanner to.
func checkMembersDecoder(body []byte, names ...string) error {
	if len(names) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var seen []string
	depth := 1
	for depth > 0 {
		tok, err := dec.Token()
		if err != nil {
			return nil // the decoder reports syntax
		}
		if depth == 1 {
			key, ok := tok.(string)
			if !ok { // the end of the object
				return nil
			}
			for _, n := range names {
				if !strings.EqualFold(key, n) {
					continue
				}
				if key != n {
					return fmt.Errorf("member %s is not %q: member names are case-sensitive", strconv.QuoteToASCII(scrub.Truncate(key, 64)), n)
				}
				if slices.Contains(seen, n) {
					return fmt.Errorf("member %q appears more than once", n)
				}
				seen = append(seen, n)
			}
			// The member's value: a scalar, or a nested object or
			// array to skip.
			if tok, err = dec.Token(); err != nil {
				return nil
			}
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// FuzzCheckMembers: CheckMembers refuses what the tokenizer version refused,
// with the same message, and nothing else.
func FuzzCheckMembers(f *testing.F) {
	for _, s := range []string{`{"token":"a","Token":"b"}`, `{"token":"a","token":"b"}`, `{"to\u006ben":1,"token":2}`,
		`{"a":{"token":1,"token":2},"token":3}`, `{"\u212aey":1}`, `{"token":1,}`, `[{"token":1},{"token":2}]`, `{"token" 1}`,
		`{"x":[1,{"y":"z"}],"TOKEN":"q"}`, `{"token":"\xff","\xff":1}`, `{"tok\u0065n":1, "expires_in":2}`, ` { "EXPIRES_IN" : 1e9 } `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, want := CheckMembers(body, "token", "expires_in", "key"), checkMembersDecoder(body, "token", "expires_in", "key")
		if (got == nil) != (want == nil) || got != nil && got.Error() != want.Error() {
			t.Errorf("CheckMembers(%q) = %v; the tokenizer says %v", body, got, want)
		}
	})
}
