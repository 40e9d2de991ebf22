package bench

import (
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/metaserver"
	"github.com/stsgo/sts/ststest"
)

const serveTokenPath = "/computeMetadata/v1/instance/service-accounts/default/token"

// serveHandlers returns the two handlers BenchmarkServeToken compares: the
// metadata server over a fresh cached sts source, and a bare net/http
// handler writing the same JSON answer (taken from the server once) with
// no checks at all.
func serveHandlers(tb testing.TB) (bare, stsHandler http.Handler) {
	tb.Helper()
	e := newEnv(tb, ststest.Options{})
	s, err := metaserver.New(metaserver.Config{TokenSource: newSTS(tb, e, sts.CacheOptions{})})
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Check(tb.Context()); err != nil {
		tb.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://127.0.0.1"+serveTokenPath, nil)
	req.Header.Set("Metadata-Flavor", "Google")
	w := &discardWriter{h: http.Header{}}
	s.ServeHTTP(w, req)
	body := w.last
	bare = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	return bare, s
}

// BenchmarkServeToken measures one token request, GET
// .../service-accounts/default/token with Metadata-Flavor: Google, over a
// kept-alive loopback connection, against the metadata server
// (lib=sts) and against a bare handler answering the same JSON
// (lib=bare), in one run. The ratio is what the server's checks, routing
// and answer building cost on top of HTTP itself.
func BenchmarkServeToken(b *testing.B) {
	bare, s := serveHandlers(b)
	for _, c := range []struct {
		lib string
		h   http.Handler
	}{{"bare", bare}, {"sts", s}} {
		b.Run("lib="+c.lib, func(b *testing.B) {
			ln, err := metaserver.Listen("127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := &http.Server{Handler: c.h}
			go srv.Serve(ln)
			defer srv.Close()
			tr := &http.Transport{MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			url := "http://" + ln.Addr().String() + serveTokenPath
			b.ReportAllocs()
			for b.Loop() {
				req, _ := http.NewRequest("GET", url, nil)
				req.Header.Set("Metadata-Flavor", "Google")
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}

// BenchmarkServeHandler measures the handlers alone (ServeHTTP on a
// reused writer, no sockets): the server's own cost per token answer.
func BenchmarkServeHandler(b *testing.B) {
	bare, s := serveHandlers(b)
	req, _ := http.NewRequest("GET", "http://127.0.0.1"+serveTokenPath, nil)
	req.Header.Set("Metadata-Flavor", "Google")
	req.RemoteAddr = (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}).String()
	for _, c := range []struct {
		lib string
		h   http.Handler
	}{{"bare", bare}, {"sts", s}} {
		b.Run("lib="+c.lib, func(b *testing.B) {
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				c.h.ServeHTTP(w, req)
			}
		})
	}
}

// TestServeTokenAnswers: both handlers of BenchmarkServeToken answer the
// same JSON, so the benchmark compares like with like.
func TestServeTokenAnswers(t *testing.T) {
	bare, s := serveHandlers(t)
	req, _ := http.NewRequest("GET", "http://127.0.0.1"+serveTokenPath, nil)
	req.Header.Set("Metadata-Flavor", "Google")
	w1, w2 := &discardWriter{h: http.Header{}}, &discardWriter{h: http.Header{}}
	bare.ServeHTTP(w1, req)
	s.ServeHTTP(w2, req)
	if string(w1.last) != string(w2.last) || len(w1.last) < 50 {
		t.Errorf("bare %q, sts %q", w1.last, w2.last)
	}
}

// discardWriter is an http.ResponseWriter that keeps the last body.
type discardWriter struct {
	h    http.Header
	last []byte
	code int
}

func (w *discardWriter) Header() http.Header  { return w.h }
func (w *discardWriter) WriteHeader(code int) { w.code = code }
func (w *discardWriter) Write(p []byte) (int, error) {
	w.last = append(w.last[:0], p...)
	return len(p), nil
}
