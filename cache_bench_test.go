package sts

import (
	"testing"
	"time"
)

// BenchmarkTimeNow is the floor of any correct expiry check.
func BenchmarkTimeNow(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = time.Now()
		}
	})
}

// BenchmarkCachedTokenFresh measures Token() on a fresh cached token; run
// with -cpu 1,2 to see that it does not slow down under contention.
func BenchmarkCachedTokenFresh(b *testing.B) {
	c, err := NewCachedTokenSource(&fakeSource{lifetime: time.Hour}, CacheOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Token(); err != nil {
		b.Fatal(err)
	}
	benchParallelToken(b, c)
}

// BenchmarkCachedTokenStale measures Token() while a token is stale and its
// background refresh is backing off after failures: callers still get the
// token without waiting or locking.
func BenchmarkCachedTokenStale(b *testing.B) {
	src := &fakeSource{lifetime: time.Hour}
	c, _ := NewCachedTokenSource(src, CacheOptions{StaleFraction: 1e-9, Jitter: -1, MinBackoff: time.Hour})
	c.Token()
	src.fail.Store(true)
	// Call until a background refresh has failed: the token is stale
	// within microseconds, and the failure starts an hour of backoff.
	for c.LastError() == nil {
		c.Token()
		time.Sleep(time.Millisecond)
	}
	benchParallelToken(b, c)
}

// benchParallelToken measures c.Token called from RunParallel's
// goroutines.
func benchParallelToken(b *testing.B, c *CachedTokenSource) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Token(); err != nil {
				b.Error(err) // Fatal may only be called from the benchmark's goroutine
				return
			}
		}
	})
}
