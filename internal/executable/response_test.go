package executable

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// secretToken is a token-shaped value the tests watch for in error text.
const secretToken = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJTRUNSRVQtU1VCSkVDVCJ9.c2lnbmF0dXJlLVNFQ1JFVA"

var testNow = time.Unix(1_700_000_000, 0)

func okJSON(tokenType, field string, exp int64) string {
	s := fmt.Sprintf(`{"version":1,"success":true,"token_type":%q,%q:%q`, tokenType, field, secretToken)
	if exp != 0 {
		s += fmt.Sprintf(`,"expiration_time":%d`, exp)
	}
	return s + "}"
}

func parseValidate(s, want string, requireExpiry bool) (string, time.Time, error) {
	r, err := ParseResponse([]byte(s))
	if err != nil {
		return "", time.Time{}, err
	}
	return Validate(r, want, testNow, requireExpiry)
}

func TestValidateSuccess(t *testing.T) {
	exp := testNow.Add(time.Hour).Unix()
	for _, tt := range []struct{ typ, field string }{
		{TokenTypeIDToken, "id_token"},
		{TokenTypeJWT, "id_token"},
		{TokenTypeSAML2, "saml_response"},
	} {
		tok, gotExp, err := parseValidate(okJSON(tt.typ, tt.field, exp), tt.typ, true)
		if err != nil || tok != secretToken || gotExp.Unix() != exp {
			t.Errorf("%s: got (%t, %v, %v)", tt.typ, tok == secretToken, gotExp, err)
		}
	}
	// Without an output file, expiration_time is optional.
	tok, gotExp, err := parseValidate(okJSON(TokenTypeIDToken, "id_token", 0), TokenTypeIDToken, false)
	if err != nil || tok != secretToken || !gotExp.IsZero() {
		t.Errorf("no expiry: got (%t, %v, %v)", tok == secretToken, gotExp, err)
	}
	// Surrounding white space and 1.0 are fine.
	if _, _, err := parseValidate("\n "+strings.Replace(okJSON(TokenTypeIDToken, "id_token", 0), `"version":1`, `"version":1.0`, 1)+"\n", TokenTypeIDToken, false); err != nil {
		t.Errorf("version 1.0: %v", err)
	}
}

func TestValidateRules(t *testing.T) {
	future := testNow.Add(time.Hour).Unix()
	tests := []struct {
		name, in, want string
		typ            string
		requireExpiry  bool
		check          func(error) bool
	}{
		{name: "empty", in: "", want: "empty output"},
		{name: "not object", in: `["x"]`, want: "not a JSON object"},
		{name: "garbage", in: "Token: " + secretToken, want: "not a JSON object"},
		{name: "truncated", in: `{"version":1,"success":tr`, want: "malformed JSON"},
		{name: "trailing", in: okJSON(TokenTypeIDToken, "id_token", 0) + " x", want: "malformed JSON"},
		{name: "missing version", in: `{"success":true}`, want: "missing version"},
		{name: "version 2", in: `{"version":2,"success":true}`, want: "unsupported version 2"},
		{name: "version string", in: `{"version":"1","success":true}`, want: "version must be a number"},
		{name: "version fraction", in: `{"version":1.5,"success":true}`, want: "version must be an integer"},
		{name: "missing success", in: `{"version":1}`, want: "missing success"},
		{name: "success string", in: `{"version":1,"success":"true"}`, want: "success must be a boolean"},
		{name: "missing token type", in: `{"version":1,"success":true,"id_token":"x"}`, want: "missing token_type"},
		{name: "token type number", in: `{"version":1,"success":true,"token_type":5}`, want: "token_type must be a string"},
		{name: "unknown token type", in: `{"version":1,"success":true,"token_type":"urn:x:` + secretToken + `","id_token":"x"}`, want: "unsupported token_type"},
		{name: "access token type", in: okJSON("urn:ietf:params:oauth:token-type:access_token", "id_token", 0), want: "unsupported token_type"},
		{name: "type mismatch", in: okJSON(TokenTypeJWT, "id_token", 0), typ: TokenTypeIDToken, want: "does not match the configured subject token type"},
		{name: "saml wants saml_response", in: okJSON(TokenTypeSAML2, "id_token", 0), typ: TokenTypeSAML2, want: "missing saml_response"},
		{name: "id token wants id_token", in: okJSON(TokenTypeIDToken, "saml_response", 0), want: "missing id_token"},
		{name: "empty id_token", in: `{"version":1,"success":true,"token_type":"` + TokenTypeIDToken + `","id_token":""}`, want: "missing id_token"},
		{name: "id_token number", in: `{"version":1,"success":true,"token_type":"` + TokenTypeIDToken + `","id_token":12}`, want: "id_token must be a string"},
		{name: "expiry required", in: okJSON(TokenTypeIDToken, "id_token", 0), requireExpiry: true, want: "missing expiration_time"},
		{name: "expiry string", in: strings.Replace(okJSON(TokenTypeIDToken, "id_token", future), fmt.Sprint(future), `"soon"`, 1), want: "expiration_time must be a number"},
		{name: "expired", in: okJSON(TokenTypeIDToken, "id_token", testNow.Add(-time.Second).Unix()), want: "expired", check: func(err error) bool { return errors.Is(err, ErrExpired) }},
		{name: "within skew", in: okJSON(TokenTypeIDToken, "id_token", testNow.Add(ExpirySkew).Unix()), want: "expired", check: func(err error) bool { return errors.Is(err, ErrExpired) }},
		{name: "failure", in: `{"version":1,"success":false,"code":"401","message":"Caller not authorized."}`, want: `code "401": Caller not authorized.`,
			check: func(err error) bool {
				var fe *FailureError
				return errors.As(err, &fe) && fe.Code == "401" && fe.Message == "Caller not authorized."
			}},
		{name: "failure without code", in: `{"version":1,"success":false}`, want: "(no code)"},
		{name: "failure leaking token", in: `{"version":1,"success":false,"code":"X","message":"bad token ` + secretToken + `"}`, want: "bad token " + Redacted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ := tt.typ
			if typ == "" {
				typ = TokenTypeIDToken
			}
			tok, _, err := parseValidate(tt.in, typ, tt.requireExpiry)
			if err == nil {
				t.Fatalf("no error (token returned: %t)", tok != "")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secretToken) || strings.Contains(err.Error(), "eyJ") {
				t.Errorf("error %q leaks the token", err)
			}
			if tt.check != nil && !tt.check(err) {
				t.Errorf("error %#v fails its check", err)
			}
		})
	}
}

func TestWithinSkewBoundary(t *testing.T) {
	in := okJSON(TokenTypeIDToken, "id_token", testNow.Add(ExpirySkew+time.Second).Unix())
	if _, _, err := parseValidate(in, TokenTypeIDToken, true); err != nil {
		t.Fatalf("token expiring just past the margin: %v", err)
	}
}

func TestResponseStringHidesToken(t *testing.T) {
	r, err := ParseResponse([]byte(okJSON(TokenTypeIDToken, "id_token", 0)))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprint(r), fmt.Sprintf("%v %+v %#v %s", r, r, r, r)} {
		if strings.Contains(s, secretToken) {
			t.Fatalf("%q leaks the token", s)
		}
	}
	res := Result{Token: secretToken, FromFile: true}
	if s := fmt.Sprintf("%v %+v %#v %s", res, res, res, res); strings.Contains(s, secretToken) {
		t.Fatalf("%q leaks the token", s)
	}
}

// longTokenRun reports a run of 32 or more token characters in s.
func longTokenRun(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		if tokenByte(s[i]) {
			n++
			if n >= 32 {
				return true
			}
		} else {
			n = 0
		}
	}
	return false
}

func FuzzParseResponse(f *testing.F) {
	exp := testNow.Add(time.Hour).Unix()
	for _, s := range []string{
		okJSON(TokenTypeIDToken, "id_token", exp),
		okJSON(TokenTypeSAML2, "saml_response", exp),
		okJSON(TokenTypeJWT, "id_token", 0),
		`{"version":1,"success":false,"code":"401","message":"no"}`,
		`{"version":2}`, `{"version":1e0,"success":true}`, `{"version":-0.0}`, `{"version":1e400}`,
		`{"version":1,"success":true,"token_type":null}`, `{}`, `[]`, `null`, "", "garbage", `{"a":`,
		`{"VERSION":1,"Success":true,"Token_Type":"urn:ietf:params:oauth:token-type:jwt","ID_TOKEN":"x"}`,
		"{\"version\":1,\"success\":false,\"message\":\"\x1b[31m\u202e\"}",
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, requireExpiry bool) {
		r, err := ParseResponse(data)
		if err != nil {
			if r != nil {
				t.Fatal("error with a response")
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("parse error %T is not a *FormatError", err)
			}
			if longTokenRun(err.Error()) {
				t.Fatalf("parse error %q may echo input", err)
			}
			return
		}
		for _, typ := range []string{TokenTypeIDToken, TokenTypeJWT, TokenTypeSAML2} {
			tok, exp, err := Validate(r, typ, testNow, requireExpiry)
			if err != nil {
				if tok != "" {
					t.Fatal("token with an error")
				}
				if longTokenRun(err.Error()) {
					t.Fatalf("validation error %q may echo input", err)
				}
				continue
			}
			if tok == "" || *r.Version != 1 || !*r.Success || *r.TokenType != typ {
				t.Fatalf("accepted an invalid response for %s", typ)
			}
			if requireExpiry && exp.IsZero() {
				t.Fatal("accepted a response without expiry")
			}
			if !exp.IsZero() && !exp.After(testNow.Add(ExpirySkew)) {
				t.Fatal("accepted an expired response")
			}
		}
	})
}
