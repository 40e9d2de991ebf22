package metaserver

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/oauth2"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// countingSource issues tokens "<prefix>-N" living life, and fails while
// fail is set.
type countingSource struct {
	prefix string
	life   time.Duration
	n      atomic.Int64
	fail   atomic.Bool
}

func (s *countingSource) Token() (*oauth2.Token, error) { return s.TokenContext(context.Background()) }

func (s *countingSource) TokenContext(context.Context) (*oauth2.Token, error) {
	if s.fail.Load() {
		return nil, errors.New("upstream refused: secret-in-error-text")
	}
	i := s.n.Add(1)
	return &oauth2.Token{AccessToken: s.prefix + "-" + strconv.FormatInt(i, 10), TokenType: "Bearer", Expiry: time.Now().Add(s.life)}, nil
}

// plainSource is an oauth2.TokenSource without TokenContext.
type plainSource struct{ tok *oauth2.Token }

func (p plainSource) Token() (*oauth2.Token, error) { return p.tok, nil }

func newServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// do sends one request to h in memory, as a local client would: Host
// 127.0.0.1:8080 and Metadata-Flavor: Google unless hdr says otherwise (an
// empty value deletes a header).
func do(h http.Handler, method, target string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	req.Host = "127.0.0.1:8080"
	req.Header.Set("Metadata-Flavor", "Google")
	for i := 0; i+1 < len(hdr); i += 2 {
		switch {
		case hdr[i] == "Host":
			req.Host = hdr[i+1]
		case hdr[i+1] == "":
			req.Header.Del(hdr[i])
		default:
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func get(h http.Handler, target string, hdr ...string) *httptest.ResponseRecorder {
	return do(h, http.MethodGet, target, hdr...)
}
