package sts

import (
	"github.com/stsgo/sts/internal/fixture"
	"io"
	"log/slog"
	"net/http"
	"testing"
)

// Known secret values used by the reliability tests (corpus, faults, fuzz
// targets): none may ever show in an error, a log record, String or %+v.
// They and the helpers below are internal/fixture's, shared with the tests
// of other packages.
const (
	relSubjectToken = fixture.SubjectToken
	relAccessToken  = fixture.AccessToken
	relRefreshToken = fixture.RefreshToken
	relClientID     = fixture.ClientID
	relClientSecret = fixture.ClientSecret
	relSessionKey   = fixture.SessionKey
)

// relSecrets lists every secret and the encodings in which it travels.
var relSecrets = fixture.Secrets

// relLog is a concurrency-safe buffer behind a debug-level slog handler.
type relLog = fixture.Log

// newRelLogger returns a logger that records everything down to debug
// level, and the buffer it writes to.
func newRelLogger() (*slog.Logger, *relLog) { return fixture.NewLogger() }

// relLeaks returns a description of every known secret found in the texts.
func relLeaks(texts ...string) []string { return fixture.Leaks(texts...) }

// relCheckErrorSecrets fails t if err, in any rendering, or the log reveals
// a secret.
func relCheckErrorSecrets(t testing.TB, label string, err error, log string) {
	t.Helper()
	fixture.CheckErrorSecrets(t, label, err, log)
}

// relRoundTrip is an http.RoundTripper made of a function.
type relRoundTrip = fixture.RoundTrip

// relResponse builds a canned response to r.
func relResponse(r *http.Request, status int, ctype string, body io.Reader, hdr ...string) *http.Response {
	return fixture.Response(r, status, ctype, body, hdr...)
}
