package sts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stsgo/sts/internal/httpx"
)

const (
	testIntrospectToken  = "secret-access-token-4242"
	testIntrospectSecret = "secret-client-pw-9999"
)

// introspectServer answers /v1/introspect with fn's status, content type
// and body, and records what it got.
type introspectServer struct {
	*httptest.Server
	calls   atomic.Int32
	lastReq atomic.Pointer[recordedIntrospect]
}

type recordedIntrospect struct {
	contentType, auth string
	body              map[string]string
}

func newIntrospectServer(t *testing.T, fn func(n int) (int, string, string)) *introspectServer {
	t.Helper()
	s := &introspectServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(s.calls.Add(1))
		if r.Method != http.MethodPost || r.URL.Path != "/v1/introspect" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		b, _ := io.ReadAll(r.Body)
		rec := &recordedIntrospect{contentType: r.Header.Get("Content-Type"), auth: r.Header.Get("Authorization")}
		_ = json.Unmarshal(b, &rec.body)
		s.lastReq.Store(rec)
		status, ct, body := fn(n)
		if ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *introspectServer) opts() IntrospectOptions {
	return IntrospectOptions{URL: s.URL + "/v1/introspect", HTTPOptions: HTTPOptions{Retry: RetryPolicy{InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond}}}
}

func jsonAnswer(body string) func(int) (int, string, string) {
	return func(int) (int, string, string) { return 200, "application/json", body }
}

func TestIntrospectActive(t *testing.T) {
	s := newIntrospectServer(t, jsonAnswer(`{"active":true,"client_id":"cid","exp":"1700003600","iat":1700000000,
		"iss":"https://sts.googleapis.com/","scope":"https://www.googleapis.com/auth/cloud-platform openid","sub":"principal://u","username":"alice@example.com"}`))
	opts := s.opts()
	opts.ClientID, opts.ClientSecret = "my client", testIntrospectSecret
	in, err := Introspect(context.Background(), testIntrospectToken, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := &Introspection{Active: true, ClientID: "cid", Expiry: time.Unix(1700003600, 0), IssuedAt: time.Unix(1700000000, 0),
		Issuer: "https://sts.googleapis.com/", Scopes: []string{CloudPlatformScope, "openid"}, Subject: "principal://u", Username: "alice@example.com"}
	if in.String() != want.String() {
		t.Errorf("got  %v\nwant %v", in, want)
	}
	rec := s.lastReq.Load()
	if rec.contentType != "application/json" {
		t.Errorf("content type %q", rec.contentType)
	}
	if rec.body["token"] != testIntrospectToken || rec.body["tokenTypeHint"] != TokenTypeAccessToken || len(rec.body) != 2 {
		t.Errorf("body %v", rec.body)
	}
	if rec.auth != httpx.BasicAuth("my client", testIntrospectSecret) {
		t.Errorf("authorization %q", rec.auth)
	}
	if strings.Contains(in.String(), testIntrospectToken) || strings.Contains(fmt.Sprintf("%#v %v", in, opts), testIntrospectSecret) {
		t.Error("secret in String")
	}
	if text := fmt.Sprintf("%v %+v %#v %s", opts, opts, &opts, opts); strings.Contains(text, testIntrospectSecret) ||
		strings.Contains(text, strings.TrimPrefix(httpx.BasicAuth("my client", testIntrospectSecret), "Basic ")) {
		t.Errorf("secret in the text of IntrospectOptions: %s", text)
	}
}

func TestIntrospectInactiveAndNoAuth(t *testing.T) {
	s := newIntrospectServer(t, jsonAnswer(`{"active":false}`))
	opts := s.opts()
	opts.TokenTypeHint = "access_token"
	in, err := Introspect(context.Background(), testIntrospectToken, opts)
	if err != nil {
		t.Fatal(err)
	}
	if in.Active || !in.Expiry.IsZero() || in.Subject != "" {
		t.Errorf("got %v", in)
	}
	rec := s.lastReq.Load()
	if rec.auth != "" {
		t.Errorf("unexpected Authorization header")
	}
	if rec.body["tokenTypeHint"] != "access_token" {
		t.Errorf("hint %q", rec.body["tokenTypeHint"])
	}
}

func TestIntrospectErrors(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		ct, body   string
		wantStatus int
		wantCode   string
		wantText   string
		temporary  bool
	}{
		{"oauth error", 400, "application/json", `{"error":"invalid_request","error_description":"bad token"}`, 400, "invalid_request", "bad token", false},
		{"google error", 403, "application/json", `{"error":{"code":403,"message":"denied","status":"PERMISSION_DENIED"}}`, 403, "PERMISSION_DENIED", "denied", false},
		{"unauthorized", 401, "application/json", `{"error":"invalid_client"}`, 401, "invalid_client", "invalid_client", false},
		{"server error html", 503, "text/html", `<html>down</html>`, 503, "", "Service Unavailable", true},
		{"html 200", 200, "text/html", `<html>login page</html>`, 200, "", "content type", false},
		{"html as json", 200, "application/json", `<html>login page</html>`, 200, "", "not valid JSON", false},
		{"truncated", 200, "application/json", `{"active":true,"exp":"170`, 200, "", "not valid JSON", false},
		{"wrong active type", 200, "application/json", `{"active":"maybe"}`, 200, "", `"active"`, false},
		{"wrong exp type", 200, "application/json", `{"active":true,"exp":[1]}`, 200, "", `"exp"`, false},
		{"wrong scope type", 200, "application/json", `{"active":true,"scope":{"a":1}}`, 200, "", `"scope"`, false},
		{"missing active", 200, "application/json", `{"exp":1700000000}`, 200, "", `"active"`, false},
		{"empty", 200, "application/json", ``, 200, "", "empty", false},
		{"redirect", 302, "", ``, 302, "", "redirect", false},
		{"echoes secrets", 400, "application/json", `{"error":"invalid_client","error_description":"client ` + testIntrospectSecret + ` may not ask about ` + testIntrospectToken + `"}`, 400, "invalid_client", "client REDACTED may not ask about REDACTED", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newIntrospectServer(t, func(int) (int, string, string) { return tc.status, tc.ct, tc.body })
			opts := s.opts()
			opts.ClientID, opts.ClientSecret = "cid", testIntrospectSecret
			in, err := Introspect(context.Background(), testIntrospectToken, opts)
			if in != nil {
				t.Errorf("result with error: %v", in)
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("got %T %v, want *Error", err, err)
			}
			if se.Op != "introspect" || se.StatusCode != tc.wantStatus || se.Code != tc.wantCode || se.Temporary() != tc.temporary {
				t.Errorf("got %+v (temporary %t)", se, se.Temporary())
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "sts: introspect: ") || !strings.Contains(msg, tc.wantText) {
				t.Errorf("message %q, want it to contain %q", msg, tc.wantText)
			}
			if strings.Contains(msg, testIntrospectToken) || strings.Contains(msg, testIntrospectSecret) {
				t.Errorf("secret in %q", msg)
			}
			wantCalls := int32(1)
			if tc.temporary {
				wantCalls = 3
			}
			if got := s.calls.Load(); got != wantCalls {
				t.Errorf("%d calls, want %d", got, wantCalls)
			}
		})
	}
}

func TestIntrospectRetriesThenSucceeds(t *testing.T) {
	s := newIntrospectServer(t, func(n int) (int, string, string) {
		if n == 1 {
			return 429, "application/json", `{"error":"rate_limited"}`
		}
		return 200, "application/json; charset=utf-8", `{"active":true}`
	})
	in, err := Introspect(context.Background(), testIntrospectToken, s.opts())
	if err != nil || !in.Active {
		t.Fatalf("got %v, %v", in, err)
	}
	if s.calls.Load() != 2 {
		t.Errorf("%d calls", s.calls.Load())
	}
}

func TestIntrospectValidation(t *testing.T) {
	for _, tc := range []struct {
		opts  IntrospectOptions
		field string
	}{
		{IntrospectOptions{URL: "http://sts.example.com/v1/introspect"}, "IntrospectOptions.URL"},
		{IntrospectOptions{URL: "ftp://127.0.0.1/"}, "IntrospectOptions.URL"},
		{IntrospectOptions{URL: "https://u:p@sts.example.com/"}, "IntrospectOptions.URL"},
		{IntrospectOptions{UniverseDomain: "not a domain"}, "IntrospectOptions.UniverseDomain"},
		{IntrospectOptions{TokenTypeHint: "refresh_token"}, "IntrospectOptions.TokenTypeHint"},
		{IntrospectOptions{ClientID: "x"}, "IntrospectOptions.ClientSecret"},
		{IntrospectOptions{ClientSecret: testIntrospectSecret}, "IntrospectOptions.ClientID"},
		{IntrospectOptions{HTTPOptions: HTTPOptions{Timeout: -1}}, "IntrospectOptions.Timeout"},
		{IntrospectOptions{HTTPOptions: HTTPOptions{Retry: RetryPolicy{MaxAttempts: -1}}}, "IntrospectOptions.Retry.MaxAttempts"},
	} {
		_, err := Introspect(context.Background(), testIntrospectToken, tc.opts)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("%v: got %v, want field %s", tc.opts, err, tc.field)
			continue
		}
		if strings.Contains(err.Error(), testIntrospectSecret) {
			t.Errorf("secret in %q", err)
		}
	}
	// The default endpoints, asked in memory.
	var asked atomic.Value
	client := &http.Client{Transport: relRoundTrip(func(r *http.Request) (*http.Response, error) {
		asked.Store(r.URL.String())
		return relResponse(r, 200, "application/json", strings.NewReader(`{"active":false}`)), nil
	})}
	for universe, want := range map[string]string{"": "https://sts.googleapis.com/v1/introspect", "example.goog": "https://sts.example.goog/v1/introspect"} {
		asked.Store("")
		in, err := Introspect(context.Background(), testIntrospectToken, IntrospectOptions{UniverseDomain: universe, HTTPOptions: HTTPOptions{HTTPClient: client}})
		if err != nil || in.Active || asked.Load() != want {
			t.Errorf("universe %q: asked %q (%v, %v), want %q", universe, asked.Load(), in, err, want)
		}
	}
	var ve *ValidationError
	asked.Store("")
	if _, err := Introspect(context.Background(), "", IntrospectOptions{HTTPOptions: HTTPOptions{HTTPClient: client}}); !errors.As(err, &ve) || ve.Field != "token" || asked.Load() != "" {
		t.Errorf("empty token: %v (asked %q)", err, asked.Load())
	}
}

func TestIntrospectCancelled(t *testing.T) {
	s := newIntrospectServer(t, jsonAnswer(`{"active":true}`))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Introspect(ctx, testIntrospectToken, s.opts())
	var se *Error
	if !errors.As(err, &se) || !errors.Is(err, context.Canceled) || se.Temporary() {
		t.Errorf("got %v", err)
	}
}

func TestIntrospectionString(t *testing.T) {
	var nilIn *Introspection
	if nilIn.String() != "sts.Introspection(nil)" {
		t.Error(nilIn.String())
	}
	in := &Introspection{Active: true}
	if got := fmt.Sprintf("%v", in); !strings.Contains(got, "Expiry:none") {
		t.Error(got)
	}
}
