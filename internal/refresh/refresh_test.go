package refresh

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// tempErr is an error that says whether it is temporary, as *sts.Error does.
type tempErr struct {
	msg  string
	temp bool
}

func (e *tempErr) Error() string   { return e.msg }
func (e *tempErr) Temporary() bool { return e.temp }

// source is a fetch with a fixed lifetime; while err is set it fails.
type source struct {
	lifetime time.Duration
	latency  time.Duration
	calls    atomic.Int64
	mu       sync.Mutex
	err      error
}

func (s *source) fail(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

func (s *source) fetch(ctx context.Context) (int64, time.Time, error) {
	n := s.calls.Add(1)
	if s.latency > 0 {
		select {
		case <-time.After(s.latency):
		case <-ctx.Done():
			return 0, time.Time{}, ctx.Err()
		}
	}
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return 0, time.Time{}, err
	}
	return n, time.Now().Add(s.lifetime), nil
}

func newCache(s *source, cfg Config[int64]) *Cache[int64] {
	cfg.Source = FetchFunc[int64](s.fetch)
	return New(cfg)
}

func TestJitterSpreadsStalePoint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seen := map[int64]bool{}
		for range 20 {
			c := newCache(&source{lifetime: time.Hour}, Config[int64]{})
			if _, err := c.Get(t.Context()); err != nil {
				t.Fatal(err)
			}
			e := c.cur.Load()
			lo := time.Now().Add(time.Duration(float64(time.Hour) * 0.65)).UnixNano()
			hi := time.Now().Add(time.Duration(float64(time.Hour) * 0.75)).UnixNano()
			if e.refreshAt < lo || e.refreshAt > hi {
				t.Fatalf("refresh point outside [65%%, 75%%] of lifetime")
			}
			seen[e.refreshAt] = true
		}
		if len(seen) < 10 {
			t.Fatalf("jitter produced only %d distinct refresh points of 20", len(seen))
		}
	})
}

// TestWindows checks the deadlines computed for several lifetimes with
// and without the refresh and blocking windows.
func TestWindows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		cases := []struct {
			name                       string
			cfg                        Config[int64]
			life                       time.Duration
			refresh, block, validUntil time.Duration // after now
		}{
			{"fraction", Config[int64]{Options: Options{Jitter: -1}}, time.Hour, 45 * time.Minute, time.Hour - 10*time.Second, time.Hour - 10*time.Second},
			{"short life keeps a tenth", Config[int64]{Options: Options{Jitter: -1}}, 8 * time.Second, 6 * time.Second, 7200 * time.Millisecond, 7200 * time.Millisecond},
			{"no margin", Config[int64]{Options: Options{Jitter: -1, ExpiryMargin: -1}}, time.Hour, 45 * time.Minute, time.Hour, time.Hour},
			{"no refresh-ahead", Config[int64]{Options: Options{StaleFraction: 1, Jitter: -1}}, time.Hour, time.Hour - 10*time.Second, time.Hour - 10*time.Second, time.Hour - 10*time.Second},
			{"windows", Config[int64]{Options: Options{Jitter: -1}, RefreshWindow: 45 * time.Minute, BlockingWindow: 30 * time.Minute},
				time.Hour, 15 * time.Minute, 30 * time.Minute, time.Hour - 10*time.Second},
			{"windows capped by lifetime", Config[int64]{Options: Options{Jitter: -1}, RefreshWindow: 45 * time.Minute, BlockingWindow: 30 * time.Minute},
				20 * time.Minute, 5 * time.Minute, 10 * time.Minute, 20*time.Minute - 10*time.Second},
			{"long life: the fraction comes first", Config[int64]{Options: Options{Jitter: -1}, RefreshWindow: 45 * time.Minute, BlockingWindow: 30 * time.Minute},
				4 * time.Hour, 3 * time.Hour, 3*time.Hour + 30*time.Minute, 4*time.Hour - 10*time.Second},
		}
		for _, tc := range cases {
			c := New(tc.cfg)
			e := c.entry(1, now.Add(tc.life), now)
			got := [3]time.Duration{time.Duration(e.refreshAt - now.UnixNano()), time.Duration(e.blockAt - now.UnixNano()), time.Duration(e.validTo - now.UnixNano())}
			want := [3]time.Duration{tc.refresh, tc.block, tc.validUntil}
			if got != want {
				t.Errorf("%s: refresh, block, valid = %v, want %v", tc.name, got, want)
			}
		}
		e := New(Config[int64]{}).entry(1, time.Time{}, now)
		if e.refreshAt != e.validTo || e.blockAt != e.validTo || e.validTo < now.Add(1000*time.Hour).UnixNano() {
			t.Error("a value without expiry expires")
		}
	})
}

// TestBlockingWindow: inside the blocking window callers wait for the
// refresh; if it fails they get the valid value, and while the backoff
// holds they do not wait at all.
func TestBlockingWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &source{lifetime: time.Hour, latency: time.Second}
		c := newCache(s, Config[int64]{Options: Options{Jitter: -1}, RefreshWindow: 45 * time.Minute, BlockingWindow: 30 * time.Minute})
		ctx := t.Context()
		if v, err := c.Get(ctx); err != nil || v != 1 {
			t.Fatalf("first: %v, %v", v, err)
		}
		s.fail(&tempErr{"down", true})
		time.Sleep(31 * time.Minute)
		start := time.Now()
		if v, err := c.Get(ctx); err != nil || v != 1 || time.Since(start) != time.Second {
			t.Fatalf("blocking window, failing: %v, %v after %v; want 1 after the 1 s fetch", v, err, time.Since(start))
		}
		start = time.Now()
		if v, err := c.Get(ctx); err != nil || v != 1 || time.Since(start) != 0 {
			t.Fatalf("during backoff: %v, %v after %v; want 1 at once", v, err, time.Since(start))
		}
		if n := s.calls.Load(); n != 2 {
			t.Fatalf("fetches = %d, want 2", n)
		}
		// A caller whose context ends gets the valid value too.
		time.Sleep(2 * time.Second)
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if v, err := c.Get(cctx); err != nil || v != 1 {
			t.Fatalf("cancelled in the blocking window: %v, %v", v, err)
		}
		time.Sleep(1500 * time.Millisecond) // the third fetch has failed
		s.fail(nil)
		time.Sleep(2 * time.Second) // its backoff
		if v, err := c.Get(ctx); err != nil || v != 4 {
			t.Fatalf("after recovery: %v, %v; want 4", v, err)
		}
	})
}

// TestSameValueKeepsValidity: a fetch that returns the value already held
// does not extend its validity, and the next refresh comes after a backoff.
func TestSameValueKeepsValidity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		expiry := time.Now().Add(time.Minute)
		var calls atomic.Int64
		c := New(Config[int64]{
			Options: Options{Jitter: -1, MinBackoff: time.Second, MaxBackoff: 4 * time.Second},
			Source: FetchFunc[int64](func(context.Context) (int64, time.Time, error) {
				calls.Add(1)
				return 7, expiry, nil
			}),
			Kind: &Kind[int64]{Same: func(a, b int64) bool { return a == b }},
		})
		ctx := t.Context()
		c.Get(ctx)
		e := c.cur.Load()
		validTo := e.validTo // 6 s margin: a tenth of the minute
		for time.Now().UnixNano() < validTo {
			if _, err := c.Get(ctx); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		synctest.Wait()
		if e := c.cur.Load(); e.validTo != validTo {
			t.Fatalf("validity moved by %v", time.Duration(e.validTo-validTo))
		}
		// From 45 s (stale) to 54 s: asks at 1, 2, 4, 4 s intervals.
		if n := calls.Load(); n < 4 || n > 6 {
			t.Fatalf("fetches = %d, want 4..6", n)
		}
		if _, err := c.Get(ctx); err == nil {
			t.Fatal("value served past its validity")
		}
	})
}

// TestDeadlineCutsFetchIgnoringContext: a fetch that ignores its context
// and never returns fails at the deadline for every caller, and the next
// refresh works.
func TestDeadlineCutsFetchIgnoringContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var calls atomic.Int64
		c := New(Config[int64]{
			Options: Options{RefreshTimeout: 5 * time.Second},
			Source: FetchFunc[int64](func(context.Context) (int64, time.Time, error) {
				if calls.Add(1) == 1 {
					<-release // as an open of a named pipe would block
				}
				return 2, time.Now().Add(time.Hour), nil
			}),
		})
		start := time.Now()
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				_, err := c.Get(context.Background())
				if !errors.Is(err, context.DeadlineExceeded) || Permanent(err) {
					t.Errorf("err = %v, want a temporary deadline error", err)
				}
			})
		}
		wg.Wait()
		if d := time.Since(start); d != 5*time.Second {
			t.Fatalf("hung refresh cut after %v, want 5s", d)
		}
		if v, err := c.Get(context.Background()); err != nil || v != 2 {
			t.Fatalf("next refresh: %v, %v", v, err)
		}
		close(release)
		synctest.Wait()
		if v, _ := c.Get(context.Background()); v != 2 {
			t.Fatalf("the late outcome of the hung fetch replaced the value: %v", v)
		}
	})
}

// TestPermanentFailureRemembered: with no valid value, 1,000 callers in a
// loop against a permanently failing source make a bounded number of
// fetches; the error says it is remembered and unwraps to the failure; the
// source recovers and is used after the backoff.
func TestPermanentFailureRemembered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &source{lifetime: time.Hour}
		perm := &tempErr{"invalid_grant", false}
		s.fail(perm)
		c := newCache(s, Config[int64]{Options: Options{MinBackoff: time.Second, MaxBackoff: 4 * time.Second}})
		ctx := t.Context()
		var recalled int
		for i := range 1000 {
			_, err := c.Get(ctx)
			if !errors.Is(err, perm) {
				t.Fatalf("call %d: %v", i, err)
			}
			var r *Recalled
			if errors.As(err, &r) {
				recalled++
				if !strings.HasPrefix(err.Error(), "invalid_grant (cached failure, retry after ") {
					t.Fatalf("text %q", err)
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		// 10 s of calls: fetches at 0, 1, 3, 7 s (backoff 1, 2, 4 s).
		if n := s.calls.Load(); n != 4 {
			t.Fatalf("1000 calls made %d fetches, want 4", n)
		}
		if recalled != 996 {
			t.Fatalf("%d remembered failures, want 996", recalled)
		}
		if c.LastError() != perm {
			t.Fatalf("LastError = %v", c.LastError())
		}
		s.fail(nil)
		time.Sleep(4 * time.Second)
		if _, err := c.Get(ctx); err != nil {
			t.Fatalf("no recovery after the backoff: %v", err)
		}
		if c.LastError() != nil {
			t.Fatal("LastError kept after a success")
		}
		// A success resets the backoff: the next permanent failure is
		// remembered for MinBackoff only.
		s.fail(perm)
		c.Invalidate(nil)
		c.Get(ctx)
		time.Sleep(time.Second)
		n := s.calls.Load()
		c.Get(ctx)
		if s.calls.Load() != n+1 {
			t.Fatal("the backoff was not reset by the success")
		}
	})
}

// TestTemporaryFailureNotRemembered: callers with no valid value start a
// new fetch after a temporary failure, and after a failure that does not
// say whether it is temporary.
func TestTemporaryFailureNotRemembered(t *testing.T) {
	for _, err := range []error{&tempErr{"unavailable", true}, errors.New("plain")} {
		synctest.Test(t, func(t *testing.T) {
			s := &source{lifetime: time.Hour}
			s.fail(err)
			c := newCache(s, Config[int64]{})
			for range 10 {
				if _, got := c.Get(t.Context()); got != err {
					t.Fatalf("err = %v, want %v", got, err)
				}
			}
			if n := s.calls.Load(); n != 10 {
				t.Fatalf("%v: 10 calls made %d fetches, want 10", err, n)
			}
		})
	}
}

func TestRecalledText(t *testing.T) {
	for _, tc := range []struct {
		r    Recalled
		want string
	}{
		{Recalled{Err: errors.New("x"), Wait: 2500 * time.Millisecond}, "x (cached failure, retry after 3s)"},
		{Recalled{Err: errors.New("x"), Wait: 30 * time.Second}, "x (cached failure, retry after 30s)"},
		{Recalled{Err: errors.New("x"), Wait: 1500 * time.Microsecond}, "x (cached failure, retry after 2ms)"},
	} {
		if got := tc.r.Error(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.r, got, tc.want)
		}
	}
}

func TestPanickingFetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New(Config[int64]{
			Source: FetchFunc[int64](func(context.Context) (int64, time.Time, error) { panic("boom") }),
			Kind:   &Kind[int64]{Wrap: func(err error) error { return &tempErr{"wrapped: " + err.Error(), false} }},
		})
		_, err := c.Get(t.Context())
		if err == nil || err.Error() != "wrapped: the source panicked" {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestOptionsCheck: Check names the first field that is out of range,
// with a reason, and accepts the rest. (TestOptionsCheckFields merged in:
// its cases are the table's out-of-range rows from StaleFraction -0.1 on.)
func TestOptionsCheck(t *testing.T) {
	for _, tc := range []struct {
		o     Options
		field string
	}{
		{Options{StaleFraction: math.NaN()}, "StaleFraction"},
		{Options{Jitter: math.NaN()}, "Jitter"},
		{Options{StaleFraction: 0.05}, "Jitter"}, // below the default jitter
		{Options{StaleFraction: -0.1}, "StaleFraction"},
		{Options{StaleFraction: 1.5}, "StaleFraction"},
		{Options{Jitter: 1}, "Jitter"},
		{Options{StaleFraction: 0.2, Jitter: 0.3}, "Jitter"},
		{Options{RefreshTimeout: -1}, "RefreshTimeout"},
		{Options{MinBackoff: -1}, "MinBackoff"},
		{Options{MaxBackoff: -1}, "MaxBackoff"},
		{Options{StaleFraction: 0.05, Jitter: -1}, ""},
		{Options{StaleFraction: 1, Jitter: 0.99, ExpiryMargin: -1}, ""},
		{Options{}, ""},
	} {
		field, reason, ok := tc.o.Check()
		if field != tc.field || ok != (tc.field == "") || (!ok && reason == "") {
			t.Errorf("%+v: field %q reason %q ok %v, want %q", tc.o, field, reason, ok, tc.field)
		}
	}
}

// BenchmarkColdGet measures one refresh that a caller waits for: the core's
// own cost per refresh (the fetch does nothing).
func BenchmarkColdGet(b *testing.B) {
	exp := time.Now().Add(time.Hour)
	c := New(Config[int64]{Source: FetchFunc[int64](func(context.Context) (int64, time.Time, error) { return 1, exp, nil })})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c.Invalidate(nil)
		if _, err := c.Get(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStaleValueRefreshedOnceInBackground: past the refresh point callers
// get the held value at once and one background refresh starts; while it
// runs, and after it has replaced the value, no other starts.
func TestStaleValueRefreshedOnceInBackground(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &source{lifetime: time.Hour, latency: time.Second}
		c := newCache(s, Config[int64]{Options: Options{Jitter: -1}})
		ctx := t.Context()
		c.Get(ctx)
		time.Sleep(46 * time.Minute)
		for range 50 {
			start := time.Now()
			if v, err := c.Get(ctx); err != nil || v != 1 || time.Since(start) != 0 {
				t.Fatalf("stale: %v, %v after %v", v, err, time.Since(start))
			}
		}
		time.Sleep(2 * time.Second)
		if v, _ := c.Get(ctx); v != 2 {
			t.Fatalf("after the background refresh: %v", v)
		}
		// A caller that saw the stale value before the refresh replaced
		// it starts nothing.
		c.refreshAhead()
		synctest.Wait()
		if n := s.calls.Load(); n != 2 {
			t.Fatalf("fetches = %d, want 2", n)
		}
	})
}

// TestHungBackgroundRefreshEndedByStaleCaller: a background refresh whose
// fetch ignores its context is ended at its deadline by the next caller of
// the stale value (no timer of its own), with a temporary error in
// LastError; the next one starts after the backoff.
func TestHungBackgroundRefreshEndedByStaleCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		var calls atomic.Int64
		c := New(Config[int64]{
			Options: Options{Jitter: -1, RefreshTimeout: 5 * time.Second},
			Source: FetchFunc[int64](func(context.Context) (int64, time.Time, error) {
				if calls.Add(1) == 2 {
					<-release
				}
				return calls.Load(), time.Now().Add(time.Hour), nil
			}),
		})
		ctx := t.Context()
		c.Get(ctx)
		time.Sleep(46 * time.Minute)
		c.Get(ctx) // starts the refresh that hangs
		time.Sleep(4 * time.Second)
		c.Get(ctx)
		if c.LastError() != nil {
			t.Fatal("refresh ended before its deadline")
		}
		time.Sleep(2 * time.Second)
		if v, err := c.Get(ctx); err != nil || v != 1 {
			t.Fatalf("stale value: %v, %v", v, err)
		}
		if err := c.LastError(); !errors.Is(err, context.DeadlineExceeded) || Permanent(err) {
			t.Fatalf("LastError = %v, want the refresh's deadline", err)
		}
		time.Sleep(time.Second) // the backoff
		c.Get(ctx)
		synctest.Wait()
		if v, _ := c.Get(ctx); v != 3 || calls.Load() != 3 {
			t.Fatalf("after the backoff: %v, %d fetches", v, calls.Load())
		}
	})
}

func TestSetInvalidateAndFarExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &source{lifetime: time.Hour}
		c := newCache(s, Config[int64]{})
		c.Set(7, time.Now().Add(-time.Second)) // expired: not held
		if _, ok := c.Current(); ok {
			t.Fatal("an expired value was held")
		}
		far := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) // past what int64 nanoseconds hold
		c.Set(7, far)
		if v, err := c.Get(t.Context()); err != nil || v != 7 {
			t.Fatalf("a value expiring in year 3000: %v, %v", v, err)
		}
		c.Invalidate(func(v int64) bool { return v == 8 }) // not held: kept
		if v, ok := c.Current(); !ok || v != 7 {
			t.Fatal("Invalidate of another value dropped the held one")
		}
		c.Invalidate(func(v int64) bool { return v == 7 })
		if v, err := c.Get(t.Context()); err != nil || v != 1 {
			t.Fatalf("after Invalidate: %v, %v", v, err)
		}
		if m := (Options{}).Margin(); m != DefaultExpiryMargin {
			t.Errorf("default margin %v", m)
		}
		if m := (Options{ExpiryMargin: -1}).Margin(); m != 0 {
			t.Errorf("no margin: %v", m)
		}
	})
}

// TestExpiredFetchIsAFailure: a fetch that returns a value already past
// its validity fails the refresh, permanently; so does one that returns
// the held value once that is no longer valid.
func TestExpiredFetchIsAFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New(Config[int64]{Source: FetchFunc[int64](func(context.Context) (int64, time.Time, error) {
			return 1, time.Now().Add(-time.Minute), nil
		})})
		if _, err := c.Get(t.Context()); err == nil || !strings.Contains(err.Error(), "expired") {
			t.Fatalf("err = %v", err)
		}
		var r *Recalled
		if _, err := c.Get(t.Context()); !errors.As(err, &r) {
			t.Fatalf("the expired answer was not remembered: %v", err)
		}
	})
}

// TestSettingsShared: caches configured alike share their settings (an idle
// cache is small); a cache with a logger, or other options, has its own; and
// no more than maxShared kinds of settings are kept, however many a program
// makes.
func TestSettingsShared(t *testing.T) {
	src := FetchFunc[int](func(context.Context) (int, time.Time, error) { return 1, time.Time{}, nil })
	kind := new(Kind[int])
	a := New(Config[int]{Source: src, Kind: kind})
	b := New(Config[int]{Source: src, Kind: kind})
	if a.settings != b.settings {
		t.Error("caches configured alike do not share their settings")
	}
	if c := New(Config[int]{Source: src, Kind: kind, Options: Options{MinBackoff: 3 * time.Second}}); c.settings == a.settings || c.minBackoff != 3*time.Second {
		t.Error("a cache with other options shares the default settings")
	}
	if c := New(Config[int]{Source: src, Kind: kind, Options: Options{Logger: slog.New(slog.DiscardHandler)}}); c.settings == a.settings || c.logger == nil {
		t.Error("a cache with a logger shares settings")
	}
	for i := range 3 * maxShared {
		c := New(Config[int]{Source: src, Kind: kind, Options: Options{RefreshTimeout: time.Duration(i+1) * time.Hour}})
		if c.timeout != time.Duration(i+1)*time.Hour {
			t.Fatalf("cache %d: timeout %v", i, c.timeout)
		}
	}
	if n := len(kind.shared); n > maxShared {
		t.Errorf("%d kinds of settings kept; at most %d", n, maxShared)
	}
}

// TestInlineRefresh: with Config.Inline, a caller that must wait and whose
// context cannot end runs the fetch on its own goroutine; callers that
// arrive meanwhile share that fetch; a caller with a context that can end
// still gets a goroutine for the fetch (so that it can leave), as do all
// callers without Inline; and an inline fetch that honours its context
// ends at the refresh deadline.
func TestInlineRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var onCaller atomic.Bool
		var caller atomic.Int64
		s := &source{lifetime: time.Hour, latency: time.Second}
		fetch := func(ctx context.Context) (int64, time.Time, error) {
			onCaller.Store(goroutineID() == caller.Load())
			return s.fetch(ctx)
		}
		for _, tc := range []struct {
			name       string
			inline     bool
			ctx        func() (context.Context, context.CancelFunc)
			wantCaller bool
		}{
			{"inline, background", true, func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }, true},
			{"inline, cancellable", true, func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, false},
			{"not inline", false, func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }, false},
		} {
			c := New(Config[int64]{Source: FetchFunc[int64](fetch), Inline: tc.inline})
			ctx, cancel := tc.ctx()
			caller.Store(goroutineID())
			joined := make(chan int64)
			go func() { // joins the refresh in flight
				time.Sleep(time.Second / 2)
				v, _ := c.Get(context.Background())
				joined <- v
			}()
			v, err := c.Get(ctx)
			cancel()
			if err != nil || onCaller.Load() != tc.wantCaller {
				t.Errorf("%s: %v, %v; fetched on the caller's goroutine: %t, want %t", tc.name, v, err, onCaller.Load(), tc.wantCaller)
			}
			if w := <-joined; w != v {
				t.Errorf("%s: the caller that joined got %d, the first %d", tc.name, w, v)
			}
		}
		if n := s.calls.Load(); n != 3 {
			t.Errorf("%d fetches for three caches; want 3", n)
		}

		// An inline fetch waiting on its context ends at the deadline.
		slow := &source{lifetime: time.Hour, latency: time.Hour}
		c := newCache(slow, Config[int64]{Inline: true, Options: Options{RefreshTimeout: time.Minute}})
		start := time.Now()
		if _, err := c.Get(context.Background()); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Minute {
			t.Errorf("inline fetch past the deadline: %v after %v", err, time.Since(start))
		}
	})
}

// goroutineID returns the current goroutine's id, from its stack header.
func goroutineID() int64 {
	var buf [64]byte
	s := strings.TrimPrefix(string(buf[:runtime.Stack(buf[:], false)]), "goroutine ")
	id, _ := strconv.ParseInt(s[:strings.IndexByte(s, ' ')], 10, 64)
	return id
}
