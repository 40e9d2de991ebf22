package bench

import (
	"context"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/ststest"
)

// exchangeOp returns, for lib (one of libraries, or "floor"), the setup of
// one cold exchange per op: build the library's external-account source,
// read the subject token file, POST to the emulator's /v1/token, decode the
// answer and return the token. The floor is the emulator's and
// http.Client's part alone: the same form POSTed by hand with the same
// client.
func exchangeOp(tb testing.TB, lib string) func(e *env) func(int) {
	ctx := context.Background()
	if lib == "floor" {
		form := url.Values{
			"grant_type":           {"urn:ietf:params:oauth:grant-type:token-exchange"},
			"requested_token_type": {sts.TokenTypeAccessToken},
			"subject_token":        {subjectJWT},
			"subject_token_type":   {sts.TokenTypeJWT},
			"audience":             {audience},
			"scope":                {sts.CloudPlatformScope},
		}.Encode()
		return func(e *env) func(int) {
			return func(int) {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.TokenURL(), strings.NewReader(form))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := e.client.Do(req)
				if err != nil {
					tb.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					tb.Fatalf("status %d", resp.StatusCode)
				}
			}
		}
	}
	return func(e *env) func(int) {
		return func(int) {
			if _, _, err := newGetter(tb, lib, e)(ctx); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// BenchmarkExchange measures one full exchange per op (see exchangeOp)
// against the in-memory emulator (no sockets), so its work is in every
// figure; sub-benchmark "floor" is that part alone, and what a library adds
// is its figure minus the floor. Besides ns/op, B/op and allocs/op it
// reports cpu-ns/op, the process's user+system CPU time per exchange (all
// goroutines, GC included).
func BenchmarkExchange(b *testing.B) {
	for _, lib := range append([]string{"floor"}, libraries...) {
		b.Run("lib="+lib, func(b *testing.B) {
			measureCPU(b, memEnv, exchangeOp(b, lib))
		})
	}
}

// BenchmarkExchangeTCP is BenchmarkExchange with the emulator listening on
// a loopback port: every library goes through a real http.Transport and
// kept-alive TCP connections, as it does with STS (TLS aside).
func BenchmarkExchangeTCP(b *testing.B) {
	for _, lib := range append([]string{"floor"}, libraries...) {
		b.Run("lib="+lib, func(b *testing.B) {
			measureCPU(b, tcpEnv, exchangeOp(b, lib))
		})
	}
}

// memEnv and tcpEnv are the emulators of the benchmarks: in memory, or
// listening on a loopback port.
func memEnv(tb testing.TB) *env { return newEnv(tb, ststest.Options{}) }
func tcpEnv(tb testing.TB) *env { return newTCPEnv(tb, ststest.Options{}) }

// chunk is how many ops run against one emulator: it keeps every request
// it receives, and a heap that grows with b.N would make later ops pay more
// for garbage collection.
const chunk = 500

// measureCPU runs b.N ops with allocation reporting and adds the cpu-ns/op
// metric. Every chunk ops it starts a fresh emulator with mk and calls setup
// with it, outside the measurement; setup returns the op, which gets the
// op's index.
func measureCPU(b *testing.B, mk func(testing.TB) *env, setup func(*env) func(i int)) {
	b.ReportAllocs()
	var cpu, t0 time.Duration
	var (
		e  *env
		op func(int)
	)
	b.ResetTimer()
	for i := range b.N {
		if i%chunk == 0 {
			b.StopTimer()
			if e != nil {
				cpu += cpuTime() - t0
				e.close()
			}
			e = mk(b)
			op = setup(e)
			runtime.GC()
			t0 = cpuTime()
			b.StartTimer()
		}
		op(i)
	}
	cpu += cpuTime() - t0
	b.StopTimer()
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// cpuTime is the user plus system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// wireCounts is what a counting emulator's server saw: connections opened
// and bytes read (requests, headers and bodies).
type wireCounts struct {
	conns, read atomic.Int64
}

// countingConn counts the bytes read from a connection.
type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// countingListener wraps every accepted connection in a countingConn.
type countingListener struct {
	net.Listener
	read *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.read}, nil
}

// newCountingTCPEnv is newTCPEnv's emulator served by an httptest server
// that counts the connections it accepts and the bytes it reads.
func newCountingTCPEnv(tb testing.TB) (*env, *wireCounts) {
	tb.Helper()
	w := new(wireCounts)
	srv := ststest.NewInMemoryServer(ststest.Options{})
	hs := httptest.NewUnstartedServer(srv)
	hs.Listener = countingListener{hs.Listener, &w.read}
	hs.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			w.conns.Add(1)
		}
	}
	hs.Start()
	tb.Cleanup(hs.Close)
	srv.URL = hs.URL
	e := envOf(tb, srv)
	e.client = hs.Client()
	return e, w
}

// TestExchangeWire: over loopback TCP, every library's cold exchanges
// (a new source each) through one http.Client share one kept-alive
// connection, and sts's requests have no more headers for the server to
// parse than x/oauth2's. The bytes per request are logged (they differ by
// the libraries' x-goog-api-client values and Accept-Encoding: sts sends
// "identity", which keeps the transport from adding "gzip").
func TestExchangeWire(t *testing.T) {
	const n = 20
	bytes := map[string]int64{}
	headers := map[string]int{}
	for _, lib := range append([]string{"floor"}, libraries...) {
		e, w := newCountingTCPEnv(t)
		op := exchangeOp(t, lib)(e)
		for i := range n {
			op(i)
		}
		reqs := e.srv.Requests()
		if len(reqs) != n {
			t.Fatalf("%s: %d requests for %d exchanges", lib, len(reqs), n)
		}
		bytes[lib], headers[lib] = w.read.Load()/n, len(reqs[n-1].Header)
		t.Logf("%-6s %d connection(s) for %d exchanges; %d bytes and %d headers per request: %v",
			lib, w.conns.Load(), n, bytes[lib], headers[lib], slices.Sorted(maps.Keys(reqs[n-1].Header)))
		if c := w.conns.Load(); c != 1 {
			t.Errorf("%s: %d connections for %d sequential exchanges through one client; want 1", lib, c, n)
		}
		e.close()
	}
	if headers["sts"] > headers["oauth2"] {
		t.Errorf("sts sends %d headers per request (%d bytes), x/oauth2 %d (%d bytes)", headers["sts"], bytes["sts"], headers["oauth2"], bytes["oauth2"])
	}
}
