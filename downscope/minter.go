package downscope

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/logenv"
	"golang.org/x/oauth2"
)

// Defaults of Config, those of Google's Java implementation for the two
// windows.
const (
	DefaultRefreshWindow  = 45 * time.Minute
	DefaultBlockingWindow = 30 * time.Minute
	DefaultExpiryMargin   = 10 * time.Second
	DefaultFetchTimeout   = 2 * time.Minute
)

// Config configures a Minter. Source is required; every other field has a
// documented default. A Config is not used after NewMinter returns.
type Config struct {
	// Source supplies the root access tokens exchanged for intermediary
	// tokens: any oauth2.TokenSource, ideally a cached one. If it
	// implements sts.ContextTokenSource the exchange's context is passed
	// on. Required.
	Source oauth2.TokenSource
	// TokenURL is the STS token endpoint. Empty means
	// "https://sts.<UniverseDomain>/v1/token"; it must be https unless its
	// host is a loopback address.
	TokenURL string
	// UniverseDomain is the Google Cloud universe. Empty means
	// "googleapis.com".
	UniverseDomain string
	// HTTPOptions holds the HTTP client, time-out, retry policy and
	// logger; the zero value is ready to use.
	sts.HTTPOptions

	// RefreshWindow: once the intermediary token has this much lifetime
	// left or less, one background fetch of a new one starts while tokens
	// keep being minted from the current one. Zero means 45 minutes.
	RefreshWindow time.Duration
	// BlockingWindow: once the intermediary token has this much lifetime
	// left or less, minting waits for a new one (all waiting callers share
	// one fetch). If that fetch fails, minting goes on from the current
	// token while it is valid, and fetches back off. Zero means 30
	// minutes; it must be shorter than RefreshWindow.
	//
	// For intermediary tokens that live shorter than the windows assume
	// (STS gives them the lifetime of the root token, which may be partly
	// used), the windows are capped at 3/4 and 1/2 of the lifetime the
	// token had when fetched, so that a token is used at all.
	BlockingWindow time.Duration
	// ExpiryMargin is how long before its expiry an intermediary token
	// stops being used at all. Zero means 10 s; negative means none.
	ExpiryMargin time.Duration
	// FetchTimeout bounds one fetch of an intermediary token, retries
	// included; it runs under its own deadline, not a caller's. Zero means
	// 2 minutes.
	FetchTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between failed fetches
	// (doubling from MinBackoff). Zero means 1 s and 1 minute.
	MinBackoff, MaxBackoff time.Duration
}

// String describes c without secrets.
func (c Config) String() string {
	return fmt.Sprintf("downscope.Config{TokenURL:%q RefreshWindow:%v BlockingWindow:%v}", c.TokenURL, c.RefreshWindow, c.BlockingWindow)
}

// GoString is String, so %#v redacts too.
func (c Config) GoString() string { return c.String() }

// Minter mints client-side downscoped tokens for any number of compiled
// boundaries from one intermediary token, which it fetches from STS and
// refreshes ahead of expiry:
//
//   - with more than RefreshWindow left, minting takes no lock and does no
//     I/O (about a microsecond: one AES-GCM encryption);
//   - within RefreshWindow, one background fetch starts and minting goes on;
//   - within BlockingWindow, or with no token, callers wait for one shared
//     fetch (a caller whose context ends stops waiting without cancelling
//     it);
//   - a token is never minted from an intermediary past its expiry (minus
//     ExpiryMargin).
//
// An intermediary token expires with the root token it was exchanged for
// (STS gives it no lifetime of its own), so exchanging the same root token
// again cannot give a longer-lived one. A fetch therefore first asks the
// root source for its token and exchanges only if it changed; otherwise it
// keeps the current intermediary and looks at the root again after a
// sixteenth of the remaining lifetime (asking a stale root cache is what
// starts its refresh). The result is one intermediary exchange per root
// token: over three hours of minting every minute on top of the package's
// default root cache, 5 root tokens and 5 exchanges, every minted token
// having at least 14 minutes left, and no caller waiting after the first.
//
// Neither the intermediary token nor the session key appears in errors,
// logs or String. A Minter holds no goroutine while idle. Create it with
// NewMinter; it is safe for concurrent use.
type Minter struct {
	x       *sts.IntermediaryExchanger
	refresh time.Duration
	block   time.Duration
	margin  time.Duration
	timeout time.Duration
	minBack time.Duration
	maxBack time.Duration
	logger  *slog.Logger
	url     string

	cur atomic.Pointer[session]
	// quiet holds the Unix nanoseconds before which no background fetch
	// may start (one runs, or the last one failed recently).
	quiet atomic.Int64

	mu       sync.Mutex
	flight   *fetch
	failures int
	retryAt  time.Time
	lastErr  error
}

// session is one intermediary token with its parsed key and deadlines (Unix
// nanoseconds).
type session struct {
	token     string
	key       *SessionKey
	root      string // the root token it was exchanged for
	expiry    time.Time
	refreshAt int64
	blockAt   int64
	validTo   int64
}

type fetch struct {
	done chan struct{}
	s    *session
	err  error
}

// NewMinter checks cfg and returns a Minter. It does no I/O: the first
// intermediary token is fetched by the first mint.
func NewMinter(cfg Config) (*Minter, error) {
	if cfg.Source == nil {
		return nil, &sts.ValidationError{Field: "Config.Source", Reason: "must not be nil"}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"RefreshWindow", cfg.RefreshWindow}, {"BlockingWindow", cfg.BlockingWindow},
		{"FetchTimeout", cfg.FetchTimeout}, {"MinBackoff", cfg.MinBackoff}, {"MaxBackoff", cfg.MaxBackoff}} {
		if d.v < 0 {
			return nil, &sts.ValidationError{Field: "Config." + d.name, Reason: "must not be negative"}
		}
	}
	m := &Minter{
		refresh: orDefault(cfg.RefreshWindow, DefaultRefreshWindow),
		block:   orDefault(cfg.BlockingWindow, DefaultBlockingWindow),
		margin:  cfg.ExpiryMargin,
		timeout: orDefault(cfg.FetchTimeout, DefaultFetchTimeout),
		minBack: orDefault(cfg.MinBackoff, time.Second),
		maxBack: orDefault(cfg.MaxBackoff, time.Minute),
		logger:  logenv.Resolve(cfg.Logger),
		url:     cfg.TokenURL,
	}
	if m.block >= m.refresh {
		return nil, &sts.ValidationError{Field: "Config.BlockingWindow",
			Reason: fmt.Sprintf("must be shorter than RefreshWindow (%v), got %v", m.refresh, m.block)}
	}
	switch {
	case m.margin == 0:
		m.margin = DefaultExpiryMargin
	case m.margin < 0:
		m.margin = 0
	}
	x, err := sts.NewIntermediaryExchanger(sts.DownscopeConfig{
		Source:         cfg.Source,
		TokenURL:       cfg.TokenURL,
		UniverseDomain: cfg.UniverseDomain,
		HTTPOptions:    cfg.HTTPOptions,
	})
	if err != nil {
		// The exchange names the fields as sts.DownscopeConfig's, which
		// this Config shares.
		var ve *sts.ValidationError
		if errors.As(err, &ve) {
			if rest, ok := strings.CutPrefix(ve.Field, "DownscopeConfig."); ok {
				return nil, &sts.ValidationError{Field: "Config." + rest, Reason: ve.Reason}
			}
		}
		return nil, err
	}
	m.x = x
	return m, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Token mints a downscoped token for cb. Its Expiry is the intermediary
// token's. ctx bounds only how long this call waits for an intermediary
// token when it must.
func (m *Minter) Token(ctx context.Context, cb *CompiledBoundary) (*oauth2.Token, error) {
	if cb == nil {
		return nil, &sts.ValidationError{Field: "CompiledBoundary", Reason: "must not be nil"}
	}
	s, err := m.session(ctx)
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

// session returns an intermediary token fit for minting now, fetching one as
// described on Minter.
func (m *Minter) session(ctx context.Context) (*session, error) {
	if s := m.cur.Load(); s != nil {
		now := time.Now().UnixNano()
		if now < s.refreshAt {
			return s, nil
		}
		if now < s.blockAt {
			if now >= m.quiet.Load() {
				m.startIfIdle()
			}
			return s, nil
		}
		if now < s.validTo && now < m.quiet.Load() && !m.fetching() {
			// Blocking window, but the last fetch failed moments ago:
			// keep minting from the valid token until the backoff ends.
			return s, nil
		}
	}
	return m.wait(ctx)
}

func (m *Minter) fetching() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.flight != nil
}

// startIfIdle starts a background fetch unless one runs or backoff holds.
func (m *Minter) startIfIdle() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.flight != nil || time.Now().Before(m.retryAt) {
		return
	}
	// A fetch may have replaced the token the caller saw since it looked.
	if s := m.cur.Load(); s != nil && time.Now().UnixNano() < s.refreshAt {
		return
	}
	m.startLocked()
}

// wait joins or starts a fetch and waits for it or for ctx. If the fetch
// fails, a still-valid current token is used.
func (m *Minter) wait(ctx context.Context) (*session, error) {
	m.mu.Lock()
	if s := m.cur.Load(); s != nil && time.Now().UnixNano() < s.blockAt {
		m.mu.Unlock()
		return s, nil // another caller stored a new token meanwhile
	}
	f := m.flight
	if f == nil {
		f = m.startLocked()
	}
	m.mu.Unlock()
	select {
	case <-f.done:
	case <-ctx.Done():
		if s := m.cur.Load(); s != nil && time.Now().UnixNano() < s.validTo {
			return s, nil
		}
		return nil, &sts.Error{Op: "intermediary", Err: ctx.Err()}
	}
	if f.err == nil {
		return f.s, nil
	}
	if s := m.cur.Load(); s != nil && time.Now().UnixNano() < s.validTo {
		return s, nil
	}
	return nil, f.err
}

func (m *Minter) startLocked() *fetch {
	f := &fetch{done: make(chan struct{})}
	m.flight = f
	m.quiet.Store(math.MaxInt64)
	go m.run(f)
	return f
}

// run fetches one intermediary token and publishes the outcome.
func (m *Minter) run(f *fetch) {
	ctx, cancel := context.WithTimeout(context.Background(), m.timeout)
	defer cancel()
	start := time.Now()
	s, err := m.fetch(ctx)
	now := time.Now()
	m.mu.Lock()
	if err == nil {
		m.cur.Store(s)
		m.failures, m.retryAt, m.lastErr = 0, time.Time{}, nil
		m.quiet.Store(0)
	} else {
		m.failures++
		back := m.minBack << min(m.failures-1, 20)
		if back <= 0 || back > m.maxBack {
			back = m.maxBack
		}
		m.retryAt = now.Add(back)
		m.quiet.Store(m.retryAt.UnixNano())
		m.lastErr = err
	}
	m.flight = nil
	f.s, f.err = s, err
	m.mu.Unlock()
	// Log before waking the waiters, so that what they see is logged.
	if m.logger != nil {
		if err == nil {
			m.logger.Debug("sts: downscope: intermediary token fetched", "elapsed", now.Sub(start), "expiry", s.expiry)
		} else {
			m.logger.Warn("sts: downscope: intermediary token fetch failed", "elapsed", now.Sub(start), "error", err.Error())
		}
	}
	close(f.done)
}

func (m *Minter) fetch(ctx context.Context) (s *session, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, &sts.Error{Op: "intermediary", Err: errors.New("intermediary fetch panicked")}
		}
	}()
	root, err := m.x.RootToken(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if cur := m.cur.Load(); cur != nil && cur.root == root.AccessToken && now.UnixNano() < cur.validTo {
		// The root token has not changed: an intermediary token exchanged
		// for it would expire no later than the current one. Keep the
		// current one, with windows recomputed for what is left of it, and
		// look at the root again soon (asking a stale root cache for its
		// token is what starts its refresh).
		s, err := m.windows(&session{token: cur.token, key: cur.key, expiry: cur.expiry, root: cur.root}, now)
		if err == nil && !s.expiry.IsZero() {
			next := unixNano(now.Add(max(s.expiry.Sub(now)/16, 5*time.Second)))
			s.refreshAt = min(s.refreshAt, next)
		}
		return s, err
	}
	in, err := m.x.Exchange(ctx, root)
	if err != nil {
		return nil, err
	}
	key, err := ParseSessionKey(in.SessionKey)
	if err != nil {
		return nil, &sts.Error{Op: "intermediary", StatusCode: http.StatusOK,
			Err: errors.New("response access_boundary_session_key is not a base64 Tink AEAD keyset")}
	}
	return m.windows(&session{token: in.Token.AccessToken, key: key, expiry: in.Token.Expiry, root: root.AccessToken}, time.Now())
}

// unixNano is t.UnixNano saturated at the top of its range, so that a root
// token expiring after year 2262 does not wrap around into the past.
func unixNano(t time.Time) int64 {
	if t.After(time.Unix(0, math.MaxInt64)) {
		return math.MaxInt64
	}
	return t.UnixNano()
}

// windows sets the deadlines of s for the lifetime it has left at now.
func (m *Minter) windows(s *session, now time.Time) (*session, error) {
	if s.expiry.IsZero() {
		s.refreshAt, s.blockAt, s.validTo = math.MaxInt64, math.MaxInt64, math.MaxInt64
		return s, nil
	}
	life := s.expiry.Sub(now)
	if life <= m.margin {
		return nil, &sts.Error{Op: "intermediary", Err: errors.New("the intermediary token (which expires with the root token) is already expired")}
	}
	refresh := min(m.refresh, life/4*3) // life*3 could overflow
	block := min(m.block, life/2)
	s.refreshAt = unixNano(s.expiry.Add(-refresh))
	s.blockAt = unixNano(s.expiry.Add(-block))
	s.validTo = unixNano(s.expiry.Add(-m.margin))
	if s.blockAt > s.validTo {
		s.blockAt = s.validTo
	}
	if s.refreshAt > s.blockAt {
		s.refreshAt = s.blockAt
	}
	return s, nil
}

// Invalidate drops the current intermediary token, so that the next mint
// fetches a new one; call it when tokens minted from it are rejected.
func (m *Minter) Invalidate() {
	m.cur.Store(nil)
	m.mu.Lock()
	m.retryAt = time.Time{}
	if m.flight == nil {
		m.quiet.Store(0)
	}
	m.mu.Unlock()
}

// LastError returns the error of the most recent fetch if it failed, or nil.
func (m *Minter) LastError() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastErr
}

// String describes m without secrets.
func (m *Minter) String() string {
	return fmt.Sprintf("downscope.Minter{TokenURL:%q RefreshWindow:%v BlockingWindow:%v}", m.url, m.refresh, m.block)
}

// GoString is String, so %#v redacts too.
func (m *Minter) GoString() string { return m.String() }

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
	s, err := ts.m.session(ctx)
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

// GoString is String, so %#v redacts too.
func (ts *TokenSource) GoString() string { return ts.String() }
