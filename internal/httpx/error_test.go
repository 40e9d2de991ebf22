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
