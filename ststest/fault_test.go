package ststest_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stsgo/sts/ststest"
)

// modes runs f against a started server and an in-memory one.
func modes(t *testing.T, opts ststest.Options, f func(t *testing.T, s *ststest.Server)) {
	t.Run("started", func(t *testing.T) {
		s := ststest.NewServer(opts)
		defer s.Close()
		f(t, s)
	})
	t.Run("in-memory", func(t *testing.T) {
		s := ststest.NewInMemoryServer(opts)
		defer s.Close()
		f(t, s)
	})
}

func post(s *ststest.Server) (*http.Response, error) {
	return s.Client().PostForm(s.TokenURL(), exchangeForm())
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return string(b)
}

func TestCannedFaults(t *testing.T) {
	tests := []struct {
		name        string
		fault       ststest.Fault
		status      int
		contentType string
		body        string // substring
		header      map[string]string
	}{
		{name: "error", fault: ststest.ErrorFault(400, "invalid_grant", "expired"), status: 400,
			contentType: "application/json", body: `{"error":"invalid_grant","error_description":"expired"}`},
		{name: "google error", fault: ststest.GoogleErrorFault(403, "PERMISSION_DENIED", "denied"), status: 403,
			body: `"status":"PERMISSION_DENIED"`},
		{name: "unavailable", fault: ststest.UnavailableFault(1500 * time.Millisecond), status: 503,
			body: "temporarily_unavailable", header: map[string]string{"Retry-After": "2"}},
		{name: "unavailable without retry-after", fault: ststest.UnavailableFault(0), status: 503,
			header: map[string]string{"Retry-After": ""}},
		{name: "retry-after date", fault: ststest.Fault{Status: 429, RetryAfter: "Wed, 21 Oct 2015 07:28:00 GMT"}, status: 429,
			header: map[string]string{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}},
		{name: "html", fault: ststest.Fault{HTML: true}, status: 502, contentType: "text/html", body: "<html"},
		{name: "html with status", fault: ststest.Fault{HTML: true, Status: 504}, status: 504, contentType: "text/html", body: "504"},
		{name: "custom body and type", fault: ststest.Fault{Status: 500, Body: "oops", ContentType: "text/plain"}, status: 500,
			contentType: "text/plain", body: "oops"},
		{name: "malformed success", fault: ststest.Fault{Body: `{"access_token":`}, status: 200, body: `{"access_token":`},
		{name: "extra header", fault: ststest.Fault{Status: 500, Header: http.Header{"X-Test": {"1"}}}, status: 500,
			header: map[string]string{"X-Test": "1"}},
		{name: "header on normal answer", fault: ststest.Fault{Header: http.Header{"X-Test": {"2"}}}, status: 200,
			body: "access_token", header: map[string]string{"X-Test": "2"}},
		{name: "zero fault", fault: ststest.Fault{}, status: 200, body: "access_token"},
	}
	modes(t, ststest.Options{}, func(t *testing.T, s *ststest.Server) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				s.PushFaults(tc.fault)
				resp, err := post(s)
				if err != nil {
					t.Fatal(err)
				}
				body := readAll(t, resp)
				if resp.StatusCode != tc.status || !strings.Contains(body, tc.body) {
					t.Fatalf("got %d %q, want %d containing %q", resp.StatusCode, body, tc.status, tc.body)
				}
				if tc.contentType != "" && !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.contentType) {
					t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tc.contentType)
				}
				for k, v := range tc.header {
					if got := resp.Header.Get(k); got != v {
						t.Errorf("header %s = %q, want %q", k, got, v)
					}
				}
				if s.PendingFaults() != 0 {
					t.Fatal("fault not consumed")
				}
			})
		}
	})
}

func TestFaultQueue(t *testing.T) {
	modes(t, ststest.Options{}, func(t *testing.T, s *ststest.Server) {
		s.PushFaults(ststest.ErrorFault(500, "server_error", "one"), ststest.ErrorFault(503, "temporarily_unavailable", "two"))
		s.PushFaults(ststest.Fault{Path: "/v1beta/token", Status: 418})
		if n := s.PendingFaults(); n != 3 {
			t.Fatalf("pending %d", n)
		}
		for _, want := range []int{500, 503, 200} {
			resp, err := post(s)
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, resp)
			if resp.StatusCode != want {
				t.Fatalf("status %d, want %d", resp.StatusCode, want)
			}
		}
		if n := s.PendingFaults(); n != 1 {
			t.Fatalf("pending %d, want the /v1beta fault left", n)
		}
		// Unknown paths neither consume nor get faults.
		resp, err := s.Client().PostForm(s.URL+"/v1/unknown", exchangeForm())
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		if resp.StatusCode != 404 || s.PendingFaults() != 1 {
			t.Fatalf("unknown path: %d, pending %d", resp.StatusCode, s.PendingFaults())
		}
		resp, err = s.Client().PostForm(s.URL+"/v1beta/token", exchangeForm())
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		if resp.StatusCode != 418 || s.PendingFaults() != 0 {
			t.Fatalf("path fault: %d", resp.StatusCode)
		}
		if n := s.Count("/v1/token"); n != 3 {
			t.Fatalf("faulted requests are recorded too: count %d, want 3", n)
		}
	})
}

func TestTruncateFault(t *testing.T) {
	modes(t, ststest.Options{}, func(t *testing.T, s *ststest.Server) {
		for _, f := range []ststest.Fault{{Truncate: true}, {Truncate: true, Status: 500, Body: `{"error":"server_error"}`}, {Truncate: true, Status: 500}} {
			s.PushFaults(f)
			resp, err := post(s)
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%v: reading truncated body: %v", f, err)
			}
		}
		// The server keeps working afterwards.
		resp, err := post(s)
		if err != nil {
			t.Fatal(err)
		}
		if readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

func TestResetFault(t *testing.T) {
	modes(t, ststest.Options{}, func(t *testing.T, s *ststest.Server) {
		s.PushFaults(ststest.Fault{Reset: true})
		resp, err := post(s)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("got a response (%d) from a reset connection", resp.StatusCode)
		}
		if s.URL == ststest.InMemoryURL && !errors.Is(err, ststest.ErrConnectionReset) {
			t.Fatalf("in-memory reset error: %v", err)
		}
		// Both modes fail the same way: a net.Error matching ECONNRESET.
		var ne net.Error
		if !errors.Is(err, syscall.ECONNRESET) || !errors.As(err, &ne) {
			t.Fatalf("reset error %v is not a connection reset", err)
		}
		resp, err = post(s)
		if err != nil {
			t.Fatal(err)
		}
		if readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

// arrivals returns options whose OnRequest signals each request's arrival.
func arrivals() (ststest.Options, <-chan ststest.Request) {
	ch := make(chan ststest.Request, 16)
	return ststest.Options{OnRequest: func(r ststest.Request) { ch <- r }}, ch
}

func TestHangAndDelayCancelled(t *testing.T) {
	for _, f := range []ststest.Fault{{Hang: true}, {Delay: time.Hour}} {
		opts, arrived := arrivals()
		modes(t, opts, func(t *testing.T, s *ststest.Server) {
			s.PushFaults(f)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			go func() {
				<-arrived
				cancel()
			}()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.TokenURL(), strings.NewReader(exchangeForm().Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if _, err := s.Client().Do(req); !errors.Is(err, context.Canceled) {
				t.Fatalf("%v: cancelled request: %v", f, err)
			}
			if s.Count("/v1/token") != 1 {
				t.Fatalf("count %d", s.Count("/v1/token"))
			}
		})
	}
}

func TestHangReleasedByClose(t *testing.T) {
	for _, f := range []ststest.Fault{{Hang: true}, {Delay: time.Hour}} {
		opts, arrived := arrivals()
		modes(t, opts, func(t *testing.T, s *ststest.Server) {
			s.PushFaults(f)
			done := make(chan error)
			go func() {
				resp, err := post(s)
				if err == nil {
					resp.Body.Close()
				}
				done <- err
			}()
			<-arrived
			s.Close()
			err := <-done
			var ne net.Error
			if !errors.Is(err, syscall.ECONNRESET) || !errors.As(err, &ne) {
				t.Fatalf("%v: request released by Close: %v", f, err)
			}
		})
	}
}

// TestTimeInMemory checks delays, hangs and latency with virtual time.
func TestTimeInMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := ststest.NewInMemoryServer(ststest.Options{})
		defer s.Close()
		elapsed := func(c *http.Client) (time.Duration, *http.Response, error) {
			start := time.Now()
			resp, err := c.PostForm(s.TokenURL(), exchangeForm())
			if err == nil {
				readAll(t, resp)
			}
			return time.Since(start), resp, err
		}

		s.PushFaults(ststest.Fault{Delay: 3 * time.Second}, ststest.Fault{Delay: time.Second, Status: 503})
		if d, resp, err := elapsed(s.Client()); err != nil || d != 3*time.Second || resp.StatusCode != 200 {
			t.Fatalf("delay: %v %v", d, err)
		}
		if d, resp, err := elapsed(s.Client()); err != nil || d != time.Second || resp.StatusCode != 503 {
			t.Fatalf("delayed error: %v %v", d, err)
		}

		s.SetLatency(2 * time.Second)
		if d, _, err := elapsed(s.Client()); err != nil || d != 2*time.Second {
			t.Fatalf("latency: %v %v", d, err)
		}
		s.PushFaults(ststest.Fault{Delay: time.Second})
		if d, _, err := elapsed(s.Client()); err != nil || d != 3*time.Second {
			t.Fatalf("latency plus delay: %v %v", d, err)
		}
		timeout := &http.Client{Transport: s.Client().Transport, Timeout: 500 * time.Millisecond}
		if d, _, err := elapsed(timeout); err == nil || d != 500*time.Millisecond {
			t.Fatalf("latency beyond the client time-out: %v %v", d, err)
		}
		s.SetLatency(0)

		s.PushFaults(ststest.Fault{Hang: true})
		timeout.Timeout = time.Minute
		if d, _, err := elapsed(timeout); err == nil || d != time.Minute {
			t.Fatalf("hang: %v %v", d, err)
		}
		s.PushFaults(ststest.Fault{Hang: true})
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.TokenURL(), strings.NewReader(exchangeForm().Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		start := time.Now()
		if _, err := s.Client().Do(req); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 10*time.Second {
			t.Fatalf("hang with context: %v after %v", err, time.Since(start))
		}
		if n := s.Count("/v1/token"); n != 7 {
			t.Fatalf("count %d", n)
		}
	})
}

// TestServerCreatedOutsideBubble checks that a server made outside a synctest
// bubble still waits in virtual time inside it, and across two bubbles.
func TestServerCreatedOutsideBubble(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{})
	defer s.Close()
	for range 2 {
		synctest.Test(t, func(t *testing.T) {
			s.SetLatency(time.Second)
			defer s.SetLatency(0)
			s.PushFaults(ststest.Fault{Delay: time.Minute})
			start := time.Now()
			resp, err := post(s)
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, resp)
			if d := time.Since(start); d != time.Minute+time.Second {
				t.Fatalf("waited %v", d)
			}
		})
	}
	synctest.Test(t, func(t *testing.T) {
		s.PushFaults(ststest.Fault{Hang: true})
		done := make(chan error)
		go func() {
			_, err := post(s)
			done <- err
		}()
		synctest.Wait()
		s.Close()
		if err := <-done; !errors.Is(err, ststest.ErrConnectionReset) {
			t.Fatalf("released request: %v", err)
		}
	})
}

func TestStallFault(t *testing.T) {
	t.Run("in-memory", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := ststest.NewInMemoryServer(ststest.Options{})
			defer s.Close()
			s.PushFaults(ststest.Fault{Stall: true})
			c := &http.Client{Transport: s.Client().Transport, Timeout: 10 * time.Second}
			start := time.Now()
			resp, err := c.PostForm(s.TokenURL(), exchangeForm())
			if err != nil || resp.StatusCode != 200 || time.Since(start) != 0 {
				t.Fatalf("headers: %v after %v", err, time.Since(start))
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil || time.Since(start) != 10*time.Second || !strings.HasPrefix(string(b), `{"access_token"`) {
				t.Fatalf("stalled body: %q, %v after %v", b, err, time.Since(start))
			}

			// Close releases a stalled read.
			s.PushFaults(ststest.Fault{Stall: true, Status: 503, Body: `{"error":"temporarily_unavailable"}`})
			resp, err = s.Client().PostForm(s.TokenURL(), exchangeForm())
			if err != nil || resp.StatusCode != 503 {
				t.Fatalf("stalled error response: %v", err)
			}
			done := make(chan error)
			go func() {
				_, err := io.ReadAll(resp.Body)
				done <- err
			}()
			synctest.Wait()
			s.Close()
			if err := <-done; !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("read released by Close: %v", err)
			}
		})
	})
	t.Run("started", func(t *testing.T) {
		s := ststest.NewServer(ststest.Options{})
		defer s.Close()
		for _, release := range []string{"cancel", "close"} {
			s.PushFaults(ststest.Fault{Stall: true})
			ctx, cancel := context.WithCancel(t.Context())
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.TokenURL(), strings.NewReader(exchangeForm().Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := s.Client().Do(req)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("headers: %v", err)
			}
			done := make(chan error)
			go func() {
				_, err := io.ReadAll(resp.Body)
				done <- err
			}()
			if release == "cancel" {
				cancel()
			} else {
				s.Close()
			}
			if err := <-done; err == nil {
				t.Fatalf("%s: stalled body read completed", release)
			}
			resp.Body.Close()
			cancel()
		}
	})
}
