package bench

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/ststest"
)

// BenchmarkExchange measures one full exchange per op: build the library's
// external-account source, read the subject token file, POST to the
// emulator's /v1/token, decode the answer and return the token. The
// emulator runs in-process (no sockets), so its work is in every figure;
// sub-benchmark "floor" is that part alone (the same form POSTed by hand
// with the same http.Client), and what a library adds is its figure minus
// the floor. Besides ns/op, B/op and allocs/op it reports cpu-ns/op, the
// process's user+system CPU time per exchange (all goroutines, GC
// included).
func BenchmarkExchange(b *testing.B) {
	ctx := context.Background()
	b.Run("lib=floor", func(b *testing.B) {
		form := url.Values{
			"grant_type":           {"urn:ietf:params:oauth:grant-type:token-exchange"},
			"requested_token_type": {sts.TokenTypeAccessToken},
			"subject_token":        {subjectJWT},
			"subject_token_type":   {sts.TokenTypeJWT},
			"audience":             {audience},
			"scope":                {sts.CloudPlatformScope},
		}.Encode()
		measureCPU(b, func(e *env) func(int) {
			return func(int) {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.TokenURL(), strings.NewReader(form))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := e.client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	})
	for _, lib := range libraries {
		b.Run("lib="+lib, func(b *testing.B) {
			measureCPU(b, func(e *env) func(int) {
				return func(int) {
					if _, _, err := newGetter(b, lib, e)(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// chunk is how many ops run against one emulator: it keeps every request
// it receives, and a heap that grows with b.N would make later ops pay more
// for garbage collection.
const chunk = 500

// measureCPU runs b.N ops with allocation reporting and adds the cpu-ns/op
// metric. Every chunk ops it starts a fresh emulator and calls setup with
// it, outside the measurement; setup returns the op, which gets the op's
// index.
func measureCPU(b *testing.B, setup func(*env) func(i int)) {
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
				e.srv.Close()
			}
			e = newEnv(b, ststest.Options{})
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
