package wire

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestDecodeIntrospection(t *testing.T) {
	in, err := DecodeIntrospection([]byte(`{"active":true,"client_id":"cid","exp":"1700003600","iat":1700000000,
		"iss":"https://sts.googleapis.com","scope":"a  b","sub":"principal://x","username":"alice"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !in.Active || in.ClientID != "cid" || in.Issuer != "https://sts.googleapis.com" || in.Subject != "principal://x" ||
		in.Username != "alice" || len(in.Scopes) != 2 || in.Scopes[1] != "b" {
		t.Errorf("got %+v", in)
	}
	if !in.Exp.Equal(time.Unix(1700003600, 0)) || !in.Iat.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("times %v %v", in.Exp, in.Iat)
	}

	in, err = DecodeIntrospection([]byte(`{"active":false}`))
	if err != nil || in.Active || !in.Exp.IsZero() || in.Scopes != nil {
		t.Errorf("inactive: %+v %v", in, err)
	}
	in, err = DecodeIntrospection([]byte(`{"active":"true","exp":null,"iat":"","scope":null}`))
	if err != nil || !in.Active || !in.Exp.IsZero() || !in.Iat.IsZero() {
		t.Errorf("lenient: %+v %v", in, err)
	}
}

func TestDecodeIntrospectionErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{``, "empty"},
		{`<html>oops</html>`, "not valid JSON"},
		{`{"active":true,"exp":17`, "not valid JSON"},
		{`[true]`, "not a JSON object"},
		{`null`, "not a JSON object"},
		{`{}`, `"active": is missing`},
		{`{"active":1}`, `"active": is not a boolean`},
		{`{"active":"yes"}`, `"active": is not a boolean`},
		{`{"active":true,"exp":true}`, `"exp"`},
		{`{"active":true,"exp":"soon"}`, `"exp"`},
		{`{"active":true,"exp":1.5}`, `"exp"`},
		{`{"active":true,"iat":-5}`, `out of range`},
		{`{"active":true,"exp":99999999999999}`, `out of range`},
		{`{"active":true,"scope":["a","b"]}`, `"scope": is not a string`},
		{`{"active":true,"client_id":7}`, `"client_id": is not a string`},
		{`{"active":true,"sub":{}}`, `"sub": is not a string`},
		{`{"active":true,"exp":1.7e9}`, `"exp": "1.7e9" is not an integer`},
		{`{"active":true,"exp":1700000000.0}`, `"exp": "1700000000.0" is not an integer`},
		{`{"active":true,"exp":"0x6553f100"}`, `"exp": "0x6553f100" is not an integer`},
		{`{"active":true,"exp":"1_700_000_000"}`, `"exp": "1_700_000_000" is not an integer`},
		{`{"active":true,"exp":"+1700000000"}`, `"exp": "+1700000000" is not an integer`},
		{`{"active":true,"exp":"01700000000"}`, `"exp": "01700000000" is not an integer`},
		{`{"active":true,"iat":" 1700000000"}`, `"iat": " 1700000000" is not an integer`},
		{`{"active":true,"iat":"1e3"}`, `"iat": "1e3" is not an integer`},
		{`{"active":true,"exp":253402300800}`, `"exp": timestamp 253402300800 is out of range`},
		{`{"active":true,"exp":"99999999999999999999"}`, `"exp": value 99999999999999999999 is out of range`},
	} {
		_, err := DecodeIntrospection([]byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want error containing %q", tc.body, err, tc.want)
		}
	}
}

func TestIntrospectRequestJSON(t *testing.T) {
	b := (&IntrospectRequest{Token: "t", TokenTypeHint: "h"}).JSON()
	if string(b) != `{"token":"t","tokenTypeHint":"h"}` {
		t.Errorf("got %s", b)
	}
	b = (&IntrospectRequest{Token: "t"}).JSON()
	if string(b) != `{"token":"t"}` {
		t.Errorf("got %s", b)
	}
}

func FuzzDecodeIntrospection(f *testing.F) {
	for _, s := range []string{
		`{"active":true,"client_id":"c","exp":"1700003600","iat":1700000000,"iss":"i","scope":"a b","sub":"s","username":"u"}`,
		`{"active":false}`,
		`{"active":"true","exp":1e9}`,
		`{"active":true,"exp":"17`,
		`<html></html>`,
		`[]`,
		`{"active":true,"scope":["x"]}`,
		`{"active":true,"exp":-1}`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := DecodeIntrospection(body)
		if err != nil {
			if in != nil {
				t.Fatal("result with error")
			}
			if len(body) > 16 && strings.Contains(err.Error(), string(body)) {
				t.Fatal("error quotes the body")
			}
			return
		}
		if in == nil {
			t.Fatal("nil result without error")
		}
		if !json.Valid(body) {
			t.Fatal("accepted invalid JSON")
		}
		for _, s := range in.Scopes {
			if s == "" || strings.ContainsAny(s, " \t\r\n") {
				t.Fatalf("bad scope %q", s)
			}
		}
		if !in.Exp.IsZero() && (in.Exp.Unix() <= 0 || in.Exp.Unix() > maxTimestamp) {
			t.Fatalf("exp out of range: %v", in.Exp)
		}
	})
}
