package bench

import (
	"context"
	"testing"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/ststest"
)

// BenchmarkHotPath measures Token() on a fresh cached token of each
// library's external-account source, next to one time.Now() (the floor of
// any correct expiry check). Run with -cpu 1,2: RunParallel spreads the
// calls over GOMAXPROCS goroutines, so ns/op is wall time per call across
// all of them and should not grow from 1 to 2 CPUs.
func BenchmarkHotPath(b *testing.B) {
	b.Run("lib=time.Now", func(b *testing.B) {
		benchParallel(b, func() error { _ = time.Now(); return nil })
	})
	b.Run("lib=sts", func(b *testing.B) {
		ts := newSTS(b, newEnv(b, ststest.Options{}), sts.CacheOptions{})
		benchParallel(b, func() error { _, err := ts.Token(); return err })
	})
	b.Run("lib=oauth2", func(b *testing.B) {
		ts := newOAuth2(b, newEnv(b, ststest.Options{}))
		benchParallel(b, func() error { _, err := ts.Token(); return err })
	})
	b.Run("lib=auth", func(b *testing.B) {
		creds := newAuth(b, newEnv(b, ststest.Options{}))
		ctx := context.Background()
		benchParallel(b, func() error { _, err := creds.Token(ctx); return err })
	})
}

// benchParallel calls token once (the first fill), then measures it called
// from RunParallel's goroutines. Every library, and the time.Now floor, is
// called through the same closure.
func benchParallel(b *testing.B, token func() error) {
	if err := token(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := token(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestHotPathAllocs checks sts's target: Token() on a fresh cached token
// allocates nothing. (The anchors are measured, not held to it.)
func TestHotPathAllocs(t *testing.T) {
	e := newEnv(t, ststest.Options{})
	ts := newSTS(t, e, sts.CacheOptions{})
	first, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		tok, err := ts.Token()
		if err != nil || tok != first {
			t.Fatalf("Token() = %p, %v; want the cached token %p", tok, err, first)
		}
	})
	if allocs != 0 {
		t.Errorf("sts: Token() on a fresh cached token allocates %v times per call; target 0", allocs)
	}
	if n := e.exchanges(); n != 1 {
		t.Errorf("sts: %d exchanges for one fill; want 1", n)
	}
}
