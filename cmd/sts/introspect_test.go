package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stsgo/sts/ststest"
)

// introspectServer answers /v1/introspect: the token "good-token-…" is
// active, "bad-request-…" gets an OAuth error, anything else is inactive.
func introspectServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var body struct {
			Token         string `json:"token"`
			TokenTypeHint string `json:"tokenTypeHint"`
		}
		if r.URL.Path != "/v1/introspect" || json.NewDecoder(r.Body).Decode(&body) != nil {
			http.Error(w, "bad", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasPrefix(body.Token, "good-token-"):
			_ = json.NewEncoder(w).Encode(map[string]any{
				"active": true, "sub": "principal://demo", "scope": "s1 s2", "iss": "https://sts.googleapis.com",
				"exp": time.Now().Add(time.Hour).Unix(), "iat": "1700000000", "client_id": "cid",
			})
		case strings.HasPrefix(body.Token, "bad-request-"):
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_request","error_description":"malformed token"}`))
		default:
			_, _ = w.Write([]byte(`{"active":false}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestIntrospect(t *testing.T) {
	srv, calls := introspectServer(t)
	url := srv.URL + "/v1/introspect"
	const good = "good-token-0123456789abcdef"

	r := cli(t, nil, "", "introspect", "--url", url, good)
	if r.code != 0 || !strings.Contains(r.stdout, "active:     true") || !strings.Contains(r.stdout, "scopes:     s1 s2") ||
		!strings.Contains(r.stdout, "issued_at:  2023-11-14T22:13:20Z") {
		t.Fatalf("argument: %+v", r)
	}
	r = cli(t, nil, "  "+good+"\n", "introspect", "--url", url, "--format", "json")
	var got map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &got) != nil || got["active"] != true || got["sub"] != "principal://demo" ||
		got["scope"] != "s1 s2" || got["iat"] != float64(1700000000) {
		t.Fatalf("stdin, json: %+v", r)
	}
	r = cli(t, nil, "other-token-xyz", "introspect", "--url", url, "-")
	if r.code != 0 || !strings.Contains(r.stdout, "active:     false") {
		t.Fatalf("inactive: %+v", r)
	}
	r = cli(t, nil, "other-token-xyz", "introspect", "--url", url, "--active")
	if r.code != 3 || !strings.Contains(r.stdout, "active:     false") || !strings.Contains(r.stderr, "not active") {
		t.Fatalf("--active on an inactive token: %+v", r)
	}
	before := calls.Load()
	r = cli(t, nil, "", "introspect", "--url", url, "bad-request-secret-42")
	if r.code != 1 || !strings.Contains(r.stderr, "invalid_request") || strings.Contains(r.stderr, "bad-request-secret-42") {
		t.Fatalf("server error: %+v", r)
	}
	if calls.Load() != before+1 {
		t.Errorf("a permanent error was retried: %d calls", calls.Load()-before)
	}
	for _, c := range []struct {
		stdin string
		args  []string
		code  int
	}{
		{"", []string{"introspect", "--url", url}, 2},                             // no token
		{"a b", []string{"introspect", "--url", url}, 1},                          // two tokens
		{"", []string{"introspect", "--url", url, "a", "b"}, 2},                   // two arguments
		{"", []string{"introspect", "--url", url, "--format", "xml", good}, 2},    // bad format
		{"", []string{"introspect", "--url", "http://example.com/v1/x", good}, 1}, // plaintext, not loopback
	} {
		r := cli(t, nil, c.stdin, c.args...)
		if r.code != c.code || r.stderr == "" || strings.Contains(r.stderr, good) {
			t.Errorf("sts %v <%q: want exit %d, got %+v", c.args, c.stdin, c.code, r)
		}
	}
}

// TestIntrospectAgainstEmulator introspects tokens the emulator issued: a
// credential file's own token, and one given on standard input.
func TestIntrospectAgainstEmulator(t *testing.T) {
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	files := credFiles(t, emu)
	dir := t.TempDir()
	// The oidc file with a token_info_url on the emulator.
	raw, _ := os.ReadFile(files["oidc"])
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	m["token_info_url"] = emu.IntrospectURL()
	b, _ := json.Marshal(m)
	oidc := writeFile(t, dir, "oidc-info.json", string(b))

	r := cli(t, nil, "", "introspect", "--credentials", oidc, "--format", "json")
	var got map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &got) != nil || got["active"] != true || got["sub"] != "cli-test" {
		t.Fatalf("--credentials: %+v", r)
	}
	tok := cli(t, nil, "", "token", "--credentials", files["impersonation"])
	r = cli(t, nil, tok.stdout, "introspect", "--url", emu.IntrospectURL(), "--active")
	if r.code != 0 || !strings.Contains(r.stdout, `subject:    deployer@demo-project.iam.gserviceaccount.com`) {
		t.Fatalf("stdin: %+v", r)
	}
	r = cli(t, nil, "", "introspect", "--credentials", oidc, "some-token")
	if r.code != 2 {
		t.Errorf("--credentials with a token: %+v", r)
	}
}
