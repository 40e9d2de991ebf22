package metaserver

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"
)

const (
	testEmail = "runner@example-project.iam.gserviceaccount.com"
	testScope = "https://www.googleapis.com/auth/cloud-platform"
)

func fullConfig(src *countingSource) Config {
	return Config{
		TokenSource:      src,
		Email:            testEmail,
		ProjectID:        "example-project",
		NumericProjectID: "123456789",
	}
}

// TestAnswers: the paths clients read, with the real server's content
// types and bodies.
func TestAnswers(t *testing.T) {
	s := newServer(t, fullConfig(&countingSource{prefix: "tok", life: time.Hour}))
	sa := "/computeMetadata/v1/instance/service-accounts/"
	tests := []struct {
		target, ctype, body string
	}{
		{"/", typeText, "computeMetadata/\n"},
		{"/computeMetadata/", typeText, "v1/\n"},
		{"/computeMetadata/v1/", typeText, "instance/\nproject/\nuniverse/\n"},
		{"/computeMetadata/v1/instance/", typeText, "service-accounts/\n"},
		{sa, typeText, "default/\n" + testEmail + "/\n"},
		{sa + "?alt=json", typeJSON, `["default/","` + testEmail + `/"]`},
		{sa + "default/", typeText, "aliases\nemail\nidentity\nscopes\ntoken\n"},
		{sa + testEmail + "/", typeText, "aliases\nemail\nidentity\nscopes\ntoken\n"},
		{sa + "default/email", typeText, testEmail},
		{sa + testEmail + "/email", typeText, testEmail},
		{sa + "default/email?alt=json", typeJSON, `"` + testEmail + `"`},
		{sa + "default/scopes", typeText, testScope + "\n"},
		{sa + "default/scopes?alt=json", typeJSON, `["` + testScope + `"]`},
		{sa + "default/aliases", typeText, "default\n"},
		{sa + "default/?recursive=true", typeJSON, `{"aliases":["default"],"email":"` + testEmail + `","scopes":["` + testScope + `"]}`},
		{sa + "default/?recursive=TRUE&alt=json", typeJSON, `{"aliases":["default"],"email":"` + testEmail + `","scopes":["` + testScope + `"]}`},
		{sa + "default/?recursive=true&alt=text", typeText, "aliases/0 default\nemail " + testEmail + "\nscopes/0 " + testScope + "\n"},
		{sa + "?recursive=true", typeJSON, `{"default":{"aliases":["default"],"email":"` + testEmail + `","scopes":["` + testScope + `"]},"` + testEmail + `":{"aliases":["default"],"email":"` + testEmail + `","scopes":["` + testScope + `"]}}`},
		{"/computeMetadata/v1/project/", typeText, "numeric-project-id\nproject-id\n"},
		{"/computeMetadata/v1/project/project-id", typeText, "example-project"},
		{"/computeMetadata/v1/project/numeric-project-id", typeText, "123456789"},
		{"/computeMetadata/v1/project/numeric-project-id?alt=json", typeJSON, "123456789"},
		{"/computeMetadata/v1/project/?recursive=true", typeJSON, `{"numericProjectId":123456789,"projectId":"example-project"}`},
		{"/computeMetadata/v1/universe/", typeText, "universe-domain\n"},
		{"/computeMetadata/v1/universe/universe-domain", typeText, "googleapis.com"},
		{"/computeMetadata/v1/universe/universe_domain", typeText, "googleapis.com"},
		{"/computeMetadata/v1/?recursive=true", typeJSON, `{"instance":{"serviceAccounts":{"default":{"aliases":["default"],"email":"` + testEmail + `","scopes":["` + testScope + `"]},"` + testEmail + `":{"aliases":["default"],"email":"` + testEmail + `","scopes":["` + testScope + `"]}}},"project":{"numericProjectId":123456789,"projectId":"example-project"},"universe":{"universeDomain":"googleapis.com"}}`},
		{"/computeMetadata/v1/universe/?recursive=true&unknown=1", typeJSON, `{"universeDomain":"googleapis.com"}`},
	}
	for _, tc := range tests {
		w := get(s, tc.target)
		if w.Code != http.StatusOK {
			t.Errorf("GET %s: status %d %q", tc.target, w.Code, w.Body)
			continue
		}
		if got := w.Header().Get("Content-Type"); got != tc.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.target, got, tc.ctype)
		}
		if got := w.Body.String(); got != tc.body {
			t.Errorf("GET %s:\n got %q\nwant %q", tc.target, got, tc.body)
		}
		if w.Header().Get("Etag") == "" {
			t.Errorf("GET %s: no ETag", tc.target)
		}
		if tc.ctype == typeJSON && !json.Valid(w.Body.Bytes()) {
			t.Errorf("GET %s: invalid JSON %q", tc.target, w.Body)
		}
	}
}

// TestDefaultsAndUnknowns: without email, project or universe, what is
// answered and what is 404.
func TestDefaultsAndUnknowns(t *testing.T) {
	s := newServer(t, Config{TokenSource: &countingSource{prefix: "tok", life: time.Hour}, UniverseDomain: "example.test", Scopes: []string{"b", "a", "b"}})
	sa := "/computeMetadata/v1/instance/service-accounts/"
	for target, body := range map[string]string{
		sa:                             "default/\n",
		sa + "default/email":           "default",
		sa + "default/scopes":          "a\nb\n",
		"/computeMetadata/v1/project/": "",
		"/computeMetadata/v1/universe/universe-domain": "example.test",
		"/computeMetadata/v1/universe/universe_domain": "example.test",
	} {
		if w := get(s, target); w.Code != http.StatusOK || w.Body.String() != body {
			t.Errorf("GET %s: %d %q, want 200 %q", target, w.Code, w.Body, body)
		}
	}
	for _, target := range []string{
		"/computeMetadata/v1/project/project-id",
		"/computeMetadata/v1/project/numeric-project-id",
		sa + "other@example.com/email",
		sa + "default/email/",
		sa + "default/nothing",
		"/computeMetadata/v2/",
		"/computeMetadata/v1/instance/id",
		"/computeMetadata//v1/",
		"/computeMetadata/v1/instance/../project/",
		"/nothing",
	} {
		w := get(s, target)
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d %q, want 404", target, w.Code, w.Body)
		}
		if w.Header().Get("Metadata-Flavor") != "Google" {
			t.Errorf("GET %s: 404 without Metadata-Flavor", target)
		}
	}
}

// TestDirectoryRedirect: a directory named without its slash is a 301 to
// the slash form, the query kept.
func TestDirectoryRedirect(t *testing.T) {
	s := newServer(t, fullConfig(&countingSource{prefix: "tok", life: time.Hour}))
	for target, loc := range map[string]string{
		"/computeMetadata":             "/computeMetadata/",
		"/computeMetadata/v1":          "/computeMetadata/v1/",
		"/computeMetadata/v1/instance": "/computeMetadata/v1/instance/",
		"/computeMetadata/v1/instance/service-accounts/default?recursive=true": "/computeMetadata/v1/instance/service-accounts/default/?recursive=true",
	} {
		w := get(s, target)
		if w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != loc {
			t.Errorf("GET %s: %d Location %q, want 301 %q", target, w.Code, w.Header().Get("Location"), loc)
		}
	}
}

// TestRefusals: like the real server, no Metadata-Flavor or an
// X-Forwarded-For is 403; so are browsers and foreign Host names.
func TestRefusals(t *testing.T) {
	s := newServer(t, fullConfig(&countingSource{prefix: "tok", life: time.Hour}))
	tok := "/computeMetadata/v1/instance/service-accounts/default/token"
	tests := []struct {
		name   string
		method string
		target string
		hdr    []string
		status int
	}{
		{"no flavor", "GET", tok, []string{"Metadata-Flavor", ""}, 403},
		{"wrong flavor", "GET", tok, []string{"Metadata-Flavor", "google"}, 403},
		{"no flavor on a directory", "GET", "/computeMetadata/v1/", []string{"Metadata-Flavor", ""}, 403},
		{"forwarded", "GET", tok, []string{"X-Forwarded-For", "10.0.0.1"}, 403},
		{"forwarded root", "GET", "/", []string{"X-Forwarded-For", "10.0.0.1"}, 403},
		{"browser", "GET", tok, []string{"Origin", "http://evil.example"}, 403},
		{"rebound host", "GET", tok, []string{"Host", "evil.example:8080"}, 403},
		{"non-loopback IP host", "GET", tok, []string{"Host", "10.1.2.3:8080"}, 403},
		{"POST", "POST", tok, nil, 405},
		{"PUT", "PUT", "/", nil, 405},
		{"wait_for_change", "GET", "/computeMetadata/v1/project/project-id?wait_for_change=true", nil, 400},
		{"bad alt", "GET", "/computeMetadata/v1/project/project-id?alt=xml", nil, 400},
		{"bad recursive", "GET", "/computeMetadata/v1/project/?recursive=yes", nil, 400},
		{"bad query", "GET", "/computeMetadata/v1/project/?a=%zz", nil, 400},
		{"long query", "GET", "/computeMetadata/v1/project/?a=" + strings.Repeat("x", maxQuery), nil, 400},
	}
	for _, tc := range tests {
		w := do(s, tc.method, tc.target, tc.hdr...)
		if w.Code != tc.status {
			t.Errorf("%s: status %d %q, want %d", tc.name, w.Code, w.Body, tc.status)
		}
		if w.Header().Get("Metadata-Flavor") != "Google" {
			t.Errorf("%s: no Metadata-Flavor: Google on the refusal", tc.name)
		}
		if strings.Contains(w.Body.String(), "tok-") {
			t.Errorf("%s: a token in the refusal: %q", tc.name, w.Body)
		}
	}
	// The root answers without the header: clients ping it for detection.
	if w := get(s, "/", "Metadata-Flavor", ""); w.Code != 200 || w.Header().Get("Metadata-Flavor") != "Google" {
		t.Errorf("root without header: %d %v", w.Code, w.Header())
	}
	// Accepted Host names.
	for _, host := range []string{"127.0.0.1:8080", "[::1]:80", "127.9.9.9", "localhost:1", "LOCALHOST.", "metadata.google.internal", "metadata", "169.254.169.254", ""} {
		if w := get(s, tok, "Host", host); w.Code != 200 {
			t.Errorf("Host %q: %d %q", host, w.Code, w.Body)
		}
	}
	// More hosts when configured; any with "*".
	s2 := newServer(t, Config{TokenSource: &countingSource{prefix: "tok", life: time.Hour}, AllowedHosts: []string{"sidecar.internal"}})
	if w := get(s2, tok, "Host", "sidecar.internal:9"); w.Code != 200 {
		t.Errorf("allowed host: %d", w.Code)
	}
	if w := get(s2, tok, "Host", "other.internal:9"); w.Code != 403 {
		t.Errorf("other host: %d", w.Code)
	}
	s3 := newServer(t, Config{TokenSource: &countingSource{prefix: "tok", life: time.Hour}, AllowedHosts: []string{"*"}})
	if w := get(s3, tok, "Host", "anything.example"); w.Code != 200 {
		t.Errorf("any host: %d", w.Code)
	}
	// HEAD is answered, without a body.
	if w := do(s, "HEAD", "/computeMetadata/v1/project/project-id"); w.Code != 200 {
		t.Errorf("HEAD: %d", w.Code)
	}
}

// TestTokenAnswer: exactly the three fields clients read, a whole number
// of seconds left, never cached by intermediaries.
func TestTokenAnswer(t *testing.T) {
	src := &countingSource{prefix: "tok", life: time.Hour}
	s := newServer(t, fullConfig(src))
	for i, acct := range []string{"default", testEmail} {
		w := get(s, "/computeMetadata/v1/instance/service-accounts/"+acct+"/token")
		if w.Code != 200 {
			t.Fatalf("%d %q", w.Code, w.Body)
		}
		if w.Header().Get("Content-Type") != typeJSON || w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("headers %v", w.Header())
		}
		var got map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		exp, _ := got["expires_in"].(float64)
		if exp < 3590 || exp > 3600 {
			t.Errorf("expires_in %v", got["expires_in"])
		}
		got["expires_in"] = 0.0
		if diff := cmp.Diff(map[string]any{"access_token": "tok-" + strconv.Itoa(i+1), "expires_in": 0.0, "token_type": "Bearer"}, got); diff != "" {
			t.Errorf("token answer (-want +got):\n%s", diff)
		}
	}
	if n := src.n.Load(); n != 2 {
		t.Errorf("%d fetches, want 2 (the source is called per request; it caches)", n)
	}
	// A source without TokenContext, a token without expiry, a token
	// needing JSON escapes.
	s2 := newServer(t, Config{TokenSource: plainSource{&oauth2.Token{AccessToken: "a\"b<c>", TokenType: "bearer"}}})
	w := get(s2, "/computeMetadata/v1/instance/service-accounts/default/token")
	var got struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("%v: %q", err, w.Body)
	}
	if got.AccessToken != "a\"b<c>" || got.ExpiresIn != 300 || got.TokenType != "Bearer" {
		t.Errorf("%+v", got)
	}
}
