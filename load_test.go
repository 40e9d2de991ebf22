package sts

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/ststest"
)

// Load: many token sources hammered by many goroutines for a bounded
// (virtual) time, under -race in CI. With refresh-ahead at exactly half of
// a one-hour lifetime and no jitter, every source fetches at 0, 30, 60 and
// 90 minutes of a 100-minute run: exchanges = sources × 4, exactly.

// relCountingSource issues one-hour tokens and counts its fetches.
type relCountingSource struct{ n *atomic.Int64 }

func (s relCountingSource) Token() (*oauth2.Token, error) {
	return s.TokenContext(context.Background())
}

func (s relCountingSource) TokenContext(context.Context) (*oauth2.Token, error) {
	i := s.n.Add(1)
	return &oauth2.Token{AccessToken: fmt.Sprintf("load-%d", i), Expiry: time.Now().Add(time.Hour)}, nil
}

const (
	relLoadRun   = 100 * time.Minute
	relLoadStep  = 5 * time.Minute
	relLoadFetch = 4 // at 0, 30, 60 and 90 minutes
)

// relHammer runs goroutines that, every step, ask each of their own sources
// for a token and then ask randomly chosen sources (of all of them) extra
// times, until the run ends. It returns the number of calls and failures.
func relHammer(sources []*CachedTokenSource, goroutines, extra int) (calls, failures int64) {
	var wg sync.WaitGroup
	var nCalls, nFail atomic.Int64
	start := time.Now()
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 42))
			for time.Since(start) < relLoadRun {
				for i := g; i < len(sources); i += goroutines {
					if tok, err := sources[i].Token(); err != nil || !tok.Valid() {
						nFail.Add(1)
					}
				}
				for range extra {
					if tok, err := sources[rng.IntN(len(sources))].Token(); err != nil || !tok.Valid() {
						nFail.Add(1)
					}
				}
				nCalls.Add(int64((len(sources)+goroutines-1)/goroutines + extra))
				time.Sleep(relLoadStep)
			}
		}()
	}
	wg.Wait()
	return nCalls.Load(), nFail.Load()
}

var relLoadCache = CacheOptions{StaleFraction: 0.5, Jitter: -1}

func TestLoadManyCachedSources(t *testing.T) {
	sources, goroutines, extra := 10000, 100, 1000
	if testing.Short() {
		sources, extra = 1000, 100
	}
	synctest.Test(t, func(t *testing.T) {
		var fetches atomic.Int64
		ts := make([]*CachedTokenSource, sources)
		for i := range ts {
			c, err := NewCachedTokenSource(relCountingSource{&fetches}, relLoadCache)
			if err != nil {
				t.Fatal(err)
			}
			ts[i] = c
		}
		calls, failures := relHammer(ts, goroutines, extra)
		if failures != 0 {
			t.Errorf("%d of %d calls failed", failures, calls)
		}
		if got, want := fetches.Load(), int64(sources*relLoadFetch); got != want {
			t.Errorf("%d fetches, want sources × refreshes = %d × %d = %d", got, sources, relLoadFetch, want)
		}
		t.Logf("%d sources, %d goroutines, %d calls, %d fetches in %v of virtual time", sources, goroutines, calls, fetches.Load(), relLoadRun)
	})
}

// TestLoadExchangesThroughEmulator does the same through the whole
// exchange path (HTTP, emulator, decoding), with fewer sources.
func TestLoadExchangesThroughEmulator(t *testing.T) {
	sources, goroutines, extra := 500, 50, 50
	if testing.Short() {
		sources = 100
	}
	synctest.Test(t, func(t *testing.T) {
		emu := ststest.NewInMemoryServer(ststest.Options{TokenLifetime: time.Hour})
		defer emu.Close()
		ts := make([]*CachedTokenSource, sources)
		for i := range ts {
			cfg := relExchangeConfig(emu, emu.Client())
			cfg.Cache = relLoadCache
			c, err := NewTokenSource(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ts[i] = c
		}
		calls, failures := relHammer(ts, goroutines, extra)
		if failures != 0 {
			t.Errorf("%d of %d calls failed", failures, calls)
		}
		if got, want := emu.Count("/v1/token"), sources*relLoadFetch; got != want {
			t.Errorf("%d exchanges, want sources × refreshes = %d × %d = %d", got, sources, relLoadFetch, want)
		}
		t.Logf("%d sources, %d goroutines, %d calls, %d exchanges in %v of virtual time", sources, goroutines, calls, emu.Count("/v1/token"), relLoadRun)
	})
}
