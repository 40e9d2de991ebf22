package sts

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/ststest"
)

// Faults over time, end to end through the in-memory emulator inside
// synctest bubbles, where time is virtual and exact.

// relOutage wraps an emulator client: while down reports true, every request
// gets 503 temporarily_unavailable without reaching the emulator.
func relOutage(emu *ststest.Server, down func(now time.Time) bool) *http.Client {
	return fixture.OutageClient(emu.Client().Transport, down)
}

func relExchangeConfig(emu *ststest.Server, client *http.Client) Config {
	return Config{
		Subject:          StaticSubject(relSubjectToken),
		SubjectTokenType: TokenTypeJWT,
		Audience:         relAud,
		TokenURL:         emu.TokenURL(),
		HTTPOptions:      HTTPOptions{HTTPClient: client},
	}
}

// TestOutageAroundExpiryCausesNoFailure: STS is down from 5 minutes before
// the first token's expiry to 2 minutes after; callers asking every 10 s
// for three hours never see an error nor wait, because the refresh-ahead
// window began well before the outage.
func TestOutageAroundExpiryCausesNoFailure(t *testing.T) {
	failures, hits := relOutageRun(t, CacheOptions{})
	if failures != 0 {
		t.Errorf("%d calls failed", failures)
	}
	if hits != 0 {
		t.Errorf("%d requests were sent during the outage; the refresh should have happened before", hits)
	}
	// Control: without refresh-ahead the same outage does make calls fail,
	// so the test above would see a cache that refreshed late.
	failures, hits = relOutageRun(t, CacheOptions{StaleFraction: 1})
	if failures == 0 || hits == 0 {
		t.Errorf("control without refresh-ahead: %d failures, %d requests during the outage; the outage is not where it should be", failures, hits)
	}
}

func relOutageRun(t *testing.T, co CacheOptions) (failures, hits int64) {
	synctest.Test(t, func(t *testing.T) {
		emu := ststest.NewInMemoryServer(ststest.Options{TokenLifetime: time.Hour})
		defer emu.Close()
		emu.SetLatency(time.Second)
		t0 := time.Now()
		firstExpiry := t0.Add(time.Hour + time.Second)
		outFrom, outTo := firstExpiry.Add(-5*time.Minute), firstExpiry.Add(2*time.Minute)
		var outageHits atomic.Int64
		client := relOutage(emu, func(now time.Time) bool {
			if !now.Before(outFrom) && now.Before(outTo) {
				outageHits.Add(1)
				return true
			}
			return false
		})
		log, buf := newRelLogger()
		cfg := relExchangeConfig(emu, client)
		cfg.Logger = log
		cfg.Cache = co
		cfg.Retry = RetryPolicy{MaxAttempts: 2}
		ts, err := NewTokenSource(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var calls, failed, waited atomic.Int64
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(time.Duration(g) * 2 * time.Second) // spread the callers
				for time.Since(t0) < 3*time.Hour {
					start := time.Now()
					tok, err := ts.Token()
					calls.Add(1)
					if err != nil || tok == nil || !tok.Valid() {
						failed.Add(1)
					} else if time.Since(start) > 0 && start.Sub(t0) > time.Minute {
						waited.Add(1)
					}
					time.Sleep(10 * time.Second)
				}
			}()
		}
		wg.Wait()
		if co.StaleFraction == 0 {
			// Every exchange takes a second; only the first fill may make
			// callers wait.
			if waited.Load() != 0 {
				t.Errorf("%d calls waited for a refresh", waited.Load())
			}
			if n := emu.Count("/v1/token"); n < 3 || n > 6 {
				t.Errorf("%d exchanges in 3 hours of 1-hour tokens", n)
			}
		}
		relCheckErrorSecrets(t, "outage", nil, buf.String())
		t.Logf("stale fraction %v: %d calls, %d failed, %d requests refused during the outage, %d exchanges",
			co.StaleFraction, calls.Load(), failed.Load(), outageHits.Load(), emu.Count("/v1/token"))
		failures, hits = failed.Load(), outageHits.Load()
	})
	return failures, hits
}

// TestOutageThroughStaleWindowServesUntilExpiry: when the outage starts
// right at the stale point, background refreshes fail and back off while
// the still-valid token keeps being served; after the outage the next
// refresh succeeds, so callers never fail if STS comes back before expiry.
func TestOutageThroughStaleWindowServesUntilExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := ststest.NewInMemoryServer(ststest.Options{TokenLifetime: time.Hour})
		defer emu.Close()
		t0 := time.Now()
		down := func(now time.Time) bool { d := now.Sub(t0); return d >= 30*time.Minute && d < 55*time.Minute }
		cfg := relExchangeConfig(emu, relOutage(emu, down))
		cfg.Cache = CacheOptions{StaleFraction: 0.5, Jitter: -1}
		cfg.Retry = RetryPolicy{MaxAttempts: 2}
		ts, err := NewTokenSource(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for time.Since(t0) < 2*time.Hour {
			if _, err := ts.Token(); err != nil {
				t.Fatalf("at %v: %v", time.Since(t0), err)
			}
			time.Sleep(15 * time.Second)
		}
		if ts.LastError() != nil {
			t.Errorf("LastError after recovery: %v", ts.LastError())
		}
	})
}

// TestFlappingSTSRecoversWithinRetries: STS alternates 503 and success;
// every refresh succeeds on its second attempt, no caller ever fails, and
// exactly two requests are made per refresh.
func TestFlappingSTSRecoversWithinRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := ststest.NewInMemoryServer(ststest.Options{TokenLifetime: time.Hour})
		defer emu.Close()
		var n atomic.Int64
		client := relOutage(emu, func(time.Time) bool { return n.Add(1)%2 == 1 })
		cfg := relExchangeConfig(emu, client)
		cfg.Retry = RetryPolicy{MaxAttempts: 2}
		cfg.Cache = CacheOptions{StaleFraction: 0.5, Jitter: -1}
		ts, err := NewTokenSource(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		for time.Since(t0) < 150*time.Minute {
			if _, err := ts.Token(); err != nil {
				t.Fatalf("at %v: %v", time.Since(t0), err)
			}
			time.Sleep(time.Minute)
		}
		// Fetches at 0, 30, 60, 90, 120 minutes: five refreshes, each a 503
		// then a success.
		if got, want := n.Load(), int64(10); got != want {
			t.Errorf("%d requests, want %d", got, want)
		}
		if got := emu.Count("/v1/token"); got != 5 {
			t.Errorf("%d successful exchanges, want 5", got)
		}
	})
}

// TestRetriesAreBoundedByPolicy: with MaxAttempts 3, two 503s and then a
// success succeed with three requests; three 503s fail after exactly three
// requests, with a temporary *Error.
func TestRetriesAreBoundedByPolicy(t *testing.T) {
	for _, failures := range []int{0, 1, 2, 3, 4} {
		t.Run(strings.Repeat("503,", failures)+"ok", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				emu := ststest.NewInMemoryServer(ststest.Options{})
				defer emu.Close()
				for range failures {
					emu.PushFaults(ststest.UnavailableFault(time.Second))
				}
				cfg := relExchangeConfig(emu, emu.Client())
				cfg.Retry = RetryPolicy{MaxAttempts: 3}
				x, err := newExchanger(cfg)
				if err != nil {
					t.Fatal(err)
				}
				_, err = x.TokenContext(context.Background())
				wantReq := min(failures+1, 3)
				if got := emu.Count("/v1/token"); got != wantReq {
					t.Errorf("%d requests, want %d", got, wantReq)
				}
				if failures < 3 {
					if err != nil {
						t.Fatalf("failed within the retries: %v", err)
					}
					return
				}
				var se *Error
				if !errors.As(err, &se) || !se.Temporary() || se.StatusCode != 503 {
					t.Fatalf("err = %v, want a temporary 503 *Error", err)
				}
			})
		})
	}
}

// TestHungSTSIsCutByDeadlines: a server that never answers is cut by the
// attempt timeout, the retries stop at the refresh deadline, and a caller
// with a shorter deadline of its own returns at that deadline.
func TestHungSTSIsCutByDeadlines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := ststest.NewInMemoryServer(ststest.Options{})
		defer emu.Close()
		for range 10 {
			emu.PushFaults(ststest.Fault{Hang: true})
		}
		cfg := relExchangeConfig(emu, emu.Client())
		cfg.Timeout = 5 * time.Second
		cfg.Retry = RetryPolicy{MaxAttempts: 3, InitialBackoff: 100 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
		cfg.Cache = CacheOptions{RefreshTimeout: 12 * time.Second}
		ts, err := NewTokenSource(cfg)
		if err != nil {
			t.Fatal(err)
		}

		// A caller with a 3 s deadline leaves at 3 s; the refresh goes on.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		start := time.Now()
		_, err = ts.TokenContext(ctx)
		cancel()
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("caller with a 3 s deadline returned after %v", d)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want the caller's deadline", err)
		}

		// A patient caller joins the same refresh, which ends at the refresh
		// deadline (12 s) at the latest: 5 s + backoff + 5 s + the rest.
		_, err = ts.Token()
		d := time.Since(start)
		if d > 12*time.Second || d < 10*time.Second {
			t.Errorf("hung refresh ended after %v, want within (10 s, 12 s]", d)
		}
		var se *Error
		if !errors.As(err, &se) || !se.Temporary() {
			t.Fatalf("err = %v, want a temporary *Error", err)
		}
		if !strings.Contains(err.Error(), "deadline exceeded") && !strings.Contains(err.Error(), "timed out") {
			t.Errorf("error %q does not say it timed out", err)
		}
		if got := emu.Count("/v1/token"); got != 3 {
			t.Errorf("%d attempts, want 3", got)
		}
	})
}

// TestCancelledCallerLeavesSharedRefresh: two callers wait for one slow
// refresh; cancelling one returns it at once, while the other gets the
// token from the same, single exchange.
func TestCancelledCallerLeavesSharedRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := ststest.NewInMemoryServer(ststest.Options{})
		defer emu.Close()
		emu.SetLatency(10 * time.Second)
		ts, err := NewTokenSource(relExchangeConfig(emu, emu.Client()))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		aDone := make(chan error, 1)
		var aAt time.Duration
		start := time.Now()
		go func() {
			_, err := ts.TokenContext(ctx)
			aAt = time.Since(start)
			aDone <- err
		}()
		bDone := make(chan error, 1)
		var bAt time.Duration
		go func() {
			tok, err := ts.Token()
			bAt = time.Since(start)
			if err == nil && !tok.Valid() {
				err = errors.New("invalid token")
			}
			bDone <- err
		}()
		time.Sleep(4 * time.Second)
		synctest.Wait()
		cancel()
		errA := <-aDone
		if aAt != 4*time.Second {
			t.Errorf("cancelled caller returned %v after the start, want at the cancellation (4 s)", aAt)
		}
		var se *Error
		if !errors.As(errA, &se) || !errors.Is(errA, context.Canceled) {
			t.Errorf("cancelled caller: %v, want an *Error wrapping context.Canceled", errA)
		}
		if err := <-bDone; err != nil {
			t.Fatalf("patient caller: %v", err)
		}
		if bAt != 10*time.Second {
			t.Errorf("patient caller returned after %v, want 10 s", bAt)
		}
		if got := emu.Count("/v1/token"); got != 1 {
			t.Errorf("%d exchanges, want 1", got)
		}
	})
}

// TestOutageAroundEveryExpiry: STS (and IAM) are down from 5 minutes before
// to 2 minutes after the expiry of every token callers were handed, for six
// hours, for the cached exchange and for sources layered on it
// (impersonation; server-side downscoping is checked in package
// downscope). Each layer must have its next token before each outage
// begins: no caller fails or waits.
func TestOutageAroundEveryExpiry(t *testing.T) {
	for _, layer := range []string{"exchange", "impersonated"} {
		t.Run(layer, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var outage fixture.ExpiryOutage
				emu, client := outage.Emulator(t)
				root, err := NewTokenSource(relExchangeConfig(emu, client))
				if err != nil {
					t.Fatal(err)
				}
				var ts interface {
					Token() (*oauth2.Token, error)
				} = root
				switch layer {
				case "impersonated":
					ts, err = newImpersonatedTokenSource(impConfig{Source: root, URL: emu.ImpersonationURL(relSA), HTTPOptions: HTTPOptions{HTTPClient: client}})
				}
				if err != nil {
					t.Fatal(err)
				}
				tokens := outage.Drive(t, ts, 6*time.Hour)
				if tokens < 6 {
					t.Errorf("only %d tokens in six hours", tokens)
				}
				t.Logf("%s: %d tokens, %d requests refused by outages", layer, tokens, outage.Refused())
			})
		})
	}
}

// TestHungContextlessRootIsCutInLayers: the same for layers whose root is
// a plain oauth2.TokenSource (as golang.org/x/oauth2/google gives): the
// impersonated source's refresh ends at its RefreshTimeout (downscoped
// sources are checked in package downscope).
func TestHungContextlessRootIsCutInLayers(t *testing.T) {
	for _, layer := range []string{"impersonated"} {
		t.Run(layer, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				emu := ststest.NewInMemoryServer(ststest.Options{})
				defer emu.Close()
				// The root must be a token the emulator knows for
				// impersonation; the hang comes first anyway.
				src := fixture.NewHungSource()
				defer src.Release()
				co := CacheOptions{RefreshTimeout: 5 * time.Second}
				var ts interface {
					Token() (*oauth2.Token, error)
				}
				var err error
				switch layer {
				case "impersonated":
					ts, err = newImpersonatedTokenSource(impConfig{Source: src, URL: emu.ImpersonationURL(relSA), HTTPOptions: HTTPOptions{HTTPClient: emu.Client()}, Cache: co})
				}
				if err != nil {
					t.Fatal(err)
				}
				fixture.WantCutAt(t, ts, 5*time.Second, IsTemporary)
				if n := src.Calls(); n != 1 {
					t.Errorf("root asked %d times", n)
				}
			})
		})
	}
}
