package sts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stsgo/sts/internal/fixture"
	"golang.org/x/oauth2"
)

// fakeSource issues numbered tokens with a fixed lifetime after a latency;
// while fail is set it returns errors instead: a temporary 503, or a
// permanent invalid_grant if permanent is set.
type fakeSource struct {
	lifetime  time.Duration
	latency   time.Duration
	calls     atomic.Int64
	fail      atomic.Bool
	permanent bool
	noExpiry  bool
}

func (f *fakeSource) Token() (*oauth2.Token, error) { return f.TokenContext(context.Background()) }

func (f *fakeSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	n := f.calls.Add(1)
	if f.latency > 0 {
		t := time.NewTimer(f.latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	if f.fail.Load() {
		if f.permanent {
			return nil, &Error{Op: "exchange", StatusCode: 400, Code: "invalid_grant", Description: "the subject token is invalid"}
		}
		return nil, &Error{Op: "exchange", StatusCode: 503, Description: "Service Unavailable"}
	}
	tok := &oauth2.Token{AccessToken: fmt.Sprintf("tok-%d", n), TokenType: "Bearer"}
	if !f.noExpiry {
		tok.Expiry = time.Now().Add(f.lifetime)
	}
	return tok, nil
}

func newCache(t *testing.T, src oauth2.TokenSource, o CacheOptions) *CachedTokenSource {
	t.Helper()
	c, err := NewCachedTokenSource(src, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCacheFreshServedWithoutFetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{lifetime: time.Hour}
		c := newCache(t, src, CacheOptions{Jitter: -1})
		first, err := c.Token()
		if err != nil {
			t.Fatal(err)
		}
		for range 100 {
			tok, err := c.Token()
			if err != nil || tok != first {
				t.Fatalf("got %v, %v; want the cached token", tok, err)
			}
		}
		time.Sleep(44 * time.Minute) // before 75% of the lifetime
		if _, err := c.Token(); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if n := src.calls.Load(); n != 1 {
			t.Fatalf("fetches = %d, want 1", n)
		}
	})
}

func TestCacheStaleRefreshesInBackground(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{lifetime: time.Hour, latency: 200 * time.Millisecond}
		c := newCache(t, src, CacheOptions{Jitter: -1})
		first, _ := c.Token()
		time.Sleep(46 * time.Minute) // stale: past 75% of 1h
		start := time.Now()
		tok, err := c.Token()
		if err != nil || tok != first {
			t.Fatalf("stale call got %v, %v; want the current token at once", tok, err)
		}
		if time.Since(start) != 0 {
			t.Fatal("stale call waited")
		}
		// Many stale callers start only one refresh.
		for range 50 {
			c.Token()
		}
		synctest.Wait() // refresh is sleeping on its latency
		time.Sleep(time.Second)
		synctest.Wait()
		if n := src.calls.Load(); n != 2 {
			t.Fatalf("fetches = %d, want 2", n)
		}
		tok, _ = c.Token()
		if tok == first || tok.AccessToken != "tok-2" {
			t.Fatalf("after refresh got %v, want tok-2", tok.AccessToken)
		}
	})
}

func TestCacheColdHerdSharesOneFetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{lifetime: time.Hour, latency: 200 * time.Millisecond}
		c := newCache(t, src, CacheOptions{})
		var wg sync.WaitGroup
		var errs atomic.Int64
		for range 1000 {
			wg.Go(func() {
				if _, err := c.Token(); err != nil {
					errs.Add(1)
				}
			})
		}
		wg.Wait()
		if n := src.calls.Load(); n != 1 {
			t.Fatalf("1000 cold callers made %d fetches, want 1", n)
		}
		if errs.Load() != 0 {
			t.Fatalf("%d callers failed", errs.Load())
		}
	})
}

func TestCacheExpiredWaitsAndNeverServesExpired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{lifetime: time.Hour}
		c := newCache(t, src, CacheOptions{Jitter: -1})
		c.Token()
		src.fail.Store(true)
		// Walk past expiry: background refreshes fail, the valid token keeps
		// being served until 10 s before expiry.
		time.Sleep(59*time.Minute + 49*time.Second)
		tok, err := c.Token()
		if err != nil || tok.AccessToken != "tok-1" {
			t.Fatalf("still-valid token not served: %v, %v", tok, err)
		}
		synctest.Wait()
		if c.LastError() == nil {
			t.Fatal("LastError is nil after failing background refreshes")
		}
		time.Sleep(2 * time.Second) // now within the 10 s margin
		tok, err = c.Token()
		if err == nil {
			t.Fatalf("expired token served: %v", tok.AccessToken)
		}
		var se *Error
		if !errors.As(err, &se) || !se.Temporary() || se.StatusCode != 503 {
			t.Fatalf("error = %v, want the temporary 503 *Error", err)
		}
		src.fail.Store(false)
		tok, err = c.Token()
		if err != nil || tok.AccessToken == "tok-1" {
			t.Fatalf("recovery: got %v, %v", tok, err)
		}
	})
}

func TestCacheFailingBackgroundRefreshBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{lifetime: time.Hour}
		c := newCache(t, src, CacheOptions{Jitter: -1, MinBackoff: time.Second, MaxBackoff: 8 * time.Second})
		c.Token()
		src.fail.Store(true)
		time.Sleep(46 * time.Minute)
		// Call every 100 ms for 30 s: backoff 1, 2, 4, 8, 8, … s means few fetches.
		for range 300 {
			if _, err := c.Token(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		synctest.Wait()
		n := src.calls.Load() - 1
		if n < 4 || n > 8 {
			t.Fatalf("background fetches in 30 s of failures = %d, want 4..8 with backoff", n)
		}
	})
}

func TestCacheCancelledCallerDoesNotCancelSharedRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{lifetime: time.Hour, latency: time.Second}
		c := newCache(t, src, CacheOptions{})
		ctx, cancel := context.WithCancel(context.Background())
		var gotErr error
		var wg sync.WaitGroup
		wg.Go(func() { _, gotErr = c.TokenContext(ctx) })
		var other *oauth2.Token
		wg.Go(func() { other, _ = c.Token() })
		synctest.Wait()
		cancel()
		synctest.Wait()
		if !errors.Is(gotErr, context.Canceled) {
			t.Fatalf("cancelled caller got %v, want context.Canceled", gotErr)
		}
		wg.Wait()
		if other == nil || other.AccessToken != "tok-1" {
			t.Fatalf("other caller got %v", other)
		}
		if n := src.calls.Load(); n != 1 {
			t.Fatalf("fetches = %d, want 1", n)
		}
	})
}

func TestCacheNoExpiryTokenNeverRefreshes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{noExpiry: true}
		c := newCache(t, src, CacheOptions{})
		c.Token()
		time.Sleep(1000 * time.Hour)
		c.Token()
		synctest.Wait()
		if n := src.calls.Load(); n != 1 {
			t.Fatalf("fetches = %d, want 1", n)
		}
	})
}

func TestCacheInvalidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{lifetime: time.Hour}
		c := newCache(t, src, CacheOptions{})
		first, _ := c.Token()
		c.Invalidate(&oauth2.Token{AccessToken: "other"}) // not the current one: no effect
		if tok, _ := c.Token(); tok != first {
			t.Fatal("invalidating another token dropped the current one")
		}
		c.Invalidate(first)
		c.Invalidate(first) // repeated reports of the same rejection
		second, err := c.Token()
		if err != nil || second == first {
			t.Fatalf("after Invalidate got %v, %v", second, err)
		}
		c.Invalidate(first) // stale report after a refresh: no effect
		if tok, _ := c.Token(); tok != second {
			t.Fatal("late Invalidate of the old token dropped the new one")
		}
		if n := src.calls.Load(); n != 2 {
			t.Fatalf("fetches = %d, want 2", n)
		}
	})
}

func TestCacheInitialToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{lifetime: time.Hour}
		init := &oauth2.Token{AccessToken: "init", Expiry: time.Now().Add(time.Hour)}
		c := newCache(t, src, CacheOptions{InitialToken: init})
		if tok, _ := c.Token(); tok.AccessToken != "init" {
			t.Fatalf("got %q, want the initial token", tok.AccessToken)
		}
		expired := &oauth2.Token{AccessToken: "old", Expiry: time.Now().Add(-time.Minute)}
		c = newCache(t, src, CacheOptions{InitialToken: expired})
		if tok, _ := c.Token(); tok.AccessToken == "old" {
			t.Fatal("expired initial token served")
		}
	})
}

// badSource misbehaves in the ways a source can.
type badSource struct{ mode string }

func (b badSource) Token() (*oauth2.Token, error) {
	switch b.mode {
	case "nil":
		return nil, nil
	case "empty":
		return &oauth2.Token{}, nil
	case "expired":
		return &oauth2.Token{AccessToken: "x", Expiry: time.Now().Add(-time.Second)}, nil
	case "panic":
		panic("boom")
	}
	return nil, errors.New("plain failure")
}

func TestCacheBadSources(t *testing.T) {
	for _, mode := range []string{"nil", "empty", "expired", "panic", "error"} {
		t.Run(mode, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newCache(t, badSource{mode}, CacheOptions{})
				tok, err := c.Token()
				if err == nil || tok != nil {
					t.Fatalf("got %v, %v; want an error", tok, err)
				}
			})
		})
	}
}

func TestCacheOptionsValidation(t *testing.T) {
	cases := []struct {
		opts  CacheOptions
		field string
	}{
		{CacheOptions{StaleFraction: -0.1}, "CacheOptions.StaleFraction"},
		{CacheOptions{StaleFraction: 1.5}, "CacheOptions.StaleFraction"},
		{CacheOptions{Jitter: 1}, "CacheOptions.Jitter"},
		{CacheOptions{StaleFraction: 0.2, Jitter: 0.3}, "CacheOptions.Jitter"},
		{CacheOptions{RefreshTimeout: -1}, "CacheOptions.RefreshTimeout"},
		{CacheOptions{MinBackoff: -1}, "CacheOptions.MinBackoff"},
		{CacheOptions{MaxBackoff: -1}, "CacheOptions.MaxBackoff"},
	}
	for _, tc := range cases {
		_, err := NewCachedTokenSource(&fakeSource{}, tc.opts)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("%+v: err = %v, want a ValidationError on %s", tc.opts, err, tc.field)
		}
	}
	if _, err := NewCachedTokenSource(nil, CacheOptions{}); err == nil {
		t.Error("nil source accepted")
	}
}

// TestCacheContinuousCallersNeverWaitAfterFirstFill: 64 callers calling
// continuously across three token lifetimes, a source answering after 200 ms:
// after the first fill no call waits.
func TestCacheContinuousCallersNeverWaitAfterFirstFill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{lifetime: 10 * time.Minute, latency: 200 * time.Millisecond}
		c := newCache(t, src, CacheOptions{})
		if _, err := c.Token(); err != nil {
			t.Fatal(err)
		}
		end := time.Now().Add(30 * time.Minute)
		var waited, calls atomic.Int64
		var wg sync.WaitGroup
		for i := range 64 {
			wg.Go(func() {
				time.Sleep(time.Duration(i) * 10 * time.Millisecond)
				for time.Now().Before(end) {
					start := time.Now()
					if _, err := c.Token(); err != nil {
						t.Error(err)
						return
					}
					calls.Add(1)
					if time.Since(start) > 0 {
						waited.Add(1)
					}
					time.Sleep(500 * time.Millisecond)
				}
			})
		}
		wg.Wait()
		if waited.Load() != 0 {
			t.Fatalf("%d of %d calls waited for a refresh", waited.Load(), calls.Load())
		}
		if n := src.calls.Load(); n < 4 || n > 6 {
			t.Fatalf("fetches over 3 lifetimes = %d, want about 4", n)
		}
	})
}

func TestCacheShortLivedTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{lifetime: 8 * time.Second} // shorter than the 10 s margin
		c := newCache(t, src, CacheOptions{Jitter: -1})
		tok, err := c.Token()
		if err != nil {
			t.Fatalf("short-lived token refused: %v", err)
		}
		time.Sleep(6500 * time.Millisecond) // stale (75%) but valid (margin 0.8 s)
		if got, err := c.Token(); err != nil || got != tok {
			t.Fatalf("got %v, %v; want the cached token", got, err)
		}
		synctest.Wait()
		if n := src.calls.Load(); n != 2 {
			t.Fatalf("fetches = %d, want 2 (one refresh-ahead)", n)
		}
	})
}

// ctxIgnoringSource takes a context but ignores it: its first call blocks
// until released, as an open of a named pipe would.
type ctxIgnoringSource struct {
	release chan struct{}
	calls   atomic.Int64
}

func (s *ctxIgnoringSource) Token() (*oauth2.Token, error) {
	return s.TokenContext(context.Background())
}

func (s *ctxIgnoringSource) TokenContext(context.Context) (*oauth2.Token, error) {
	if s.calls.Add(1) == 1 {
		<-s.release
	}
	return &oauth2.Token{AccessToken: fmt.Sprintf("tok-%d", s.calls.Load()), Expiry: time.Now().Add(time.Hour)}, nil
}

// ctxHonouringSource's first call waits until its context ends.
type ctxHonouringSource struct{ calls atomic.Int64 }

func (s *ctxHonouringSource) Token() (*oauth2.Token, error) {
	return s.TokenContext(context.Background())
}

func (s *ctxHonouringSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	if s.calls.Add(1) == 1 {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return &oauth2.Token{AccessToken: "tok-2", Expiry: time.Now().Add(time.Hour)}, nil
}

// TestCacheRefreshTimeout: a refresh whose source hangs ends at
// RefreshTimeout, for every waiting caller, with a temporary *Error
// wrapping the deadline (a source that honours its context may return its
// own error), and the next refresh works; the late answer of a hung call is
// dropped. So for a ContextTokenSource that honours its context, one that
// does not, and a plain oauth2.TokenSource (which cannot be cancelled).
// (Merged from TestCacheRefreshTimeoutBoundsHungSource,
// TestCacheRefreshTimeoutBoundsSourceIgnoringContext and
// TestRefreshTimeoutBoundsContextlessSource: each source kind gets the
// checks of all three but the *Error type, for the source that honours its
// context.)
func TestCacheRefreshTimeout(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  func() (oauth2.TokenSource, func())
		next string // the token of the refresh after the hang
		// cut says the cache itself ends the call, with a temporary *Error;
		// a source that honours its context may return its own error first.
		cut bool
	}{
		{"context honoured", func() (oauth2.TokenSource, func()) { return &ctxHonouringSource{}, func() {} }, "tok-2", false},
		{"context ignored", func() (oauth2.TokenSource, func()) {
			src := &ctxIgnoringSource{release: make(chan struct{})}
			return src, func() { close(src.release) }
		}, "tok-2", true},
		{"no context", func() (oauth2.TokenSource, func()) {
			src := fixture.NewHungSource()
			return src, src.Release
		}, "fresh", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src, release := tc.src()
				c := newCache(t, src, CacheOptions{RefreshTimeout: 5 * time.Second})
				start := time.Now()
				var wg sync.WaitGroup
				for range 3 {
					wg.Go(func() {
						_, err := c.Token()
						if !errors.Is(err, context.DeadlineExceeded) {
							t.Errorf("err = %v, want the deadline", err)
						}
						var se *Error
						if tc.cut && (!errors.As(err, &se) || !se.Temporary()) {
							t.Errorf("err = %v, want a temporary *Error wrapping the deadline", err)
						}
					})
				}
				wg.Wait()
				if d := time.Since(start); d != 5*time.Second {
					t.Fatalf("hung refresh ended after %v, want 5 s", d)
				}
				tok, err := c.Token()
				if err != nil || tok.AccessToken != tc.next {
					t.Fatalf("after the hang: %v, %v; want %s", tok, err, tc.next)
				}
				release()
				synctest.Wait()
				if got, _ := c.Token(); got != tok {
					t.Fatal("the hung call's late answer replaced the token")
				}
			})
		})
	}
}

// TestCachePermanentFailureRemembered: with no valid token, 1,000 calls in
// a loop against a source refusing with invalid_grant make a bounded
// number of requests (1 s, 2 s, 4 s, … apart); the calls in between get
// the same *Error, saying it is a remembered failure and unwrapping to the
// original; after the backoff a recovered source is used at once.
func TestCachePermanentFailureRemembered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{lifetime: time.Hour, permanent: true}
		src.fail.Store(true)
		c := newCache(t, src, CacheOptions{})
		remembered := 0
		for i := range 1000 {
			_, err := c.Token()
			var se *Error
			if !errors.As(err, &se) || se.StatusCode != 400 || se.Code != "invalid_grant" || se.Temporary() {
				t.Fatalf("call %d: err = %v, want the permanent invalid_grant *Error", i, err)
			}
			if strings.HasSuffix(err.Error(), "s)") && strings.Contains(err.Error(), " (cached failure, retry after ") {
				remembered++
				if !errors.Is(err, c.LastError()) || !strings.HasPrefix(err.Error(), c.LastError().Error()) {
					t.Fatalf("remembered %q does not unwrap to or start as the failure %q", err, c.LastError())
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		// 10 s of calls: requests at 0, 1, 3 and 7 s.
		if n := src.calls.Load(); n != 4 {
			t.Fatalf("1,000 calls made %d requests, want 4", n)
		}
		if remembered != 996 {
			t.Fatalf("%d calls said the failure was remembered, want 996", remembered)
		}
		src.fail.Store(false)
		time.Sleep(8 * time.Second) // the backoff after the fourth failure
		tok, err := c.Token()
		if err != nil || tok.AccessToken != "tok-5" {
			t.Fatalf("after the backoff: %v, %v", tok, err)
		}
	})
}

// TestCacheTemporaryFailureNotRemembered: a temporary failure with no
// valid token is not remembered: each caller after it tries again.
func TestCacheTemporaryFailureNotRemembered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{lifetime: time.Hour}
		src.fail.Store(true)
		c := newCache(t, src, CacheOptions{})
		for range 5 {
			if _, err := c.Token(); !IsTemporary(err) || strings.Contains(err.Error(), "cached failure") {
				t.Fatalf("err = %v, want the temporary failure", err)
			}
		}
		if n := src.calls.Load(); n != 5 {
			t.Fatalf("5 calls made %d requests, want 5", n)
		}
	})
}
