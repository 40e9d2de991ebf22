package httpx

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"testing"
)

// TestURLErrorCause: the cause of a *url.Error anywhere in the tree, else
// the error itself.
func TestURLErrorCause(t *testing.T) {
	ue := &url.Error{Op: "Post", URL: "https://sts.example/v1/token?secret=1", Err: io.ErrUnexpectedEOF}
	for _, c := range []struct{ err, want error }{
		{ue, io.ErrUnexpectedEOF}, {fmt.Errorf("a: %w", ue), io.ErrUnexpectedEOF},
		{errors.Join(io.EOF, ue), io.ErrUnexpectedEOF}, {io.EOF, io.EOF}, {nil, nil},
	} {
		if got := URLErrorCause(c.err); got != c.want {
			t.Errorf("URLErrorCause(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestRecall: a recalled copy reads as the failure with the note at its
// end, with or without a cause; a copy recalled again (by the next cache
// up) keeps one note; it unwraps to the failure and is as temporary as it.
func TestRecall(t *testing.T) {
	const note = "(cached failure, retry after 3s)"
	cause := errors.New("executable: command exited with status 3")
	for _, e := range []*Error{
		{Op: "exchange", Method: "POST", URL: "https://sts.example/v1/token", StatusCode: 400, Code: "invalid_grant", Description: "bad"},
		{Op: "subject", Err: cause},
		{Op: "token"},
		{Op: "exchange", StatusCode: 503, Code: "UNAVAILABLE"},
		{Op: "subject", Err: Retryable(cause)},
	} {
		r := Recall(e, e, note)
		if want := e.Error() + " " + note; r.Error() != want {
			t.Errorf("recalled %q, want %q", r, want)
		}
		if r.Temporary() != e.Temporary() || !errors.Is(r, e) || (e.Err != nil && !errors.Is(r, e.Err)) {
			t.Errorf("recalled %v: temporary %t, unwraps to the failure %t", r, r.Temporary(), errors.Is(r, e))
		}
		r2 := Recall(r, r, "(cached failure, retry after 1s)")
		if want := e.Error() + " (cached failure, retry after 1s)"; r2.Error() != want || !errors.Is(r2, e) {
			t.Errorf("recalled twice %q, want %q", r2, want)
		}
	}
}
