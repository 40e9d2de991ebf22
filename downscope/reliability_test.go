package downscope_test

import (
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
)

// TestMinterOutageAroundEveryExpiry: STS is down from 5 minutes before to 2
// minutes after the expiry of every token minted so far, for six hours. The
// Minter fetches intermediary tokens ahead (and the root cache refreshes
// ahead), so no Token call fails or waits after the first.
func TestMinterOutageAroundEveryExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := ststest.NewUnstartedServer(ststest.Options{TokenLifetime: time.Hour})
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
		m, err := downscope.NewMinter(downscope.Config{Source: root, TokenURL: emu.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: client}})
		if err != nil {
			t.Fatal(err)
		}
		cb := prefixBoundary(t)
		t0 := time.Now()
		var failed []string
		tokens := 0
		for time.Since(t0) < 6*time.Hour {
			start := time.Now()
			tok, err := m.Token(t.Context(), cb)
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
		t.Logf("%d intermediary lifetimes, %d requests refused by outages", tokens, hits.Load())
	})
}
