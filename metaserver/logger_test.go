package metaserver

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stsgo/sts"
)

// recordingLogger is an sts.Logger that is not a *slog.Logger: it keeps
// every record, with its arguments printed.
type recordingLogger struct {
	mu   sync.Mutex
	recs []string
}

func (l *recordingLogger) Enabled(context.Context, slog.Level) bool { return true }

func (l *recordingLogger) Log(ctx context.Context, level slog.Level, msg string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ctx == nil {
		msg = "NIL CONTEXT " + msg
	}
	l.recs = append(l.recs, fmt.Sprintf("%v %s %v", level, msg, args))
}

func (l *recordingLogger) records() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.recs...)
}

// TestCustomLogger: any sts.Logger gets the server's records, as a
// *slog.Logger does: a Debug record per request and a Warn record per
// failed fetch, with a context, and never a token, an audience or a query.
// A nil *slog.Logger means no logging.
func TestCustomLogger(t *testing.T) {
	var l recordingLogger
	var _ sts.Logger = &l
	src := &countingSource{prefix: "secret-token", life: time.Hour}
	s := newServer(t, Config{
		TokenSource: src,
		IDToken:     func(context.Context, string) (string, error) { return "secret-id-token", nil },
		Logger:      &l,
	})
	get(s, tokenPath+"?scopes=secret-scope")
	get(s, identityPath+"?audience=secret-audience")
	failing := &countingSource{prefix: "secret-token", life: time.Hour}
	failing.fail.Store(true)
	f := newServer(t, Config{TokenSource: failing, Logger: &l})
	if w := get(f, tokenPath); w.Code != 503 {
		t.Fatalf("failing source: %d", w.Code)
	}
	recs := l.records()
	want := []string{
		"DEBUG request [method GET path " + tokenPath + " status 200 duration",
		"DEBUG request [method GET path " + identityPath + " status 200 duration",
		"WARN sts serve: access token fetch failed [error upstream refused",
		"DEBUG request [method GET path " + tokenPath + " status 503 duration",
	}
	if len(recs) != len(want) {
		t.Fatalf("records:\n%s\nwant %d", strings.Join(recs, "\n"), len(want))
	}
	for i, r := range recs {
		if !strings.HasPrefix(r, want[i]) {
			t.Errorf("record %d: %q, want it to start with %q", i, r, want[i])
		}
		for _, secret := range []string{"secret-token", "secret-id-token", "secret-audience", "secret-scope", "scopes="} {
			if strings.Contains(r, secret) {
				t.Errorf("record %q holds %q", r, secret)
			}
		}
	}

	var none *slog.Logger
	s = newServer(t, Config{TokenSource: src, Logger: none})
	if w := get(s, tokenPath); w.Code != 200 {
		t.Errorf("with a nil *slog.Logger: %d", w.Code)
	}
}
