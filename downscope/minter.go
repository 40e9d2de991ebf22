package downscope

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/exchange"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/logenv"
	"github.com/stsgo/sts/internal/public"
	"github.com/stsgo/sts/internal/refresh"
	"github.com/stsgo/sts/internal/secret"
	"github.com/stsgo/sts/internal/source"
	"golang.org/x/oauth2"
)

// Defaults of Config's windows for NewMinter, those of Google's Java
// implementation.
const (
	DefaultRefreshWindow  = 45 * time.Minute
	DefaultBlockingWindow = 30 * time.Minute
)

// Minter mints client-side downscoped tokens for any number of compiled
// boundaries from one intermediary token, which it fetches from STS and
// refreshes ahead of expiry (Config.RefreshWindow, Config.BlockingWindow):
//
//   - with more than RefreshWindow left, minting takes no lock and does no
//     I/O (about a microsecond: one AES-GCM encryption);
//   - within RefreshWindow, one background fetch starts and minting goes on;
//   - within BlockingWindow, or with no token, callers wait for one shared
//     fetch (a caller whose context ends stops waiting without cancelling
//     it);
//   - a token is never minted from an intermediary past its expiry (minus
//     the expiry margin).
//
// An intermediary token expires with the root token it was exchanged for
// (STS gives it no lifetime of its own), so exchanging the same root token
// again cannot give a longer-lived one. A fetch therefore first asks the
// root source for its token and exchanges only if it changed; otherwise it
// keeps the current intermediary and looks at the root again after a
// backoff (Cache.MinBackoff, doubling to Cache.MaxBackoff; asking a stale
// root cache is what starts its refresh). The result is one intermediary
// exchange per root token: over three hours of minting every minute on top
// of the package's default root cache, 5 root tokens and 5 exchanges, every
// minted token having at least 14 minutes left, and no caller waiting after
// the first.
//
// While no intermediary token is valid and the last fetch failed with a
// permanent error, minting fails with that error again, without a fetch,
// until the backoff ends (see sts.CacheOptions.MinBackoff).
//
// Neither the intermediary token nor the session key appears in errors,
// logs or String. A Minter holds no goroutine while idle. Create it with
// NewMinter; it is safe for concurrent use.
type Minter struct {
	x       *exchange.Exchanger // of intermediary tokens
	root    oauth2.TokenSource
	r       *refresh.Cache[*session]
	margin  time.Duration
	refresh time.Duration
	block   time.Duration
}

// session is one intermediary token with its parsed key.
type session struct {
	token  string
	key    *SessionKey
	root   string // the root token it was exchanged for
	expiry time.Time
}

// NewMinter checks cfg and returns a Minter. It does no I/O: the first
// intermediary token is fetched by the first mint. cfg.Boundary must be nil
// (boundaries are compiled with Compile and given to each mint) and so must
// cfg.Cache.InitialToken.
//
// RefreshWindow: once the intermediary token has this much lifetime left or
// less, one background fetch of a new one starts while tokens keep being
// minted from the current one (if Cache.StaleFraction of the token's
// lifetime, jittered, comes first, as it does for tokens living more than
// two or three hours, the fetch starts then). BlockingWindow: once the
// intermediary token has this much lifetime left or less, minting waits for
// a new one (all waiting callers share one fetch); if that fetch fails,
// minting goes on from the current token while it is valid, and fetches back
// off. BlockingWindow must be shorter than RefreshWindow. For intermediary
// tokens that live shorter than the windows assume (STS gives them the
// lifetime of the root token, which may be partly used), the windows are
// capped at 3/4 and 1/2 of the lifetime the token had when fetched, so that
// a token is used at all. Cache.ExpiryMargin is how long before its expiry
// an intermediary token stops being used (one living no longer than that is
// refused), Cache.RefreshTimeout the deadline of one fetch, and
// Cache.MinBackoff and Cache.MaxBackoff the waits after failed fetches and
// between looks at an unchanged root token.
func NewMinter(cfg Config) (*Minter, error) {
	if cfg.Boundary != nil {
		return nil, &sts.ValidationError{Field: configField + "Boundary", Reason: "must be nil for NewMinter: each mint takes a boundary compiled with Compile"}
	}
	if cfg.Cache.InitialToken != nil {
		return nil, &sts.ValidationError{Field: configField + "Cache.InitialToken", Reason: "must be nil: an intermediary token comes with its session key"}
	}
	x, err := cfg.exchanger(exchange.TokenTypeIntermediary, nil)
	if err != nil {
		return nil, err
	}
	m := &Minter{
		x:       x,
		refresh: cmp.Or(cfg.RefreshWindow, DefaultRefreshWindow),
		block:   cmp.Or(cfg.BlockingWindow, DefaultBlockingWindow),
		margin:  refresh.Options(cfg.Cache).Margin(),
		root:    cfg.Source,
	}
	if m.block >= m.refresh {
		return nil, &sts.ValidationError{Field: configField + "BlockingWindow",
			Reason: fmt.Sprintf("must be shorter than RefreshWindow (%v), got %v", m.refresh, m.block)}
	}
	ro := refresh.Options(cfg.cacheOptions())
	ro.Logger = logenv.Resolve(ro.Logger)
	m.r = refresh.New(refresh.Config[*session]{
		Options:        ro,
		Source:         refresh.FetchFunc[*session](m.fetch),
		Kind:           &sessionKind,
		RefreshWindow:  m.refresh,
		BlockingWindow: m.block,
		// The fetch returns by its deadline when the exchange and the root
		// source do (ParseSessionKey does no I/O).
		Inline: x.Bounded() && source.Bounded(m.root),
	})
	return m, nil
}

// sessionKind describes the intermediary tokens of every Minter.
var sessionKind = refresh.Kind[*session]{
	Same:      func(old, s *session) bool { return old == s },
	Wrap:      func(err error) error { return &sts.Error{Op: "intermediary", Err: httpx.Transient(err)} },
	Refreshed: "sts: downscope: intermediary token fetched",
	Failed:    "sts: downscope: intermediary token fetch failed",
	Recall:    public.Recall,
}

// Token mints a downscoped token for cb. Its Expiry is the intermediary
// token's. ctx bounds only how long this call waits for an intermediary
// token when it must.
func (m *Minter) Token(ctx context.Context, cb *CompiledBoundary) (*oauth2.Token, error) {
	if cb == nil {
		return nil, &sts.ValidationError{Field: "CompiledBoundary", Reason: "must not be nil"}
	}
	s, err := m.r.Get(ctx)
	if err != nil {
		return nil, err
	}
	return s.mint(cb)
}

func (s *session) mint(cb *CompiledBoundary) (*oauth2.Token, error) {
	tok, err := s.key.Mint(s.token, cb)
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: tok, TokenType: "Bearer", Expiry: s.expiry}, nil
}

// fetch returns the current intermediary token if the root token has not
// changed, else exchanges the root token for a new one.
func (m *Minter) fetch(ctx context.Context) (*session, time.Time, error) {
	root, err := rootToken(ctx, m.root)
	if err != nil {
		return nil, time.Time{}, err
	}
	if cur, ok := m.r.Current(); ok && cur.root == root.AccessToken {
		// An intermediary token exchanged for the same root token would
		// expire no later than the current one: keep it.
		return cur, cur.expiry, nil
	}
	in, err := exchangeRoot(ctx, m.x, root)
	if err != nil {
		return nil, time.Time{}, err
	}
	key, err := ParseSessionKey(in.SessionKey)
	if err != nil {
		return nil, time.Time{}, &sts.Error{Op: "intermediary", StatusCode: http.StatusOK,
			Err: errors.New("response access_boundary_session_key is not a base64 Tink AEAD keyset")}
	}
	if exp := in.Token.Expiry; !exp.IsZero() && time.Until(exp) <= m.margin {
		return nil, time.Time{}, &sts.Error{Op: "intermediary", Err: errors.New("the intermediary token (which expires with the root token) is already expired")}
	}
	return &session{token: in.Token.AccessToken, key: key, expiry: in.Token.Expiry, root: root.AccessToken}, in.Token.Expiry, nil
}

// Invalidate drops the current intermediary token, so that the next mint
// fetches a new one; call it when tokens minted from it are rejected.
func (m *Minter) Invalidate() { m.r.Invalidate(nil) }

// LastError returns the error of the most recent fetch if it failed, or nil.
func (m *Minter) LastError() error { return m.r.LastError() }

// String describes m without secrets.
func (m *Minter) String() string {
	return fmt.Sprintf("downscope.Minter{TokenURL:%q RefreshWindow:%v BlockingWindow:%v}", m.x.TokenURL(), m.refresh, m.block)
}

// Format prints String whatever the verb: no verb shows a secret.
func (m *Minter) Format(f fmt.State, verb rune) { secret.Format(f, verb, m.String()) }

// TokenSource returns an oauth2.TokenSource of tokens for cb minted by m.
// It mints once per intermediary token and then returns the same token (a
// pointer load, no allocation) until m moves to a new intermediary token.
// Returned tokens are shared and must not be modified.
func (m *Minter) TokenSource(cb *CompiledBoundary) *TokenSource {
	return &TokenSource{m: m, cb: cb}
}

// TokenSource is the oauth2.TokenSource of one compiled boundary, made by
// Minter.TokenSource. It also implements sts.ContextTokenSource. It is safe
// for concurrent use.
type TokenSource struct {
	m     *Minter
	cb    *CompiledBoundary
	cache atomic.Pointer[minted]
}

// minted is a token minted from the intermediary token whose key is key
// (each intermediary token has its own key).
type minted struct {
	key *SessionKey
	tok *oauth2.Token
}

// Token returns a token for the boundary; see TokenContext.
func (ts *TokenSource) Token() (*oauth2.Token, error) { return ts.TokenContext(context.Background()) }

// TokenContext returns a token for the boundary, minted from the Minter's
// current intermediary token. ctx bounds only how long the call waits for a
// new intermediary token when it must.
func (ts *TokenSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	if ts.cb == nil {
		return nil, &sts.ValidationError{Field: "CompiledBoundary", Reason: "must not be nil"}
	}
	s, err := ts.m.r.Get(ctx)
	if err != nil {
		return nil, err
	}
	if c := ts.cache.Load(); c != nil && c.key == s.key {
		return c.tok, nil
	}
	tok, err := s.mint(ts.cb)
	if err != nil {
		return nil, err
	}
	ts.cache.Store(&minted{key: s.key, tok: tok})
	return tok, nil
}

// String describes the source without secrets.
func (ts *TokenSource) String() string {
	return "downscope.TokenSource{" + ts.cb.String() + "}"
}

// Format prints String whatever the verb: no verb shows a secret.
func (ts *TokenSource) Format(f fmt.State, verb rune) { secret.Format(f, verb, ts.String()) }
