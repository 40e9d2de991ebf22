package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stsgo/sts/ststest"
)

// The scenarios run inside testing/synctest bubbles: the emulator (reached
// in memory) and all three libraries read time.Now, so hours of token
// lifetime pass in a fraction of a second, and a latency is exactly the
// virtual time a call spent blocked: zero for a call that did not wait for
// I/O, the emulator's delay for one that waited for an exchange.

// A goroutine blocked on a sync.Mutex is not durably blocked in a synctest
// bubble, so virtual time cannot pass while one waits. Both anchors hold a
// mutex across a blocking exchange (x/oauth2's ReuseTokenSource for every
// Token call; auth's cached provider when its token is invalid), and a
// bubble in which callers queue on it never advances. scenarioGetter
// therefore puts the anchors behind a channel-based lock (on which waiting
// is durable): since they already serialize their callers behind their
// mutex for as long as an exchange blocks, and calls that do not block
// take no virtual time, the latencies and counts seen are the same. sts
// waits on channels only and is called directly.
func scenarioGetter(t *testing.T, lib string, e *env) getter {
	get := newGetter(t, lib, e)
	if lib == "sts" {
		return get
	}
	sem := make(chan struct{}, 1)
	return func(ctx context.Context) (string, time.Time, error) {
		sem <- struct{}{}
		defer func() { <-sem }()
		return get(ctx)
	}
}

// load describes the callers of a scenario: goroutines each calling every
// interval (their first calls spread over one interval) for duration.
type load struct {
	goroutines int
	interval   time.Duration
	duration   time.Duration
}

// outcome is what the callers of one library saw.
type outcome struct {
	lib       string
	calls     int
	waited    int           // calls that took any (virtual) time
	failed    int           // calls that returned an error
	expired   int           // calls that returned a token past its expiry
	max, p999 time.Duration // latency: maximum, 99.9th percentile
	p9999     time.Duration // 99.99th percentile
	exchanges int           // token exchanges the emulator received, first fill included
}

func (o outcome) String() string {
	return fmt.Sprintf("%-6s calls=%d waited=%d failed=%d expired=%d max=%v p99.9=%v p99.99=%v exchanges=%d",
		o.lib, o.calls, o.waited, o.failed, o.expired, o.max, o.p999, o.p9999, o.exchanges)
}

// drive runs the load against get and returns what the callers saw.
func drive(get getter, l load) outcome {
	end := time.Now().Add(l.duration)
	var (
		mu  sync.Mutex
		out outcome
		lat []time.Duration
		wg  sync.WaitGroup
	)
	for g := range l.goroutines {
		wg.Go(func() {
			time.Sleep(l.interval * time.Duration(g) / time.Duration(l.goroutines))
			var mine []time.Duration
			var failed, expired int
			ctx := context.Background()
			for time.Now().Before(end) {
				start := time.Now()
				_, exp, err := get(ctx)
				now := time.Now()
				mine = append(mine, now.Sub(start))
				if err != nil {
					failed++
				} else if !exp.IsZero() && !now.Before(exp) {
					expired++
				}
				time.Sleep(l.interval)
			}
			mu.Lock()
			lat = append(lat, mine...)
			out.failed += failed
			out.expired += expired
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(lat)
	out.calls = len(lat)
	for _, d := range lat {
		if d > 0 {
			out.waited++
		}
	}
	if n := len(lat); n > 0 {
		out.max = lat[n-1]
		out.p999 = lat[(n*999+999)/1000-1]
		out.p9999 = lat[(n*9999+9999)/10000-1]
	}
	return out
}

// fillAndDrive makes the first fill through get, then runs the load
// against it, and returns what the callers saw, with the library and the
// exchanges the emulator of e received.
func fillAndDrive(t *testing.T, lib string, e *env, get getter, l load) outcome {
	t.Helper()
	if _, _, err := get(context.Background()); err != nil {
		t.Fatalf("%s: first fill: %v", lib, err)
	}
	out := drive(get, l)
	out.lib = lib
	out.exchanges = e.exchanges()
	return out
}

// Refresh tail latency: 64 goroutines calling every 100 ms over three
// token lifetimes, tokens living 5 minutes (long enough for the anchors'
// fixed early-expiry margins: 10 s for x/oauth2, 225 s for auth), the
// emulator answering after 200 ms. The first fill is made before the
// callers start; sts's target is that no call waits after it.
var refreshLoad = load{goroutines: 64, interval: 100 * time.Millisecond, duration: 3 * refreshLifetime}

const (
	refreshLifetime = 5 * time.Minute
	refreshLatency  = 200 * time.Millisecond
)

func refreshScenario(t *testing.T, lib string) outcome {
	var out outcome
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, ststest.Options{TokenLifetime: refreshLifetime})
		e.srv.SetLatency(refreshLatency)
		out = fillAndDrive(t, lib, e, scenarioGetter(t, lib, e), refreshLoad)
	})
	return out
}

func TestRefreshTailLatency(t *testing.T) {
	for _, lib := range libraries {
		out := refreshScenario(t, lib)
		t.Log(out)
		if lib != "sts" {
			continue
		}
		if out.waited != 0 || out.max != 0 {
			t.Errorf("sts: %d calls waited after the first fill (max %v); target none", out.waited, out.max)
		}
		if out.failed != 0 || out.expired != 0 {
			t.Errorf("sts: %d failed calls, %d expired tokens served; want none", out.failed, out.expired)
		}
	}
}

// Outage: tokens live one hour, and STS answers 503 temporarily_unavailable
// in two windows that cover each library's own refresh of the first token:
// from 35 to 50 minutes after it was issued (sts refreshes ahead, between 65
// and 75% of the lifetime: 39 to 45 minutes) and from 55 to 62 minutes
// (auth refreshes in its 225 s early-expiry window, from 56:15; x/oauth2 at
// 59:50, 10 s before expiry; the token expires at 60:00). 64 goroutines
// call every second for 70 minutes. sts's target is zero failed calls: its
// refresh fails for the whole first window and it must keep serving the
// token it holds, which is still valid, until a refresh succeeds after the
// window (its next token then outlives the run).
var outageLoad = load{goroutines: 64, interval: time.Second, duration: 70 * time.Minute}

// outageWindows are the outage's windows, as offsets from the first token's
// issue.
var outageWindows = [][2]time.Duration{{35 * time.Minute, 50 * time.Minute}, {55 * time.Minute, 62 * time.Minute}}

func outageScenario(t *testing.T, lib string) outcome {
	var out outcome
	synctest.Test(t, func(t *testing.T) {
		var (
			mu  sync.Mutex
			srv *ststest.Server
			t0  time.Time
		)
		e := newEnv(t, ststest.Options{OnRequest: func(r ststest.Request) {
			mu.Lock()
			defer mu.Unlock()
			for _, w := range outageWindows {
				if d := r.Time.Sub(t0); d >= w[0] && d < w[1] {
					srv.PushFaults(ststest.UnavailableFault(0))
				}
			}
		}})
		get := scenarioGetter(t, lib, e)
		mu.Lock()
		srv, t0 = e.srv, time.Now()
		mu.Unlock()
		out = fillAndDrive(t, lib, e, get, outageLoad)
	})
	return out
}

func TestOutage(t *testing.T) {
	for _, lib := range libraries {
		out := outageScenario(t, lib)
		t.Log(out)
		if lib == "sts" && (out.failed != 0 || out.expired != 0) {
			t.Errorf("sts: %d failed calls and %d expired tokens during the outage; target none", out.failed, out.expired)
		}
		if lib == "sts" && out.exchanges < 3 {
			// The first fill, failed refreshes in the first window, the
			// refresh after it: fewer means the outage missed sts.
			t.Errorf("sts: %d STS requests; the outage did not meet its refresh", out.exchanges)
		}
	}
}

// Cold-start herd: 1,000 goroutines call a source that has no token yet,
// all at once, the emulator answering after 200 ms. sts's target is one
// exchange.
const herd = 1000

func herdScenario(t *testing.T, lib string) outcome {
	var out outcome
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, ststest.Options{})
		e.srv.SetLatency(refreshLatency)
		get := scenarioGetter(t, lib, e)
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			tokens = map[string]bool{}
		)
		for range herd {
			wg.Go(func() {
				v, _, err := get(context.Background())
				mu.Lock()
				defer mu.Unlock()
				out.calls++
				if err != nil {
					out.failed++
					return
				}
				tokens[v] = true
			})
		}
		wg.Wait()
		out.lib = lib
		out.exchanges = e.exchanges()
		if len(tokens) != 1 {
			t.Logf("%s: the herd got %d distinct tokens", lib, len(tokens))
		}
	})
	return out
}

func TestColdStartHerd(t *testing.T) {
	for _, lib := range libraries {
		out := herdScenario(t, lib)
		t.Logf("%-6s goroutines=%d failed=%d exchanges=%d", lib, out.calls, out.failed, out.exchanges)
		if lib == "sts" && (out.exchanges != 1 || out.failed != 0) {
			t.Errorf("sts: %d exchanges and %d failed calls for a herd of %d; target 1 exchange", out.exchanges, out.failed, herd)
		}
	}
}
