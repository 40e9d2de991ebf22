package ststest

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func FuzzParseTokenRequest(f *testing.F) {
	valid := url.Values{
		"grant_type":           {grantTokenExchange},
		"requested_token_type": {typeAccessToken},
		"subject_token":        {"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln"},
		"subject_token_type":   {typeJWT},
		"audience":             {"//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q"},
		"scope":                {"https://www.googleapis.com/auth/cloud-platform"},
	}
	form := "application/x-www-form-urlencoded"
	f.Add(form, valid.Encode())
	f.Add("application/json", `{"grantType":"`+grantTokenExchange+`","subjectToken":"t","subjectTokenType":"`+typeAccessToken+`","options":"{\"accessBoundary\":{\"accessBoundaryRules\":[{\"availableResource\":\"//x\",\"availablePermissions\":[\"inRole:roles/viewer\"]}]}}"}`)
	f.Add(form, "grant_type="+grantTokenExchange+"&subject_token=t&subject_token_type="+url.QueryEscape(typeAccessToken)+"&options=%7B%22userProject%22%3A%22p%22%7D")
	f.Add(form, "grant_type="+grantTokenExchange+"&subject_token=t&subject_token_type="+url.QueryEscape(typeAccessToken)+"&requested_token_type="+url.QueryEscape(typeIntermediary))
	f.Add(form, "grant_type="+grantTokenExchange+"&subject_token=t&subject_token_type="+url.QueryEscape(typeAccessToken)+"&options="+url.QueryEscape(`{"bindCertFingerprint":"`+strings.Repeat("A", 43)+`"}`))
	f.Add(form, "audience=a&audience=b")
	f.Add(form, "%zz")
	f.Add("", "")
	f.Add("application/json", `{"scope":["a","b"],"options":{"userProject":1},"x":null,"n":1.5}`)
	f.Add("application/json", `[1,2]`)
	f.Add("text/plain; charset=", "x")
	f.Fuzz(func(t *testing.T, contentType, body string) {
		req, err := parseTokenRequest(contentType, []byte(body))
		if err != nil {
			oe, ok := err.(*oauthError)
			if !ok || oe.code == "" || oe.status < 400 || oe.status > 499 || oe.desc == "" {
				t.Fatalf("error %#v is not a complete 4xx OAuth error", err)
			}
			return
		}
		if req.GrantType != grantTokenExchange || req.SubjectToken == "" || !subjectTokenTypes[req.SubjectTokenType] {
			t.Fatalf("accepted an invalid request %+v", req)
		}
		if req.Audience == "" && req.SubjectTokenType != typeAccessToken {
			t.Fatalf("accepted a request without audience %+v", req)
		}
		if req.Workforce && req.AccessBoundary != nil {
			t.Fatal("accepted a boundary for a workforce pool")
		}
		if req.AccessBoundary != nil && !json.Valid(req.AccessBoundary) {
			t.Fatal("recorded an invalid boundary")
		}
		// Re-encoding the accepted request in the other encoding gives the
		// same result.
		params, _ := decodeBody(contentType, []byte(body))
		var again *tokenRequest
		if strings.Contains(contentType, "json") {
			known := url.Values{}
			for _, k := range tokenParams {
				if params.Has(k) {
					known.Set(k, params.Get(k))
				}
			}
			again, err = parseTokenRequest(form, []byte(known.Encode()))
		} else {
			m := map[string]string{}
			for _, k := range tokenParams {
				if params.Has(k) {
					m[snakeToCamel(k)] = params.Get(k)
				}
			}
			b, _ := json.Marshal(m)
			again, err = parseTokenRequest("application/json", b)
		}
		if err != nil {
			t.Fatalf("re-encoded request rejected: %v", err)
		}
		if !reflect.DeepEqual(req, again) {
			t.Fatalf("re-encoded request differs:\n%+v\n%+v", req, again)
		}
	})
}

// snakeToCamel converts "subject_token_type" to "subjectTokenType".
func snakeToCamel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

func TestCamelToSnake(t *testing.T) {
	for in, want := range map[string]string{
		"grantType": "grant_type", "subjectTokenType": "subject_token_type", "scope": "scope",
		"grant_type": "grant_type", "tokenTypeHint": "token_type_hint", "": "",
	} {
		if got := camelToSnake(in); got != want {
			t.Errorf("camelToSnake(%q) = %q, want %q", in, got, want)
		}
	}
}
