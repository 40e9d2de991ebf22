package ststest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stsgo/sts/ststest"
)

// jsonBody encodes form the way Google's generated clients do: a JSON object
// with camelCase names.
func jsonBody(t *testing.T, form url.Values) []byte {
	t.Helper()
	m := map[string]string{}
	for k, v := range form {
		if len(v) != 1 {
			t.Fatalf("parameter %s has %d values; not expressible in JSON", k, len(v))
		}
		m[ststest.SnakeToCamel(k)] = v[0]
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func boundary(rules ...string) string {
	return `{"accessBoundary":{"accessBoundaryRules":[` + strings.Join(rules, ",") + `]}}`
}

const okRule = `{"availableResource":"//storage.googleapis.com/projects/_/buckets/b","availablePermissions":["inRole:roles/storage.objectViewer"]}`

func rules(n int) []string {
	r := make([]string, n)
	for i := range r {
		r[i] = okRule
	}
	return r
}

func TestValidation(t *testing.T) {
	type mod func(url.Values)
	set := func(k, v string) mod { return func(f url.Values) { f.Set(k, v) } }
	del := func(k string) mod { return func(f url.Values) { f.Del(k) } }
	all := func(ms ...mod) mod {
		return func(f url.Values) {
			for _, m := range ms {
				m(f)
			}
		}
	}
	downscope := all(set("subject_token_type", ttAccess), set("subject_token", "ya29.external"), del("audience"), del("scope"))
	longProject := strings.Repeat("p", 33)
	bigCondition := `{"availableResource":"//storage.googleapis.com/projects/_/buckets/b","availablePermissions":["inRole:roles/storage.objectViewer"],"availabilityCondition":{"expression":"` + strings.Repeat("a", 2048) + `"}}`

	tests := []struct {
		name     string
		mod      mod
		formOnly bool
		status   int
		code     string
		desc     string // substring of error_description
	}{
		{name: "ok", mod: func(url.Values) {}, status: 200},
		{name: "missing grant_type", mod: del("grant_type"), status: 400, code: "invalid_request", desc: "grant_type"},
		{name: "wrong grant_type", mod: set("grant_type", "client_credentials"), status: 400, code: "unsupported_grant_type", desc: "grant_type"},
		{name: "default requested_token_type", mod: del("requested_token_type"), status: 200},
		{name: "bad requested_token_type", mod: set("requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token"), status: 400, code: "invalid_request", desc: "requested_token_type"},
		{name: "intermediary needs access_token subject", mod: set("requested_token_type", ttInterm), status: 400, code: "invalid_request", desc: "requires subject_token_type"},
		{name: "missing subject_token_type", mod: del("subject_token_type"), status: 400, code: "invalid_request", desc: "subject_token_type"},
		{name: "bad subject_token_type", mod: set("subject_token_type", "urn:ietf:params:oauth:token-type:refresh_token"), status: 400, code: "invalid_request", desc: "subject_token_type"},
		{name: "subject id_token", mod: set("subject_token_type", ttIDToken), status: 200},
		{name: "subject saml2", mod: set("subject_token_type", "urn:ietf:params:oauth:token-type:saml2"), status: 200},
		{name: "subject mtls", mod: set("subject_token_type", "urn:ietf:params:oauth:token-type:mtls"), status: 200},
		{name: "subject aws4_request", mod: set("subject_token_type", "urn:ietf:params:aws:token-type:aws4_request"), status: 200},
		{name: "subject access_token", mod: set("subject_token_type", ttAccess), status: 200},
		{name: "missing subject_token", mod: del("subject_token"), status: 400, code: "invalid_request", desc: "subject_token"},
		{name: "missing audience", mod: del("audience"), status: 400, code: "invalid_request", desc: "audience"},
		{name: "downscope without audience", mod: downscope, status: 200},
		{name: "audience wrong host", mod: set("audience", "//sts.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q"), status: 400, code: "invalid_request", desc: "invalid audience"},
		{name: "audience not numeric project", mod: set("audience", "//iam.googleapis.com/projects/my-project/locations/global/workloadIdentityPools/p/providers/q"), status: 400, code: "invalid_request", desc: "invalid audience"},
		{name: "audience without provider", mod: set("audience", "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p"), status: 400, code: "invalid_request", desc: "invalid audience"},
		{name: "audience regional", mod: set("audience", "//iam.googleapis.com/projects/1/locations/us-east1/workloadIdentityPools/p/providers/q"), status: 400, code: "invalid_request", desc: "invalid audience"},
		{name: "audience https", mod: set("audience", "https://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q"), status: 400, code: "invalid_request", desc: "invalid audience"},
		{name: "audience workforce with project", mod: set("audience", "//iam.googleapis.com/projects/1/locations/global/workforcePools/p/providers/q"), status: 400, code: "invalid_request", desc: "invalid audience"},
		{name: "audience workforce", mod: set("audience", workforceAud), status: 200},
		{name: "audience other universe", mod: set("audience", "//iam.example-universe.goog/projects/1/locations/global/workloadIdentityPools/p/providers/q"), status: 200},
		{name: "audience workforce other universe", mod: set("audience", "//iam.example.goog/locations/global/workforcePools/p/providers/q"), status: 200},
		{name: "no scope", mod: del("scope"), status: 200},
		{name: "two scopes", mod: set("scope", cloudScope+" https://www.googleapis.com/auth/devstorage.read_only"), status: 200},
		{name: "relative scope", mod: set("scope", "cloud-platform"), status: 400, code: "invalid_scope", desc: "cloud-platform"},
		{name: "one bad scope of two", mod: set("scope", cloudScope+" /auth/x"), status: 400, code: "invalid_scope", desc: "/auth/x"},
		{name: "options not JSON", mod: set("options", "userProject=x"), status: 400, code: "invalid_request", desc: "options"},
		{name: "options array", mod: set("options", "[]"), status: 400, code: "invalid_request", desc: "options"},
		{name: "options two values", mod: set("options", "{} {}"), status: 400, code: "invalid_request", desc: "options"},
		{name: "options empty object", mod: set("options", "{}"), status: 200},
		{name: "options unknown key", mod: set("options", `{"lifetime":"1h"}`), status: 400, code: "invalid_request", desc: "lifetime"},
		{name: "userProject on workload pool", mod: set("options", `{"userProject":"my-project"}`), status: 400, code: "invalid_request", desc: "workforce"},
		{name: "userProject on workforce pool", mod: all(set("audience", workforceAud), set("options", `{"userProject":"my-project"}`)), status: 200},
		{name: "userProject too long", mod: all(set("audience", workforceAud), set("options", `{"userProject":"`+longProject+`"}`)), status: 400, code: "invalid_request", desc: "userProject"},
		{name: "userProject not a string", mod: all(set("audience", workforceAud), set("options", `{"userProject":12}`)), status: 400, code: "invalid_request", desc: "userProject"},
		{name: "boundary ok", mod: set("options", boundary(okRule)), status: 200},
		{name: "boundary downscoping", mod: all(downscope, set("options", boundary(okRule))), status: 200},
		{name: "boundary 10 rules", mod: set("options", boundary(rules(10)...)), status: 200},
		{name: "boundary 11 rules", mod: set("options", boundary(rules(11)...)), status: 400, code: "invalid_request", desc: "1 to 10 rules"},
		{name: "boundary no rules", mod: set("options", boundary()), status: 400, code: "invalid_request", desc: "1 to 10 rules"},
		{name: "boundary on workforce", mod: all(set("audience", workforceAud), set("options", boundary(okRule))), status: 400, code: "invalid_request", desc: "workforce"},
		{name: "boundary missing resource", mod: set("options", boundary(`{"availablePermissions":["inRole:roles/viewer"]}`)), status: 400, code: "invalid_request", desc: "availableResource"},
		{name: "boundary empty resource", mod: set("options", boundary(`{"availableResource":"","availablePermissions":["inRole:roles/viewer"]}`)), status: 400, code: "invalid_request", desc: "availableResource"},
		{name: "boundary no permissions", mod: set("options", boundary(`{"availableResource":"//x/y","availablePermissions":[]}`)), status: 400, code: "invalid_request", desc: "availablePermissions"},
		{name: "boundary permission without inRole", mod: set("options", boundary(`{"availableResource":"//x/y","availablePermissions":["roles/viewer"]}`)), status: 400, code: "invalid_request", desc: "inRole"},
		{name: "boundary permission bare inRole", mod: set("options", boundary(`{"availableResource":"//x/y","availablePermissions":["inRole:"]}`)), status: 400, code: "invalid_request", desc: "inRole"},
		{name: "boundary condition ok", mod: set("options", boundary(`{"availableResource":"//x/y","availablePermissions":["inRole:roles/viewer"],"availabilityCondition":{"expression":"resource.name.startsWith('a')","title":"t","description":"d"}}`)), status: 200},
		{name: "boundary condition without expression", mod: set("options", boundary(`{"availableResource":"//x/y","availablePermissions":["inRole:roles/viewer"],"availabilityCondition":{"title":"t"}}`)), status: 400, code: "invalid_request", desc: "expression"},
		{name: "boundary unknown rule field", mod: set("options", boundary(`{"availableResource":"//x/y","availablePermissions":["inRole:roles/viewer"],"resource":"z"}`)), status: 400, code: "invalid_request", desc: "accessBoundary"},
		{name: "boundary not an object", mod: set("options", `{"accessBoundary":"rules"}`), status: 400, code: "invalid_request", desc: "accessBoundary"},
		{name: "boundary too large", mod: set("options", boundary(bigCondition)), status: 400, code: "invalid_request", desc: "2048"},
		{name: "actor token without type", mod: set("actor_token", "actor"), status: 400, code: "invalid_request", desc: "actor_token_type"},
		{name: "actor type without token", mod: set("actor_token_type", ttJWT), status: 400, code: "invalid_request", desc: "actor_token"},
		{name: "actor token with type", mod: all(set("actor_token", "actor"), set("actor_token_type", ttJWT)), status: 200},
		{name: "resource", mod: set("resource", "https://example.com/api"), status: 200},
		{name: "duplicate audience", mod: func(f url.Values) { f.Add("audience", workloadAud) }, formOnly: true, status: 400, code: "invalid_request", desc: "more than once"},
	}
	s := ststest.NewServer(ststest.Options{})
	defer s.Close()
	for _, path := range []string{"/v1/token", "/v1beta/token"} {
		for _, enc := range []string{"form", "json"} {
			for _, tc := range tests {
				if tc.formOnly && enc == "json" {
					continue
				}
				t.Run(fmt.Sprintf("%s/%s/%s", path, enc, tc.name), func(t *testing.T) {
					form := exchangeForm()
					tc.mod(form)
					var resp *http.Response
					var err error
					if enc == "form" {
						resp, err = s.Client().PostForm(s.URL+path, form)
					} else {
						resp, err = s.Client().Post(s.URL+path, "application/json", bytes.NewReader(jsonBody(t, form)))
					}
					if err != nil {
						t.Fatal(err)
					}
					status, tr := decode(t, resp)
					if status != tc.status {
						t.Fatalf("status = %d (%s: %s), want %d", status, tr.Error, tr.ErrorDescription, tc.status)
					}
					if tc.status == 200 {
						if tr.AccessToken == "" || tr.TokenType != "Bearer" || tr.IssuedTokenType != ttAccess {
							t.Fatalf("bad success response %+v", tr)
						}
						return
					}
					if tr.Error != tc.code || !strings.Contains(tr.ErrorDescription, tc.desc) {
						t.Fatalf("error = %q %q, want %q containing %q", tr.Error, tr.ErrorDescription, tc.code, tc.desc)
					}
					if tr.AccessToken != "" {
						t.Fatal("error response carries a token")
					}
					if strings.Contains(tr.ErrorDescription, testJWT) {
						t.Fatal("error description echoes the subject token")
					}
				})
			}
		}
	}
}

func TestBodyEncodingErrors(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{})
	defer s.Close()
	tests := []struct {
		name, ct, body string
		status         int
	}{
		{"unsupported content type", "text/plain", "grant_type=x", http.StatusUnsupportedMediaType},
		{"malformed content type", "application/json; =", "{}", http.StatusBadRequest},
		{"json not an object", "application/json", `["grant_type"]`, http.StatusBadRequest},
		{"json truncated", "application/json", `{"grantType":`, http.StatusBadRequest},
		{"bad form escape", "application/x-www-form-urlencoded", "grant_type=%zz", http.StatusBadRequest},
		{"empty json body", "application/json", "", http.StatusBadRequest},
		{"form without content type", "", exchangeForm().Encode(), http.StatusOK},
		{"json with charset", "application/json; charset=utf-8", string(jsonBody(t, exchangeForm())), http.StatusOK},
		{"too large", "application/x-www-form-urlencoded", exchangeForm().Encode() + "&resource=" + strings.Repeat("a", 1<<20), http.StatusRequestEntityTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, s.TokenURL(), strings.NewReader(tc.body))
			if tc.ct != "" {
				req.Header.Set("Content-Type", tc.ct)
			}
			resp, err := s.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			status, tr := decode(t, resp)
			if status != tc.status {
				t.Fatalf("status %d (%+v), want %d", status, tr, tc.status)
			}
			if status != 200 && tr.Error != "invalid_request" {
				t.Fatalf("error = %q", tr.Error)
			}
		})
	}
}

func TestMethodAndPath(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{})
	defer s.Close()
	resp, err := s.Client().Get(s.TokenURL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET status %d", resp.StatusCode)
	}
	resp, err = s.Client().PostForm(s.URL+"/v2/token", exchangeForm())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown path status %d", resp.StatusCode)
	}
	if got := s.Count(""); got != 2 {
		t.Fatalf("Count(\"\") = %d, want 2", got)
	}
}
