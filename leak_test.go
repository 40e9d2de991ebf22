package sts

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stsgo/sts/ststest"
)

// TestMain fails the package's tests if any goroutine outlives them: no
// source, refresh or call may leave one behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestNoGoroutineOutlivesCalls runs the cases the leak check is about over
// real loopback sockets: a caller cancelled while the refresh hangs, the
// hung refresh cut by its deadline, a finished refresh, and closed
// servers. Afterwards no goroutine of the package may remain.
func TestNoGoroutineOutlivesCalls(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	emu := ststest.NewServer(ststest.Options{})
	emu.PushFaults(ststest.Fault{Hang: true})
	ts, err := NewTokenSource(Config{Subject: StaticSubject(relSubjectToken), SubjectTokenType: TokenTypeJWT, Audience: relAud,
		TokenURL: emu.TokenURL(), HTTPOptions: HTTPOptions{HTTPClient: emu.Client(), Retry: RetryPolicy{MaxAttempts: 1}},
		Cache: CacheOptions{RefreshTimeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ts.TokenContext(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	// The hung refresh ends at its deadline; a caller with no token to
	// serve starts a new one at once, which succeeds.
	if _, err := ts.Token(); err == nil {
		t.Fatal("the hung refresh succeeded")
	}
	tok, err := ts.Token()
	if err != nil || !tok.Valid() {
		t.Fatalf("no token after the hang: %v", err)
	}
	emu.Close()
}
