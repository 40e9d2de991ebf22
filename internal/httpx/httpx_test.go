package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestErrorTemporaryFromFields(t *testing.T) {
	netErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("refused")}
	for _, tc := range []struct {
		name string
		e    Error
		want bool
	}{
		{"503", Error{StatusCode: 503}, true},
		{"429", Error{StatusCode: 429}, true},
		{"408", Error{StatusCode: 408}, true},
		{"400", Error{StatusCode: 400, Code: "invalid_grant"}, false},
		{"temporarily_unavailable", Error{StatusCode: 400, Code: "temporarily_unavailable"}, true},
		{"UNAVAILABLE", Error{Code: "UNAVAILABLE"}, true},
		{"network", Error{Err: Transient(netErr)}, true},
		{"deadline", Error{Err: Transient(fmt.Errorf("x: %w", context.DeadlineExceeded))}, true},
		{"cancelled", Error{Err: Transient(context.Canceled)}, false},
		{"plain cause", Error{StatusCode: 503, Err: errors.New("body too large")}, false},
		{"unmarked network cause", Error{Err: netErr}, false},
		{"marked", Error{StatusCode: 200, Err: Retryable(io.ErrUnexpectedEOF)}, true},
	} {
		if got := tc.e.Temporary(); got != tc.want {
			t.Errorf("%s: Temporary = %t, want %t", tc.name, got, tc.want)
		}
	}
	if Retryable(nil) != nil {
		t.Error("Retryable(nil) != nil")
	}
	m := Retryable(io.ErrUnexpectedEOF)
	if m.Error() != io.ErrUnexpectedEOF.Error() || !errors.Is(m, io.ErrUnexpectedEOF) {
		t.Errorf("marker changes text or chain: %v", m)
	}
	if errors.Is(Transient(errors.New("x")), io.EOF) {
		t.Error("unexpected chain")
	}
}

func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{}, "sts: failed"},
		{Error{Op: "exchange"}, "sts: exchange: failed"},
		{Error{Op: "exchange", StatusCode: 400, Code: "invalid_grant", Description: "bad"}, "sts: exchange: status 400: invalid_grant: bad"},
		{Error{Op: "subject", Err: errors.New("boom")}, "sts: subject: boom"},
		{Error{Op: "exchange", Method: "POST", URL: "https://sts.googleapis.com/v1/token", StatusCode: 404, Description: "Not Found"},
			"sts: exchange: POST https://sts.googleapis.com/v1/token: status 404: Not Found"},
		{Error{Op: "subject", URL: "http://169.254.169.254/x", Err: errors.New("boom")}, "sts: subject: http://169.254.169.254/x: boom"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%#v: %q, want %q", tc.e, got, tc.want)
		}
	}
}

func TestHelpers(t *testing.T) {
	u, _ := url.Parse("https://user:pw@example.com/p?token=secret#frag")
	if got := RedactURL(u); got != "https://example.com/p" {
		t.Errorf("RedactURL = %q", got)
	}
	if got := Truncate("abcdef", 3); got != "abc…" {
		t.Errorf("Truncate = %q", got)
	}
	if got := BasicAuth("id:x", "s e"); got != "Basic aWQlM0F4OnMrZQ==" {
		t.Errorf("BasicAuth = %q", got)
	}
}

func TestDoerRetriesAndErrors(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if r.Header.Get("X-Goog-Api-Client") != "test/1" {
			t.Errorf("api client header %q", r.Header.Get("X-Goog-Api-Client"))
		}
		switch calls {
		case 1:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(503)
			io.WriteString(w, `{"error":"temporarily_unavailable","error_description":"quoting secret-subject-token"}`)
		case 2:
			w.Header().Set("Location", "https://evil.example/")
			w.WriteHeader(302)
		}
	}))
	defer srv.Close()
	d := NewDoer(Options{Client: srv.Client(), Retry: Retry{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond}, APIClient: "test/1"})
	_, err := d.Do(context.Background(), &Request{Op: "exchange", Method: http.MethodPost, URL: srv.URL, Secrets: []string{"secret-subject-token"}})
	if err == nil || err.StatusCode != 302 || !strings.Contains(err.Description, "not followed") || err.Temporary() {
		t.Fatalf("err = %#v, want a permanent 302 *Error", err)
	}
	if calls != 2 {
		t.Errorf("calls = %d, want 2 (one retry after 503)", calls)
	}
	if d.APIClient() != "test/1" {
		t.Error("APIClient")
	}
}

func TestDoerScrubsAndDecodes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":"at","token_type":"Bearer","expires_in":3600}`)
			return
		}
		if r.URL.Path == "/html" {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, `<html>`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		io.WriteString(w, `{"error":"invalid_grant","error_description":"token secret-subject-token rejected"}`)
	}))
	defer srv.Close()
	d := NewDoer(Options{Client: srv.Client(), Retry: Retry{MaxAttempts: 1}})
	_, _, err := d.PostToken(context.Background(), "exchange", srv.URL+"/bad", []byte("a=b"), nil, "secret-subject-token")
	if err == nil || err.Code != "invalid_grant" || strings.Contains(err.Error(), "secret-subject-token") || err.Temporary() {
		t.Fatalf("err = %v", err)
	}
	tok, _, err := d.PostToken(context.Background(), "exchange", srv.URL+"/ok", nil, nil)
	if err != nil || tok.AccessToken != "at" || time.Until(tok.Expiry) < 59*time.Minute {
		t.Fatalf("tok = %v, err = %v", tok, err)
	}
	if _, err := d.Do(context.Background(), &Request{Op: "x", Method: http.MethodGet, URL: srv.URL + "/html"}); err == nil || err.StatusCode != 200 {
		t.Fatalf("html answer: %v", err)
	}
	if _, err := d.Do(context.Background(), &Request{Op: "x", Method: "BAD METHOD", URL: srv.URL}); err == nil || err.Temporary() {
		t.Fatalf("bad request: %v", err)
	}
}

func TestDoerTransportErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // nothing listens there any more
	d := NewDoer(Options{Retry: Retry{MaxAttempts: 1}})
	_, err := d.Do(context.Background(), &Request{Op: "x", Method: http.MethodGet, URL: addr + "/p?secret=1"})
	if err == nil || !err.Temporary() || strings.Contains(err.Error(), "secret=1") {
		t.Fatalf("closed port: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = d.Do(ctx, &Request{Op: "x", Method: http.MethodGet, URL: addr})
	if err == nil || err.Temporary() || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestRetryPolicy(t *testing.T) {
	p := Retry{}.WithDefaults()
	if p.MaxAttempts != 3 || p.InitialBackoff != 250*time.Millisecond || p.MaxBackoff != 10*time.Second {
		t.Fatalf("defaults %+v", p)
	}
	p = Retry{InitialBackoff: time.Minute, MaxBackoff: time.Second}.WithDefaults()
	if p.InitialBackoff != time.Second {
		t.Fatalf("initial not capped: %+v", p)
	}
	for n := 1; n < 40; n++ {
		if d := p.Backoff(n, 0); d < 0 || d > time.Second {
			t.Fatalf("Backoff(%d) = %v", n, d)
		}
	}
	if d := p.Backoff(1, time.Hour); d != time.Second {
		t.Fatalf("Retry-After not capped: %v", d)
	}
}

func TestAPIClient(t *testing.T) {
	h := ExternalAccountAPIClient("file", true, false)
	if !strings.HasPrefix(h, BaseAPIClient()+" google-byoid-sdk source/file sa-impersonation/true config-lifetime/false") {
		t.Errorf("header %q", h)
	}
	if ExternalAccountAPIClient("file", true, false) != h {
		t.Error("not stable")
	}
	if !strings.Contains(BaseAPIClient(), "sts/"+Version) {
		t.Errorf("base %q", BaseAPIClient())
	}
}

func TestNoRedirects(t *testing.T) {
	c := NoRedirects(nil)
	if c == http.DefaultClient || c.CheckRedirect == nil {
		t.Fatal("NoRedirects(nil) must copy the default client")
	}
	if err := c.CheckRedirect(nil, nil); err != http.ErrUseLastResponse {
		t.Fatalf("CheckRedirect = %v", err)
	}
}

func TestDoerAttemptFailures(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"access_token":"` + strings.Repeat("x", 2<<20) + `"}`))
		case "/truncated":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "100")
			w.Write([]byte(`{"access`))
		case "/stall":
			<-release
		case "/stallbody":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			<-release
		case "/notjson":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `[]`)
		case "/teapot":
			w.WriteHeader(418)
		case "/weird":
			w.WriteHeader(599)
		}
	}))
	defer srv.Close()
	defer close(release)
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// Real sockets run in real time: only the stalls, which must time
	// out, get a short deadline; the other answers get one no load on the
	// machine reaches, so they fail for what they are, not for a slow
	// scheduler (a 2 MiB body took more than 50 ms under -race).
	d := NewDoer(Options{Client: srv.Client(), Timeout: 30 * time.Second, Retry: Retry{MaxAttempts: 1}, Logger: logger})
	short := NewDoer(Options{Client: srv.Client(), Timeout: 50 * time.Millisecond, Retry: Retry{MaxAttempts: 1}, Logger: logger})
	if d.Logger() != logger {
		t.Error("Logger")
	}
	do := func(path string) *Error {
		doer := d
		if strings.HasPrefix(path, "/stall") {
			doer = short
		}
		_, err := doer.Do(context.Background(), &Request{Op: "x", Method: http.MethodGet, URL: srv.URL + path})
		return err
	}
	if err := do("/big"); err == nil || err.StatusCode != 200 || err.Temporary() {
		t.Errorf("big body: %v", err)
	}
	if err := do("/truncated"); err == nil || !err.Temporary() {
		t.Errorf("truncated body: %v", err)
	}
	if err := do("/stall"); err == nil || !err.Temporary() || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("stalled answer: %v", err)
	}
	if err := do("/stallbody"); err == nil || !err.Temporary() || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("stalled body: %v", err)
	}
	if err := do("/teapot"); err == nil || err.StatusCode != 418 || err.Description == "" || err.Temporary() {
		t.Errorf("teapot: %v", err)
	}
	if err := do("/weird"); err == nil || err.Description != "unexpected status" || !err.Temporary() {
		t.Errorf("599: %v", err)
	}
	if _, _, err := d.PostToken(context.Background(), "exchange", srv.URL+"/notjson", nil, nil); err == nil || err.StatusCode != 200 {
		t.Errorf("not a token answer: %v", err)
	}
	if !strings.Contains(logs.String(), "sts: request") || !strings.Contains(logs.String(), "sts: transport error") {
		t.Errorf("logs:\n%s", logs.String())
	}

	// A caller's deadline shorter than the backoff ends the retries at
	// once: the call returns before that deadline (it would end at it if
	// it slept into the backoff).
	d = NewDoer(Options{Client: srv.Client(), Timeout: 20 * time.Millisecond, Retry: Retry{MaxAttempts: 5, InitialBackoff: time.Hour, MaxBackoff: time.Hour}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := d.Do(ctx, &Request{Op: "x", Method: http.MethodGet, URL: srv.URL + "/stall"})
	if err == nil || ctx.Err() != nil {
		t.Errorf("retry past the deadline: %v (caller's context: %v)", err, ctx.Err())
	}
}

// TestDoerErrorsNameMethodAndURL: every failure of a call says which
// request failed, with the URL's user information, query and fragment
// (which may carry secrets) left out, and the URL only once.
func TestDoerErrorsNameMethodAndURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"token_type":"Bearer"}`) // no access_token
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	d := NewDoer(Options{Client: srv.Client(), Retry: Retry{MaxAttempts: 1}})
	for _, tc := range []struct {
		name, url, want string
		status          int
	}{
		{"404", srv.URL + "/v1/token?key=query-secret#frag-secret", "POST " + srv.URL + "/v1/token: status 404: Not Found", 404},
		{"user info", strings.Replace(srv.URL, "://", "://user:pass-secret@", 1) + "/v1/token", "POST " + srv.URL + "/v1/token: status 404", 404},
		{"undecodable 200", srv.URL + "/ok?key=query-secret", "POST " + srv.URL + "/ok: status 200: ", 200},
		{"refused", closedURL + "/v1/token?key=query-secret", "POST " + closedURL + "/v1/token: ", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := d.PostToken(context.Background(), "exchange", tc.url, nil, nil)
			if err == nil {
				t.Fatal("no error")
			}
			text := err.Error()
			if !strings.HasPrefix(text, "sts: exchange: "+tc.want) || err.StatusCode != tc.status || err.Method != http.MethodPost {
				t.Errorf("error %q (status %d), want prefix %q (status %d)", text, err.StatusCode, "sts: exchange: "+tc.want, tc.status)
			}
			for _, secret := range []string{"query-secret", "frag-secret", "pass-secret"} {
				if strings.Contains(text, secret) || strings.Contains(err.URL, secret) {
					t.Errorf("error %q (URL %q) quotes %s", text, err.URL, secret)
				}
			}
			if n := strings.Count(text, "/v1/token"); n > 1 {
				t.Errorf("error %q names the URL %d times", text, n)
			}
		})
	}
	if _, err := d.Do(context.Background(), &Request{Op: "x", Method: http.MethodGet, URL: "::not a url"}); err == nil || err.URL != "" {
		t.Errorf("unparsable URL: %#v", err)
	}
}

// TestSanitize: server text in every field of an *Error loses secrets and
// control characters; a cause whose text changes keeps whether it is
// temporary and what it matches with errors.Is, and no longer unwraps to
// the text; a clean cause is kept as it is.
func TestSanitize(t *testing.T) {
	const secret = "s3cr3t/value+x"
	cause := Retryable(fmt.Errorf("answer quoted %q: %w", `s3cr3t\/value\u002bx`, context.DeadlineExceeded))
	e := Sanitize(&Error{Op: "x", Code: "bad\x1b[31m", Description: "token s3cr3t\\/value\\u002Bx \u202eevil", URI: "https://h/?t=s3cr3t%2Fvalue%2Bx", Err: cause}, []string{secret})
	text := e.Error()
	if strings.Contains(text, "s3cr3t") || strings.ContainsAny(text, "\x1b\u202e") {
		t.Errorf("sanitized error %q", text)
	}
	if e.Code != "bad" || !strings.Contains(e.Description, "REDACTED") || !strings.Contains(e.URI, "REDACTED") {
		t.Errorf("fields %q %q %q", e.Code, e.Description, e.URI)
	}
	if !e.Temporary() || !errors.Is(e, context.DeadlineExceeded) {
		t.Errorf("sanitized cause lost its kind: temporary %t, deadline %t", e.Temporary(), errors.Is(e, context.DeadlineExceeded))
	}
	for c := error(e); c != nil; c = errors.Unwrap(c) {
		if strings.Contains(c.Error(), "s3cr3t") {
			t.Errorf("the chain gives the secret back: %v", c)
		}
	}
	clean := errors.New("plain cause")
	if got := Sanitize(&Error{Err: clean}, []string{secret}); got.Err != clean {
		t.Errorf("a clean cause was replaced: %v", got.Err)
	}
	if Sanitize(nil, nil) != nil || SafeCause(nil, nil) != nil {
		t.Error("nil in, not nil out")
	}
}

// TestDoerScrubsHeaderSecrets: the secrets of a request's Authorization
// header (the bearer token, a Basic header's client secret) are scrubbed
// from error answers and the debug log even when the caller did not list
// them.
func TestDoerScrubsHeaderSecrets(t *testing.T) {
	const clientSecret = "client-secret-value/+x"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pw, _ := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(401)
		fmt.Fprintf(w, `{"error":"invalid_client","error_description":"client %s (%s) refused"}`,
			strings.ReplaceAll(url.QueryEscape(pw), "%", `\u0025`), r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	var log strings.Builder
	d := NewDoer(Options{Client: srv.Client(), Retry: Retry{MaxAttempts: 1},
		Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	hdr := http.Header{"Authorization": {BasicAuth("client-id", clientSecret)}}
	_, _, err := d.PostToken(context.Background(), "exchange", srv.URL, []byte("a=b"), hdr)
	if err == nil || !strings.Contains(err.Description, "REDACTED") {
		t.Fatalf("err = %v", err)
	}
	for _, text := range []string{err.Error(), log.String()} {
		if strings.Contains(text, url.QueryEscape(clientSecret)) || strings.Contains(text, "client-secret-value") ||
			strings.Contains(text, strings.TrimPrefix(BasicAuth("client-id", clientSecret), "Basic ")) {
			t.Errorf("secret in %q", text)
		}
	}
}

// TestDoerEmptyOK: a 2xx answer with an empty body and a content type other
// than JSON is accepted only when the request says EmptyOK; a non-empty one
// still needs JSON.
func TestDoerEmptyOK(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if r.URL.Path == "/text" {
			io.WriteString(w, "revoked")
		}
	}))
	defer srv.Close()
	d := NewDoer(Options{Client: srv.Client(), Retry: Retry{MaxAttempts: 1}})
	if _, err := d.Do(context.Background(), &Request{Op: "revoke", Method: http.MethodPost, URL: srv.URL + "/empty"}); err == nil {
		t.Error("empty answer accepted without EmptyOK")
	}
	if body, err := d.Do(context.Background(), &Request{Op: "revoke", Method: http.MethodPost, URL: srv.URL + "/empty", EmptyOK: true}); err != nil || len(body) != 0 {
		t.Errorf("empty answer with EmptyOK: %q, %v", body, err)
	}
	if _, err := d.Do(context.Background(), &Request{Op: "revoke", Method: http.MethodPost, URL: srv.URL + "/text", EmptyOK: true}); err == nil {
		t.Error("non-JSON body accepted with EmptyOK")
	}
}
