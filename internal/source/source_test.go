package source

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/internal/httpx"
)

type ctxSource struct{ tok *oauth2.Token }

func (s ctxSource) Token() (*oauth2.Token, error) { panic("Token called on a ContextTokenSource") }
func (s ctxSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	return s.tok, ctx.Err()
}

type funcSource func() (*oauth2.Token, error)

func (f funcSource) Token() (*oauth2.Token, error) { return f() }

type cache struct{ dropped *oauth2.Token }

func (c *cache) Token() (*oauth2.Token, error) { return nil, nil }
func (c *cache) Invalidate(tok *oauth2.Token)  { c.dropped = tok }

func TestToken(t *testing.T) {
	want := &oauth2.Token{AccessToken: "a"}
	if got, err := Token(context.Background(), ctxSource{want}, "op"); got != want || err != nil {
		t.Errorf("context source: %v, %v", got, err)
	}
	if got, err := Token(context.Background(), oauth2.StaticTokenSource(want), "op"); got != want || err != nil {
		t.Errorf("plain source: %v, %v", got, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if got, err := Token(ctx, oauth2.StaticTokenSource(want), "op"); got.AccessToken != "a" || err != nil {
		t.Errorf("plain source with deadline: %v, %v", got, err)
	}
	var he *httpx.Error
	_, err := Plain(ctx, funcSource(func() (*oauth2.Token, error) { panic("x") }), "op")
	if !errors.As(err, &he) || he.Op != "op" || he.Temporary() {
		t.Errorf("panic: %v", err)
	}
	release := make(chan struct{})
	defer close(release)
	hung := funcSource(func() (*oauth2.Token, error) { <-release; return want, nil })
	short, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := Plain(short, hung, "op"); !errors.As(err, &he) || !errors.Is(err, context.Canceled) {
		t.Errorf("hung source: %v", err)
	}
}

func TestFetch(t *testing.T) {
	typedErr := errors.New("typed")
	typed := func(err error) bool { return errors.Is(err, typedErr) }
	ctx := context.Background()
	for _, tc := range []struct {
		src     oauth2.TokenSource
		wrapped bool
	}{
		{funcSource(func() (*oauth2.Token, error) { return nil, typedErr }), false},
		{funcSource(func() (*oauth2.Token, error) { return nil, &httpx.Error{Op: "exchange"} }), false},
		{funcSource(func() (*oauth2.Token, error) { return nil, errors.New("plain") }), true},
		{funcSource(func() (*oauth2.Token, error) { return nil, nil }), true},
		{oauth2.StaticTokenSource(&oauth2.Token{}), true},
	} {
		_, err := Fetch(ctx, tc.src, "impersonate", "source", typed)
		var he *httpx.Error
		wrapped := errors.As(err, &he) && he.Op == "impersonate"
		if err == nil || wrapped != tc.wrapped {
			t.Errorf("%v: wrapped %t, want %t", err, wrapped, tc.wrapped)
		}
	}
	if tok, err := Fetch(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "a"}), "op", "source", typed); err != nil || tok.AccessToken != "a" {
		t.Errorf("Fetch = %v, %v", tok, err)
	}
}

func TestInvalidate(t *testing.T) {
	c := &cache{}
	tok := &oauth2.Token{AccessToken: "a"}
	Invalidate(c, tok)
	if c.dropped != tok {
		t.Error("not invalidated")
	}
	Invalidate(oauth2.StaticTokenSource(tok), tok) // no cache: nothing to do
}

type markedSource struct {
	oauth2.TokenSource
	bounded bool
}

func (m markedSource) TokenContext(context.Context) (*oauth2.Token, error) { return m.Token() }
func (m markedSource) ReturnsByDeadline(Mark) bool                         { return m.bounded }

type contextSource struct{ oauth2.TokenSource }

func (c contextSource) TokenContext(context.Context) (*oauth2.Token, error) { return c.Token() }

// TestMarkedAndBounded: a source of the module says whether it returns by
// its context's deadline; a plain oauth2.TokenSource is bounded (Token runs
// it on a goroutine of its own), anyone else's ContextTokenSource is not.
func TestMarkedAndBounded(t *testing.T) {
	plain := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "a"})
	for _, tc := range []struct {
		name            string
		src             oauth2.TokenSource
		marked, bounded bool
	}{
		{"marked bounded", markedSource{plain, true}, true, true},
		{"marked unbounded", markedSource{plain, false}, false, false},
		{"plain", plain, false, true},
		{"someone's context source", contextSource{plain}, false, false},
	} {
		if Marked(tc.src) != tc.marked || Bounded(tc.src) != tc.bounded {
			t.Errorf("%s: Marked %t, Bounded %t; want %t, %t", tc.name, Marked(tc.src), Bounded(tc.src), tc.marked, tc.bounded)
		}
	}
}
