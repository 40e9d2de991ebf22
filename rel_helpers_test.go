package sts

import (
	"bytes"
	"fmt"
	"github.com/stsgo/sts/internal/httpx"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// Known secret values used by the reliability tests (corpus, faults, fuzz
// targets): none may ever show in an error, a log record, String or %+v.
const (
	relSubjectToken = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3b3JrbG9hZCIsImV4cCI6NDEwMjQ0NDgwMH0.SUBJ-secret-subject-token-7f3a9"
	relAccessToken  = "ya29.SECRET-access-token-51c2e"
	relRefreshToken = "1//SECRET-refresh-token-a8d04"
	relClientID     = "rel-client-id"
	relClientSecret = "SECRET-client-secret-0b6f1"
	relSessionKey   = "SECRETsessionKEYc2VjcmV0a2V5"
)

// relSecrets lists every secret and the encodings in which it travels.
var relSecrets = []string{
	relSubjectToken, relAccessToken, relRefreshToken, relClientSecret, relSessionKey,
	strings.TrimPrefix(httpx.BasicAuth(relClientID, relClientSecret), "Basic "),
}

// relLog is a concurrency-safe buffer behind a debug-level slog handler.
type relLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *relLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *relLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newRelLogger returns a logger that records everything down to debug
// level, and the buffer it writes to.
func newRelLogger() (*slog.Logger, *relLog) {
	l := &relLog{}
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug})), l
}

// relLeaks returns a description of every known secret found in the texts.
func relLeaks(texts ...string) []string {
	var out []string
	for i, s := range texts {
		for _, sec := range relSecrets {
			if strings.Contains(s, sec) {
				out = append(out, fmt.Sprintf("text %d reveals %q", i, sec))
			}
		}
	}
	return out
}

// relCheckErrorSecrets fails t if err, in any rendering, or the log reveals
// a secret.
func relCheckErrorSecrets(t testing.TB, label string, err error, log string) {
	t.Helper()
	var texts []string
	if err != nil {
		texts = append(texts, err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
	}
	texts = append(texts, log)
	for _, l := range relLeaks(texts...) {
		t.Errorf("%s: %s", label, l)
	}
}

// relRoundTrip is an http.RoundTripper made of a function.
type relRoundTrip func(*http.Request) (*http.Response, error)

func (f relRoundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// relResponse builds a canned response to r.
func relResponse(r *http.Request, status int, ctype string, body io.Reader, hdr ...string) *http.Response {
	h := http.Header{}
	if ctype != "" {
		h.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Add(hdr[i], hdr[i+1])
	}
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Header: h,
		Body: io.NopCloser(body), Request: r, ProtoMajor: 1, ProtoMinor: 1, ContentLength: -1}
}
