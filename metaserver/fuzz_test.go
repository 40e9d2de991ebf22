package metaserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParseScopes: any ?scopes= value is a sorted, duplicate-free list of
// valid scopes, or an error; never a panic.
func FuzzParseScopes(f *testing.F) {
	for _, s := range []string{"", testScope, "b,a,b", "a b,,c", "a\"b", strings.Repeat("x,", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, err := parseScopes(v)
		if err != nil {
			return
		}
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) || len(got) > maxScopes {
			t.Fatalf("parseScopes(%q) = %q", v, got)
		}
		for _, sc := range got {
			if checkScope(sc) != "" || !strings.Contains(v, sc) {
				t.Fatalf("parseScopes(%q) gave %q", v, sc)
			}
		}
	})
}

// FuzzServe: any request gets an answer with Metadata-Flavor: Google (or
// the readiness answer), a known status, and JSON where JSON is claimed;
// only the token and identity paths ever show a token.
func FuzzServe(f *testing.F) {
	for _, s := range []string{
		"/", "/computeMetadata/v1/?recursive=true", "/computeMetadata/v1/instance/service-accounts/default/token?scopes=a,b",
		"/computeMetadata/v1/instance/service-accounts/default/identity?audience=x&format=full",
		"/computeMetadata/v1/project/numeric-project-id?alt=json", "/computeMetadata/v1/instance", "/readyz",
		"/computeMetadata/v1/universe/?recursive=true&alt=text",
	} {
		f.Add("GET", s, "Google", "127.0.0.1:80", "")
	}
	f.Add("POST", "/", "", "evil.example", "1.2.3.4")
	s, err := New(Config{
		TokenSource:       &countingSource{prefix: "fuzz-token", life: time.Hour},
		ScopedTokenSource: (&scopedSources{}).make,
		IDToken:           func(context.Context, string) (string, error) { return "fuzz-id-token", nil },
		Email:             testEmail,
		ProjectID:         "p",
		NumericProjectID:  "1",
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, target, flavor, host, xff string) {
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		req, err := http.NewRequest(method, "http://h"+target, nil)
		if err != nil {
			return
		}
		req.Host = host
		req.Header.Set("Metadata-Flavor", flavor)
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		switch w.Code {
		case 200, 301, 400, 403, 404, 405, 503:
		default:
			t.Fatalf("%s %q: status %d", method, target, w.Code)
		}
		if req.URL.Path != ReadinessPath && w.Header().Get("Metadata-Flavor") != "Google" {
			t.Fatalf("%s %q: no Metadata-Flavor", method, target)
		}
		if w.Code != 200 && w.Code != 301 && !utf8.Valid(w.Body.Bytes()) {
			t.Fatalf("%s %q: refusal not UTF-8", method, target)
		}
		if w.Header().Get("Content-Type") == typeJSON && !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s %q: invalid JSON %q", method, target, w.Body)
		}
		body := w.Body.String()
		if strings.Contains(body, "fuzz-token") && !strings.HasSuffix(req.URL.Path, "/token") {
			t.Fatalf("%s %q: token outside the token path", method, target)
		}
		if (strings.Contains(body, "fuzz-") || w.Code == 200 && req.URL.Path != "/" && req.URL.Path != ReadinessPath) && (xff != "" || flavor != "Google") {
			t.Fatalf("%s %q: answered 200 (flavor %q, xff %q)", method, target, flavor, xff)
		}
	})
}
