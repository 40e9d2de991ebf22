//go:build unix && !solaris && !illumos && !aix

package downscope_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/oauth2"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/downscope"
	"github.com/stsgo/sts/ststest"
)

// pipeRoot is a root token source that reads a named pipe with a blocking
// open, whatever the context says: it hangs until the pipe gets a writer.
type pipeRoot struct{ path string }

func (p pipeRoot) Token() (*oauth2.Token, error) {
	data, err := os.ReadFile(p.path)
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: strings.TrimSpace(string(data)), Expiry: time.Now().Add(time.Hour)}, nil
}

// TestHungNamedPipeRootEndsAtRefreshDeadline: a root blocked in the open of
// a named pipe (no context can stop it) holds no caller of a downscoped
// source or a Minter past the refresh deadline; once the pipe gets a
// writer the hung call ends and no goroutine is left.
func TestHungNamedPipeRootEndsAtRefreshDeadline(t *testing.T) {
	const deadline = 200 * time.Millisecond
	for _, kind := range []string{"client-side", "server-side"} {
		t.Run(kind, func(t *testing.T) {
			before := goleak.IgnoreCurrent()
			fifo := filepath.Join(t.TempDir(), "pipe")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			emu := ststest.NewInMemoryServer(ststest.Options{})
			cfg := downscope.Config{Source: pipeRoot{fifo}, TokenURL: emu.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()},
				Cache: sts.CacheOptions{RefreshTimeout: deadline}}
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
			if took := time.Since(start); took < deadline {
				t.Errorf("ended after %v, before the refresh deadline", took)
			}
			if !errors.Is(err, context.DeadlineExceeded) || !sts.IsTemporary(err) {
				t.Errorf("err = %v, want a temporary error wrapping the deadline", err)
			}
			w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			w.WriteString("late")
			w.Close()
			emu.Close()
			if err := goleak.Find(before); err != nil {
				t.Error(err)
			}
		})
	}
}
