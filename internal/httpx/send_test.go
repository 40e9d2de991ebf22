package httpx

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stsgo/sts/internal/deadline"
)

// rtFunc is a RoundTripper that is a function.
type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestDoerFollowsNoRedirectWithAnyClient: a plain client goes straight to
// its transport, one with a cookie jar or an overall time-out through
// http.Client; neither follows a redirect, and both send the body, its
// length and the headers.
func TestDoerFollowsNoRedirectWithAnyClient(t *testing.T) {
	followed := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/elsewhere":
			followed = true
		case "/redirect":
			w.Header().Set("Location", "/elsewhere")
			w.WriteHeader(http.StatusTemporaryRedirect)
		default:
			b, _ := io.ReadAll(r.Body)
			if string(b) != "a=b" || r.ContentLength != 3 || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
				r.Header.Get("Accept-Encoding") != "identity" || r.Header.Get("X-Goog-Api-Client") != "test/2" || r.Header.Get("X-Extra") != "1" {
				t.Errorf("request: body %q, length %d, headers %v", b, r.ContentLength, r.Header)
			}
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":"at","expires_in":60}`)
		}
	}))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	withJar, withTimeout := *srv.Client(), *srv.Client()
	withJar.Jar, withTimeout.Timeout = jar, time.Minute
	for name, c := range map[string]*http.Client{"plain": srv.Client(), "jar": &withJar, "timeout": &withTimeout} {
		d := NewDoer(Options{Client: c, Retry: Retry{MaxAttempts: 1}, APIClient: "test/2"})
		tok, _, err := d.PostToken(context.Background(), "exchange", srv.URL+"/token", []byte("a=b"), http.Header{"X-Extra": {"1"}})
		if err != nil || tok.AccessToken != "at" {
			t.Errorf("%s client: token %v, %v", name, tok, err)
		}
		_, _, err = d.PostToken(context.Background(), "exchange", srv.URL+"/redirect", []byte("a=b"), nil)
		if err == nil || err.StatusCode != http.StatusTemporaryRedirect || followed {
			t.Errorf("%s client: redirect answer gave %v (followed: %t)", name, err, followed)
		}
		if c.CheckRedirect != nil {
			t.Errorf("%s client: the caller's client was changed", name)
		}
	}
}

// TestDoerOddRoundTrippers: a RoundTripper that breaks its contract gets
// an *Error, never a panic; the body of an answer that comes with an error
// is closed.
func TestDoerOddRoundTrippers(t *testing.T) {
	closed := false
	for _, tc := range []struct {
		name string
		rt   rtFunc
		want string
	}{
		{"nil answer", func(*http.Request) (*http.Response, error) { return nil, nil }, "neither a response nor an error"},
		{"answer and error", func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Body: closeFunc(func() { closed = true })}, errors.New("broken")
		}, "broken"},
		{"no body", func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Header: http.Header{}}, nil
		}, "empty response body"},
	} {
		d := NewDoer(Options{Client: &http.Client{Transport: tc.rt}, Retry: Retry{MaxAttempts: 1}})
		_, _, err := d.PostToken(context.Background(), "exchange", "https://sts.example/v1/token", []byte("a=b"), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	if !closed {
		t.Error("the body of an answer that came with an error was not closed")
	}
}

type closeFunc func()

func (closeFunc) Read([]byte) (int, error) { return 0, io.EOF }
func (f closeFunc) Close() error           { f(); return nil }

// TestDoerHeadersAreTheRequests: a RoundTripper that changes the request's
// headers (against its contract, but common) changes that request only:
// the next one is sent with the Doer's headers, and the values the Doer
// shares between requests stay as they were.
func TestDoerHeadersAreTheRequests(t *testing.T) {
	var seen []http.Header
	rt := rtFunc(func(r *http.Request) (*http.Response, error) {
		seen = append(seen, r.Header.Clone())
		r.Header.Add("Accept-Encoding", "gzip")
		r.Header.Add("X-Goog-Api-Client", "mutated")
		r.Header.Set("Content-Type", "text/plain")
		r.Header["Accept-Encoding"] = append(r.Header["Accept-Encoding"], "more")
		return &http.Response{StatusCode: 200, Header: http.Header{}, ContentLength: -1,
			Body: io.NopCloser(strings.NewReader(`{"access_token":"at","expires_in":60}`))}, nil
	})
	d := NewDoer(Options{Client: &http.Client{Transport: rt}, APIClient: "test/3"})
	for range 2 {
		if _, _, err := d.PostToken(context.Background(), "exchange", "https://sts.example/v1/token", []byte("a=b"), nil); err != nil {
			t.Fatal(err)
		}
	}
	for i, h := range seen {
		if got := h.Values("Accept-Encoding"); len(got) != 1 || got[0] != "identity" {
			t.Errorf("request %d: Accept-Encoding %q", i, got)
		}
		if got := h.Values("X-Goog-Api-Client"); len(got) != 1 || got[0] != "test/3" {
			t.Errorf("request %d: X-Goog-Api-Client %q", i, got)
		}
		if got := h.Values("Content-Type"); len(got) != 1 || got[0] != "application/x-www-form-urlencoded" {
			t.Errorf("request %d: Content-Type %q", i, got)
		}
	}
	if len(identity) != 1 || identity[0] != "identity" {
		t.Errorf("shared Accept-Encoding value changed: %q", identity)
	}
}

// TestDoerBodyCanBeSentAgain: GetBody gives the whole body again, however
// much of it was read, so that the transport can resend a request on a
// fresh connection.
func TestDoerBodyCanBeSentAgain(t *testing.T) {
	rt := rtFunc(func(r *http.Request) (*http.Response, error) {
		first, _ := io.ReadAll(r.Body)
		again, err := r.GetBody()
		if err != nil {
			return nil, err
		}
		second, _ := io.ReadAll(again)
		if string(first) != "a=b&c=d" || string(second) != string(first) || r.ContentLength != 7 {
			t.Errorf("body %q, again %q, length %d", first, second, r.ContentLength)
		}
		return &http.Response{StatusCode: 200, Header: http.Header{}, ContentLength: -1,
			Body: io.NopCloser(strings.NewReader(`{"access_token":"at","expires_in":60}`))}, nil
	})
	d := NewDoer(Options{Client: &http.Client{Transport: rt}})
	if _, _, err := d.PostToken(context.Background(), "exchange", "https://sts.example/v1/token", []byte("a=b&c=d"), nil); err != nil {
		t.Fatal(err)
	}
}

// TestDoerConfigShared: Doers configured alike share their configuration
// (an idle source holds a pointer to it); one with a logger or other
// options has its own; at most maxDoerConfigs are kept.
func TestDoerConfigShared(t *testing.T) {
	a, b := NewDoer(Options{APIClient: "shared/1"}), NewDoer(Options{APIClient: "shared/1"})
	if a.doerConfig != b.doerConfig {
		t.Error("Doers configured alike do not share their configuration")
	}
	if c := NewDoer(Options{APIClient: "shared/2"}); c.doerConfig == a.doerConfig || c.APIClient() != "shared/2" {
		t.Error("a Doer with another API client shares a configuration")
	}
	if c := NewDoer(Options{APIClient: "shared/1", Logger: slog.New(slog.DiscardHandler)}); c.doerConfig == a.doerConfig || c.Logger() == nil {
		t.Error("a Doer with a logger shares a configuration")
	}
	for i := range 3 * maxDoerConfigs {
		d := NewDoer(Options{Timeout: time.Duration(i+1) * time.Second})
		if d.timeout != time.Duration(i+1)*time.Second {
			t.Fatalf("Doer %d: timeout %v", i, d.timeout)
		}
	}
	if n := len(doerConfigs); n > maxDoerConfigs {
		t.Errorf("%d configurations kept; at most %d", n, maxDoerConfigs)
	}
}

// TestAttemptUnderRefreshContext: under a refresh's context (a
// *deadline.Context) an attempt ends at the attempt time-out or at the
// refresh's deadline, whichever comes first, and a standard context
// derived from the request's (as the transport derives one) ends with it.
func TestAttemptUnderRefreshContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := rtFunc(func(r *http.Request) (*http.Response, error) {
			ctx, cancel := context.WithCancel(r.Context())
			defer cancel()
			<-ctx.Done()
			return nil, ctx.Err()
		})
		d := NewDoer(Options{Client: &http.Client{Transport: rt}, Timeout: 30 * time.Second, Retry: Retry{MaxAttempts: 1}})
		for _, tc := range []struct {
			refresh, want time.Duration
		}{{time.Hour, 30 * time.Second}, {10 * time.Second, 10 * time.Second}} {
			start := time.Now()
			ctx := deadline.New(nil, start.Add(tc.refresh))
			_, err := d.Do(ctx, &Request{Op: "x", Method: http.MethodPost, URL: "https://sts.example/v1/token", Body: []byte("a=b")})
			ctx.Cancel()
			if got := time.Since(start); err == nil || !err.Temporary() || got != tc.want {
				t.Errorf("refresh deadline %v: %v after %v; want a temporary error after %v", tc.refresh, err, got, tc.want)
			}
		}
	})
}
