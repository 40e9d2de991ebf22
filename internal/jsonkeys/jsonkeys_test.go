package jsonkeys

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

var testSchema = func() *Schema {
	format := &Schema{Keys: map[string]*Schema{"type": nil, "subject_token_field_name": nil}}
	source := &Schema{Keys: map[string]*Schema{"file": nil, "url": nil, "headers": {Free: true}, "format": format}}
	top := &Schema{Keys: map[string]*Schema{
		"type": nil, "audience": nil, "token_url": nil, "client_id": nil, "credential_source": source,
		"service_account_impersonation": {Keys: map[string]*Schema{"token_lifetime_seconds": nil}},
		"delegates":                     nil,
	}}
	top.Keys["source_credentials"] = top
	return top
}()

// TestParseSchema: the compact spec builds the same schema as the
// literal, nested objects, free names and the recursion included; a
// malformed spec panics.
func TestParseSchema(t *testing.T) {
	got := ParseSchema(`type audience token_url client_id
		credential_source{file url headers* format{type subject_token_field_name}}
		service_account_impersonation{token_lifetime_seconds} delegates source_credentials^`)
	if !reflect.DeepEqual(got, testSchema) {
		t.Errorf("ParseSchema = %+v, want %+v", got, testSchema)
	}
	if got.Keys["source_credentials"] != got {
		t.Error("source_credentials^ is not the schema itself")
	}
	for _, bad := range []string{"a{b", "a}", "a{b}}"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("ParseSchema(%q) did not panic", bad)
				}
			}()
			ParseSchema(bad)
		}()
	}
}

func TestCheckRefusesLookAlikes(t *testing.T) {
	for _, tc := range []struct {
		name, doc, field, reason string
	}{
		{"duplicate", `{"token_url":"a","token_url":"b"}`, "token_url", "duplicate key"},
		{"escaped duplicate", `{"token_url":"a","\u0074oken_url":"b"}`, "token_url", "duplicate key"},
		{"case variant of known", `{"Token_URL":"b"}`, "Token_URL", `differs from "token_url" only in case`},
		{"case variant pair", `{"token_url":"a","TOKEN_URL":"b"}`, "TOKEN_URL", "differ only in case"},
		{"kelvin sign", `{"to\u212aen_url":"b"}`, "to\u212aen_url", `"to\u212aen_url" has a character outside printable ASCII ('\u212a')`},
		{"long s", `{"\u017fubject":"b"}`, "ſubject", "outside printable ASCII"},
		{"cyrillic o", `{"tоken_url":"b"}`, "tоken_url", "outside printable ASCII"},
		{"fullwidth", `{"ｔoken_url":"b"}`, "ｔoken_url", "outside printable ASCII"},
		{"zero width", `{"token_url\u200b":"b"}`, "token_url\u200b", "outside printable ASCII"},
		{"trailing space", `{"token_url ":"b"}`, "token_url ", "outside printable ASCII"},
		{"NUL", `{"token_url\u0000":"b"}`, "token_url\x00", "outside printable ASCII"},
		{"invalid UTF-8", "{\"token_url\xff\":\"b\"}", "token_url\ufffd", "outside printable ASCII"},
		{"digit one for l", `{"token_ur1":"b"}`, "token_ur1", `looks like "token_url"`},
		{"capital I for l", `{"cIient_id":"b"}`, "cIient_id", `looks like "client_id"`},
		{"zero for o", `{"t0ken_url":"b"}`, "t0ken_url", `looks like "token_url"`},
		{"rn for m", `{"credential_source":{"forrnat":{}}}`, "credential_source.forrnat", `looks like "format"`},
		{"dash for underscore", `{"token-url":"b"}`, "token-url", `looks like "token_url"`},
		{"nested duplicate", `{"credential_source":{"file":"a","file":"b"}}`, "credential_source.file", "duplicate key"},
		{"nested case", `{"credential_source":{"format":{"Type":"json"}}}`, "credential_source.format.Type", "only in case"},
		{"header duplicate", `{"credential_source":{"headers":{"Metadata":"a","Metadata":"b"}}}`, "credential_source.headers.Metadata", "duplicate key"},
		{"header escaped duplicate", `{"credential_source":{"headers":{"Metadata":"a","M\u0065tadata":"b"}}}`, "credential_source.headers.Metadata", "duplicate key"},
		{"impersonation", `{"service_account_impersonation":{"token_lifetime_seconds":1,"Token_Lifetime_Seconds":2}}`, "service_account_impersonation.Token_Lifetime_Seconds", "differ only in case"},
		{"recursive", `{"source_credentials":{"source_credentials":{"Token_url":"x"}}}`, "source_credentials.source_credentials.Token_url", "only in case"},
		{"in array", `{"delegates":[{"a":1,"a":2}]}`, "delegates[0].a", "duplicate key"},
		{"unknown member's keys", `{"extra":{"x":1,"X":2}}`, "extra.X", "differ only in case"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, p := Check([]byte(tc.doc), testSchema)
			if p == nil {
				t.Fatalf("no problem (unknown %v)", r.Unknown)
			}
			if p.Field() != tc.field || !strings.Contains(p.Reason, tc.reason) {
				t.Errorf("problem %q: %s, want %q: …%s…", p.Field(), p.Reason, tc.field, tc.reason)
			}
			if r != nil {
				t.Errorf("report %v with a problem", r)
			}
		})
	}
}

func TestCheckAcceptsAndListsUnknown(t *testing.T) {
	doc := `{"type":"external_account","audience":"//x","Extra":{"Nested":1,"nested2":[1,{"x":2}]},"credential_source":{"file":"f",
		"headers":{"Metadata-Flavor":"Google","X-Other":"1","x-other":"2","Bad Name":"3"},"format":{"type":"json","subject_token_field_name":"t","zzz":null}},
		"delegates":["a","b"],"subject_tokn_type":"jwt","source_credentials":{"type":"x","novel":true}}`
	r, p := Check([]byte(doc), testSchema)
	if p != nil {
		t.Fatalf("problem %+v", p)
	}
	for field, want := range map[string]bool{"type": true, "credential_source.format.type": true, "credential_source.headers": true,
		"source_credentials.type": true, "Extra": false, "token_url": false, "credential_source.headers.X-Other": false} {
		if r.Has(field) != want {
			t.Errorf("Has(%q) = %t", field, !want)
		}
	}
	var keys []string
	for _, k := range r.Unknown {
		keys = append(keys, fmt.Sprintf("{%s %s}", k.Path, k.Name))
	}
	got := "[" + strings.Join(keys, " ") + "]"
	want := "[{ Extra} {credential_source.format zzz} { subject_tokn_type} {source_credentials novel}]"
	if got != want {
		t.Errorf("unknown %s, want %s", got, want)
	}
	for _, doc := range []string{``, `{`, `{"a":}`, `[`, `"str"`, `12`, `{"a":1}{"a":1}`, `null`} {
		if _, p := Check([]byte(doc), testSchema); p != nil && doc != `{"a":1}{"a":1}` {
			t.Errorf("Check(%q) = %+v", doc, p)
		}
	}
	var many strings.Builder
	many.WriteString("{")
	for i := range 100 {
		fmt.Fprintf(&many, `"k%d":1,`, i)
	}
	many.WriteString(`"type":"x"}`)
	if r, _ := Check([]byte(many.String()), testSchema); len(r.Unknown) != MaxUnknown {
		t.Errorf("%d unknown keys, want the first %d", len(r.Unknown), MaxUnknown)
	}
}

// TestDecoderWouldBeFooled documents why: encoding/json fills a field from
// a case or Unicode-folding variant of its name, and keeps the last of two
// duplicates.
func TestDecoderWouldBeFooled(t *testing.T) {
	for _, doc := range []string{
		`{"token_url":"https://sts.googleapis.com","token_url":"https://evil.example"}`,
		`{"token_url":"https://sts.googleapis.com","TOKEN_URL":"https://evil.example"}`,
		`{"token_url":"https://sts.googleapis.com","to\u212aen_url":"https://evil.example"}`,
	} {
		var v struct {
			TokenURL string `json:"token_url"`
		}
		if err := json.Unmarshal([]byte(doc), &v); err != nil || v.TokenURL != "https://evil.example" {
			t.Fatalf("encoding/json no longer takes the later look-alike in %s: %q %v", doc, v.TokenURL, err)
		}
		if _, p := Check([]byte(doc), testSchema); p == nil {
			t.Errorf("Check(%s) found nothing", doc)
		}
	}
}

// FuzzCheck: no panic on any input; a document Check passes decodes into a
// map with exactly the keys Check saw, so no key hides another.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{"token_url":"a","TOKEN_URL":"b"}`, `{"credential_source":{"headers":{"A":"1"}}}`,
		`{"a":[{"b":{"c":[]}}]}`, `{"to\u212aen_url":1}`, `[[[[{}]]]]`, `{"":1,"":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, p := Check(data, testSchema)
		if p != nil {
			if p.Reason == "" || r != nil {
				t.Fatalf("problem %+v with report %v", p, r)
			}
			return
		}
		if len(r.Unknown) > MaxUnknown {
			t.Fatalf("%d unknown keys", len(r.Unknown))
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(data, &m) != nil {
			return
		}
		for k := range m {
			for _, r := range k {
				if r <= ' ' || r >= 0x7f {
					t.Fatalf("key %q passed", k)
				}
			}
			if _, known := testSchema.Keys[k]; known {
				continue
			}
			for known := range testSchema.Keys {
				if strings.EqualFold(k, known) {
					t.Fatalf("key %q passed as well as %q", k, known)
				}
			}
		}
	})
}

func TestSetString(t *testing.T) {
	const file = "{\n  \"type\": \"external_account_authorized_user\",\n  \"refresh_token\" :  \"old\\u002dtoken\",\n  \"nested\": {\"refresh_token\": \"keep\"},\n  \"n\": 1.50\n}\n"
	out, err := SetString([]byte(file), "new</token>\u2028", "refresh_token")
	want := "{\n  \"type\": \"external_account_authorized_user\",\n  \"refresh_token\" :  \"new</token>\\u2028\",\n  \"nested\": {\"refresh_token\": \"keep\"},\n  \"n\": 1.50\n}\n"
	if err != nil || string(out) != want {
		t.Fatalf("got %q, %v\nwant %q", out, err, want)
	}
	for _, tc := range []struct{ name, doc, want string }{
		{"case variant", `{"refresh_token":"a","Refresh_Token":"b"}`, "differ only in case"},
		{"case variant alone", `{"REFRESH_TOKEN":"b"}`, `differs from "refresh_token" only in case`},
		{"kelvin", `{"refresh_token":"a","refresh_to\u212aen":"b"}`, "outside printable ASCII"},
		{"duplicate", `{"refresh_token":"a","refresh_token":"b"}`, "duplicate key"},
		{"escaped duplicate", `{"refresh_token":"a","refresh_\u0074oken":"b"}`, "duplicate key"},
		{"confusable", `{"refresh_token":"a","refresh-token":"b"}`, `looks like "refresh_token"`},
		{"nested duplicate", `{"refresh_token":"a","x":{"k":1,"k":2}}`, "duplicate key"},
		{"missing", `{"type":"x"}`, `no member "refresh_token"`},
		{"not a string", `{"refresh_token":null}`, "is not a string"},
		{"not an object", `["refresh_token"]`, "not a JSON object"},
		{"invalid", `{"refresh_token":"a"`, "not valid JSON"},
		{"trailing", `{"refresh_token":"a"} {}`, "not valid JSON"},
	} {
		if _, err := SetString([]byte(tc.doc), "n", "refresh_token"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// FuzzSetString: an accepted document keeps every byte outside the
// value, and any decoder (case-insensitive structs, maps) reads the new
// value and nothing else changed.
func FuzzSetString(f *testing.F) {
	f.Add([]byte(`{"type":"external_account_authorized_user","refresh_token":"old","client_id":"c"}`), "new")
	f.Add([]byte(`{"refresh_token":"\u00e9", "a":[1,{"b":"c"}]}`), "t\u2028<>&\"")
	f.Add([]byte(`{"refresh_token":"a","REFRESH_TOKEN":"b"}`), "x")
	f.Add([]byte(`null`), "x")
	f.Fuzz(func(t *testing.T, data []byte, value string) {
		out, err := SetString(data, value, "refresh_token")
		if err != nil {
			return
		}
		var before, after map[string]json.RawMessage
		if json.Unmarshal(data, &before) != nil || json.Unmarshal(out, &after) != nil {
			t.Fatalf("%q -> %q: not both objects", data, out)
		}
		var s struct {
			RefreshToken string `json:"refresh_token"`
		}
		var want string
		enc, _ := json.Marshal(value)
		_ = json.Unmarshal(enc, &want)
		if json.Unmarshal(out, &s) != nil || s.RefreshToken != want {
			t.Fatalf("decoded %q, want %q", s.RefreshToken, want)
		}
		if len(after) != len(before) {
			t.Fatalf("members %d -> %d", len(before), len(after))
		}
		for k, v := range before {
			if k != "refresh_token" && string(after[k]) != string(v) {
				t.Fatalf("member %q changed: %s -> %s", k, v, after[k])
			}
		}
	})
}

func TestSetStringNested(t *testing.T) {
	const file = `{"type":"impersonated_service_account","refresh_token_note":1,
 "source_credentials": {"type":"external_account_authorized_user", "refresh_token" : "old"},"z":[1]}`
	out, err := SetString([]byte(file), "new", "source_credentials", "refresh_token")
	want := strings.Replace(file, `"old"`, `"new"`, 1)
	if err != nil || string(out) != want {
		t.Fatalf("got %s, %v", out, err)
	}
	for _, tc := range []struct{ doc, want string }{
		{`{"source_credentials":{"refresh_token":"a","Refresh_Token":"b"}}`, "source_credentials.Refresh_Token"},
		{`{"source_credentials":{"type":"x"}}`, `no member "source_credentials.refresh_token"`},
		{`{"source_credentials":"x"}`, `member "source_credentials" is not an object`},
		{`{"Source_Credentials":{"refresh_token":"a"}}`, `differs from "source_credentials"`},
		{`{"source_credentials":{"refresh_token":"a"},"source_credentials":{"refresh_token":"b"}}`, "duplicate key"},
	} {
		if _, err := SetString([]byte(tc.doc), "n", "source_credentials", "refresh_token"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.doc, err, tc.want)
		}
	}
}
