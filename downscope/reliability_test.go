package downscope_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/downscope"
	"github.com/stsgo/sts/ststest"
	"golang.org/x/oauth2"
)

// TestOutageAroundEveryExpiry: STS is down from 5 minutes before to 2
// minutes after the expiry of every token handed out so far, for six hours,
// for both kinds of downscoping over the package's root cache (downscoped
// tokens live only as long as the root token they came from). The Minter
// fetches intermediary tokens ahead, the server-side source refreshes ahead,
// and so does the root cache: no Token call fails or waits after the first.
func TestOutageAroundEveryExpiry(t *testing.T) {
	for _, kind := range []string{"client-side", "server-side"} {
		t.Run(kind, func(t *testing.T) { outageAroundEveryExpiry(t, kind) })
	}
}

func outageAroundEveryExpiry(t *testing.T, kind string) {
	synctest.Test(t, func(t *testing.T) {
		emu := ststest.NewInMemoryServer(ststest.Options{TokenLifetime: time.Hour})
		defer emu.Close()
		emu.SetLatency(time.Second)
		var mu sync.Mutex
		expiries := map[time.Time]bool{}
		var hits atomic.Int64
		base := emu.Client().Transport
		client := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
			now := time.Now()
			mu.Lock()
			down := false
			for e := range expiries {
				if !now.Before(e.Add(-5*time.Minute)) && now.Before(e.Add(2*time.Minute)) {
					down = true
				}
			}
			mu.Unlock()
			if down {
				hits.Add(1)
				_, _ = io.Copy(io.Discard, r.Body)
				return &http.Response{StatusCode: 503, Header: http.Header{"Content-Type": {"application/json"}},
					Body: io.NopCloser(strings.NewReader(`{"error":"temporarily_unavailable"}`)), Request: r}, nil
			}
			return base.RoundTrip(r)
		})}
		root, err := sts.NewTokenSource(sts.Config{Subject: sts.StaticSubject(testJWT), SubjectTokenType: sts.TokenTypeJWT,
			Audience: workloadAud, TokenURL: emu.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: client}})
		if err != nil {
			t.Fatal(err)
		}
		var ts oauth2.TokenSource
		if kind == "client-side" {
			m, err := downscope.NewMinter(downscope.Config{Source: root, TokenURL: emu.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: client}})
			if err != nil {
				t.Fatal(err)
			}
			cb := prefixBoundary(t)
			ts = mintEach(func() (*oauth2.Token, error) { return m.Token(t.Context(), cb) })
		} else {
			ts, err = downscope.NewTokenSource(downscope.Config{Source: root, TokenURL: emu.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: client},
				Boundary: &sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{sts.BucketRule("b", "roles/storage.objectViewer")}}})
			if err != nil {
				t.Fatal(err)
			}
		}
		t0 := time.Now()
		var failed []string
		tokens := 0
		for time.Since(t0) < 6*time.Hour {
			start := time.Now()
			tok, err := ts.Token()
			switch {
			case err != nil:
				failed = append(failed, fmt.Sprintf("%v: %v", time.Since(t0), err))
			case !tok.Valid():
				failed = append(failed, fmt.Sprintf("%v: invalid token", time.Since(t0)))
			case time.Since(start) > 0 && tokens > 0:
				failed = append(failed, fmt.Sprintf("%v: waited %v", time.Since(t0), time.Since(start)))
			}
			if err == nil {
				mu.Lock()
				if !expiries[tok.Expiry] {
					expiries[tok.Expiry] = true
					tokens++
				}
				mu.Unlock()
			}
			time.Sleep(10 * time.Second)
		}
		if len(failed) > 0 {
			t.Errorf("%d calls failed or waited, first: %s", len(failed), failed[0])
		}
		if tokens < 6 {
			t.Errorf("only %d intermediary lifetimes in six hours", tokens)
		}
		t.Logf("%s: %d lifetimes, %d requests refused by outages", kind, tokens, hits.Load())
	})
}

// mintEach is an oauth2.TokenSource that mints a new token per call.
type mintEach func() (*oauth2.Token, error)

func (f mintEach) Token() (*oauth2.Token, error) { return f() }

// hungSource is an oauth2.TokenSource (no context) whose first call never
// returns until released; later calls succeed.
type hungSource struct {
	release chan struct{}
	calls   atomic.Int64
}

func (s *hungSource) Token() (*oauth2.Token, error) {
	if s.calls.Add(1) == 1 {
		<-s.release
		return nil, errors.New("released")
	}
	return &oauth2.Token{AccessToken: "fresh", Expiry: time.Now().Add(time.Hour)}, nil
}

// TestHungContextlessRootIsCut: with a root that is a plain
// oauth2.TokenSource (as golang.org/x/oauth2/google gives) and hangs, a
// downscoped source's refresh, or a Minter's fetch, ends at
// Cache.RefreshTimeout with a temporary error.
func TestHungContextlessRootIsCut(t *testing.T) {
	for _, kind := range []string{"client-side", "server-side"} {
		t.Run(kind, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				emu := ststest.NewInMemoryServer(ststest.Options{})
				defer emu.Close()
				src := &hungSource{release: make(chan struct{})}
				defer close(src.release)
				cfg := downscope.Config{Source: src, TokenURL: emu.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()},
					Cache: sts.CacheOptions{RefreshTimeout: 5 * time.Second}}
				var ts oauth2.TokenSource
				if kind == "client-side" {
					m, err := downscope.NewMinter(cfg)
					if err != nil {
						t.Fatal(err)
					}
					ts = m.TokenSource(prefixBoundary(t))
				} else {
					cfg.Boundary = &sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{sts.BucketRule("b", "roles/storage.objectViewer")}}
					var err error
					if ts, err = downscope.NewTokenSource(cfg); err != nil {
						t.Fatal(err)
					}
				}
				start := time.Now()
				_, err := ts.Token()
				if d := time.Since(start); d != 5*time.Second {
					t.Errorf("refresh behind a hung root ended after %v, want 5 s", d)
				}
				if !errors.Is(err, context.DeadlineExceeded) || !sts.IsTemporary(err) {
					t.Errorf("err = %v, want a temporary error wrapping the deadline", err)
				}
				if src.calls.Load() != 1 {
					t.Errorf("root asked %d times", src.calls.Load())
				}
			})
		})
	}
}
