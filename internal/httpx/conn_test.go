package httpx

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stsgo/sts/internal/deadline"
)

// TestDoerKeepsOneConnection: sequential calls through one client share one
// kept-alive connection, whatever the answer (a token, a token sent in
// chunks, an error with a JSON body, an error without one), under a
// caller's context and under a refresh's, since every answer is read to its
// end. Each request carries only the headers listed, Accept-Encoding
// "identity" among them, so that an http.Transport adds none of its own.
func TestDoerKeepsOneConnection(t *testing.T) {
	var (
		mu      sync.Mutex
		conns   int
		headers []http.Header
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		headers = append(headers, r.Header.Clone())
		mu.Unlock()
		switch r.URL.Path {
		case "/token":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":"at","expires_in":60}`)
		case "/chunked":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":`)
			w.(http.Flusher).Flush()
			io.WriteString(w, `"at","expires_in":60}`)
		case "/denied":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"invalid_grant","error_description":"no"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	srv.Start()
	defer srv.Close()

	d := NewDoer(Options{Client: srv.Client(), Retry: Retry{MaxAttempts: 1}, APIClient: "test/4"})
	paths := []string{"/token", "/chunked", "/denied", "/missing"}
	const rounds = 5
	for i := range rounds * len(paths) {
		ctx := context.Background()
		if i%2 == 1 {
			rc := deadline.New(nil, time.Now().Add(time.Minute))
			defer rc.Cancel()
			ctx = rc
		}
		p := paths[i%len(paths)]
		tok, _, err := d.PostToken(ctx, "exchange", srv.URL+p, []byte("a=b"), nil)
		if ok := p == "/token" || p == "/chunked"; ok != (err == nil) || (ok && tok.AccessToken != "at") {
			t.Fatalf("%s: token %v, error %v", p, tok, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if conns != 1 {
		t.Errorf("%d connections for %d sequential calls through one client; want 1", conns, rounds*len(paths))
	}
	want := []string{"Accept-Encoding", "Content-Length", "Content-Type", "User-Agent", "X-Goog-Api-Client"}
	for i, h := range headers {
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range h {
				if !yield(k) {
					return
				}
			}
		})
		if !slices.Equal(keys, want) || h.Get("Accept-Encoding") != "identity" {
			t.Errorf("request %d: headers %v; want exactly %v, Accept-Encoding identity", i, h, want)
		}
	}
}
