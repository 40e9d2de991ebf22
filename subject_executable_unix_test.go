//go:build unix

package sts

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stsgo/sts/internal/proctest"
	"github.com/stsgo/sts/ststest"
)

// TestExecutableEndsWithCaller: when the context of a run ends (the
// caller's, or a cache's refresh deadline), the command is killed with
// everything it started and reaped before the call returns, whether the
// caller ran the refresh itself (Token) or waited for it (TokenContext).
func TestExecutableEndsWithCaller(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pids")
	subject := ExecutableSubject{Command: []string{proctest.SpawnScript(t, dir, pidFile)}, Getenv: allowExecutables}
	req := SubjectRequest{Audience: execTestAud, SubjectTokenType: TokenTypeJWT}
	// checkGone checks, as the call returns, that the command is reaped
	// and its child killed.
	checkGone := func(t *testing.T) {
		t.Helper()
		pid, child, ok := proctest.ReadPids(t, pidFile, 0)
		if !ok {
			t.Fatal("the command never started")
		}
		if proctest.Alive(pid) {
			t.Errorf("the command (pid %d) is still running as the call returns", pid)
		}
		if !proctest.WaitGone(child, pid, 15*time.Second) {
			t.Errorf("the command's child (pid %d) is still running", child)
		}
	}

	t.Run("SubjectToken", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		errc := make(chan error, 1)
		go func() {
			_, err := subject.SubjectToken(ctx, req)
			errc <- err
		}()
		if _, _, ok := proctest.ReadPids(t, pidFile, 15*time.Second); !ok {
			t.Fatal("the command never started")
		}
		cancel()
		err := <-errc
		var se *Error
		if !errors.As(err, &se) || !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want an *Error wrapping context.Canceled", err)
		}
		checkGone(t)
	})

	srv := ststest.NewServer(ststest.Options{})
	defer srv.Close()
	for _, c := range []struct {
		name string
		call func(*CachedTokenSource) error
	}{
		{"refresh deadline/Token", func(ts *CachedTokenSource) error { _, err := ts.Token(); return err }},
		{"refresh deadline/TokenContext", func(ts *CachedTokenSource) error {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := ts.TokenContext(ctx)
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The refresh deadline must come after the command wrote its
			// pids: a slow machine gets longer deadlines.
			for timeout := time.Second; ; timeout *= 3 {
				_ = os.Remove(pidFile)
				ts, err := NewTokenSource(Config{
					Subject: subject, SubjectTokenType: TokenTypeJWT, Audience: execTestAud, TokenURL: srv.TokenURL(),
					HTTPOptions: HTTPOptions{HTTPClient: srv.Client()},
					Cache:       CacheOptions{RefreshTimeout: timeout},
				})
				if err != nil {
					t.Fatal(err)
				}
				err = c.call(ts)
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("error %v, want one wrapping context.DeadlineExceeded", err)
				}
				if _, _, ok := proctest.ReadPids(t, pidFile, 0); !ok && timeout < 20*time.Second {
					continue
				}
				checkGone(t)
				return
			}
		})
	}
}
