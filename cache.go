package sts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stsgo/sts/internal/httpx"
	"golang.org/x/oauth2"
)

// ContextTokenSource is a token source whose fetch honours a context. The
// package's sources implement it; the cache uses it, when present, to bound
// each refresh by its own deadline instead of the caller's.
type ContextTokenSource interface {
	TokenContext(ctx context.Context) (*oauth2.Token, error)
}

// CacheOptions tunes a CachedTokenSource. The zero value is ready to use:
// refresh-ahead from 75% of a token's lifetime (jittered 10% earlier), tokens
// treated as expired 10 s before their expiry, a 2 minute deadline per
// refresh, and a 1 s to 1 min backoff between failing background refreshes.
type CacheOptions struct {
	// StaleFraction is the share of a token's lifetime after which it is
	// stale: it is still returned, and one background refresh starts.
	// Zero means 0.75. It must lie in (0, 1]; 1 disables refresh-ahead.
	StaleFraction float64
	// Jitter moves each token's stale point earlier by a random share of
	// the lifetime in [0, Jitter), so that a fleet does not refresh in
	// step. Zero means 0.1; negative means none. It must be below
	// StaleFraction.
	Jitter float64
	// ExpiryMargin is how long before its expiry a token stops being
	// served. Zero means 10 s; negative means none (serve to the last
	// nanosecond). For a token living less than ten margins, a tenth of
	// its lifetime is used instead.
	ExpiryMargin time.Duration
	// RefreshTimeout bounds one refresh, retries included. Zero means
	// 2 minutes.
	RefreshTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between failed background
	// refreshes (doubling from MinBackoff). Zero means 1 s and 1 min.
	MinBackoff, MaxBackoff time.Duration
	// InitialToken, if valid, is served first (as with
	// oauth2.ReuseTokenSource).
	InitialToken *oauth2.Token
	// Logger receives refresh events (never token values). Nil means what
	// GOOGLE_SDK_GO_LOGGING_LEVEL asks for (see LoggingLevelEnv): by
	// default, no logging.
	Logger *slog.Logger
}

func (o *CacheOptions) validate() error {
	switch {
	case o.StaleFraction < 0 || o.StaleFraction > 1 || math.IsNaN(o.StaleFraction):
		return invalid("CacheOptions.StaleFraction", "must lie in (0, 1], got %v", o.StaleFraction)
	case math.IsNaN(o.Jitter) || o.Jitter >= 1:
		return invalid("CacheOptions.Jitter", "must be below 1, got %v", o.Jitter)
	case o.RefreshTimeout < 0:
		return invalid("CacheOptions.RefreshTimeout", "must not be negative")
	case o.MinBackoff < 0:
		return invalid("CacheOptions.MinBackoff", "must not be negative")
	case o.MaxBackoff < 0:
		return invalid("CacheOptions.MaxBackoff", "must not be negative")
	}
	st, j := o.StaleFraction, o.Jitter
	if st == 0 {
		st = 0.75
	}
	if j == 0 {
		j = 0.1
	}
	if j > 0 && j >= st {
		return invalid("CacheOptions.Jitter", "must be below StaleFraction (%v), got %v", st, j)
	}
	return nil
}

// CachedTokenSource caches the tokens of another source and refreshes them
// ahead of expiry. It is a drop-in replacement for oauth2.ReuseTokenSource
// with these differences:
//
//   - A fresh token is returned with no I/O, no allocation and no lock.
//   - Once a token is stale (see CacheOptions.StaleFraction) callers keep
//     getting it while one background refresh runs.
//   - Only a token that is no longer valid makes callers wait, and then all
//     of them share one fetch; a caller whose context ends stops waiting at
//     once without cancelling the fetch for the others.
//   - While refreshes fail, a still-valid token keeps being served; an
//     expired one never is. Failed background refreshes back off.
//   - Invalidate drops a token the server rejected.
//
// The token returned is shared between callers and must not be modified. A
// CachedTokenSource holds no goroutine while idle. Create it with
// NewCachedTokenSource; it is safe for concurrent use.
type CachedTokenSource struct {
	src     oauth2.TokenSource
	csrc    ContextTokenSource // src, if it takes a context
	opts    CacheOptions
	stale   float64
	jitter  float64
	margin  time.Duration
	timeout time.Duration

	cur atomic.Pointer[cacheEntry]
	// quiet holds the Unix nanoseconds before which no background refresh
	// may start (a refresh runs, or the last one failed); it lets stale
	// callers skip the mutex.
	quiet atomic.Int64

	mu       sync.Mutex
	flight   *flight   // the refresh in progress, or nil
	failures int       // consecutive failed refreshes
	same     int       // consecutive refreshes that returned the cached token
	retryAt  time.Time // no background refresh before this
	lastErr  error     // error of the last failed refresh
}

// cacheEntry is one cached token with its precomputed deadlines (Unix
// nanoseconds, wall clock).
type cacheEntry struct {
	tok     *oauth2.Token
	staleAt int64
	validTo int64
}

type flight struct {
	done chan struct{}
	tok  *oauth2.Token
	err  error
}

// NewCachedTokenSource returns a cache around src. src must not be nil. If
// src implements ContextTokenSource, each refresh gets a context bounded by
// CacheOptions.RefreshTimeout.
func NewCachedTokenSource(src oauth2.TokenSource, opts CacheOptions) (*CachedTokenSource, error) {
	if src == nil {
		return nil, invalid("source", "must not be nil")
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	c := &CachedTokenSource{src: src, opts: opts}
	c.opts.Logger = resolveLogger(opts.Logger)
	c.csrc, _ = src.(ContextTokenSource)
	c.stale = opts.StaleFraction
	if c.stale == 0 {
		c.stale = 0.75
	}
	c.jitter = opts.Jitter
	if c.jitter == 0 {
		c.jitter = 0.1
	} else if c.jitter < 0 {
		c.jitter = 0
	}
	c.margin = opts.ExpiryMargin
	if c.margin == 0 {
		c.margin = 10 * time.Second
	} else if c.margin < 0 {
		c.margin = 0
	}
	c.timeout = opts.RefreshTimeout
	if c.timeout == 0 {
		c.timeout = 2 * time.Minute
	}
	if c.opts.MinBackoff == 0 {
		c.opts.MinBackoff = time.Second
	}
	if c.opts.MaxBackoff == 0 {
		c.opts.MaxBackoff = time.Minute
	}
	if t := opts.InitialToken; t != nil && t.AccessToken != "" {
		if e := c.entry(t, time.Now()); time.Now().UnixNano() < e.validTo {
			c.cur.Store(e)
		}
	}
	return c, nil
}

// cacheWith wraps src in a CachedTokenSource configured by opts, logging to
// logger unless opts has a Logger of its own: how each layer's constructor
// applies its configuration's Cache and Logger fields.
func cacheWith(src oauth2.TokenSource, opts CacheOptions, logger *slog.Logger) (*CachedTokenSource, error) {
	if opts.Logger == nil {
		opts.Logger = logger
	}
	return NewCachedTokenSource(src, opts)
}

// entry computes the deadlines of a token obtained at now.
func (c *CachedTokenSource) entry(t *oauth2.Token, now time.Time) *cacheEntry {
	if t.Expiry.IsZero() {
		return &cacheEntry{tok: t, staleAt: math.MaxInt64, validTo: math.MaxInt64}
	}
	life := t.Expiry.Sub(now)
	// A token living less than ten margins (short-lived test tokens, a
	// lifetime cut by the root token's) keeps a tenth of its life.
	margin := min(c.margin, life/10)
	validTo := unixNano(t.Expiry.Add(-margin))
	share := c.stale
	if c.jitter > 0 {
		share -= rand.Float64() * c.jitter
	}
	staleAt := unixNano(now.Add(time.Duration(float64(life) * share)))
	if c.stale >= 1 || staleAt > validTo {
		staleAt = validTo
	}
	return &cacheEntry{tok: t, staleAt: staleAt, validTo: validTo}
}

// unixNano is t.UnixNano saturated at the ends of its range: an expiry past
// year 2262 (which a source over some other service may give) counts as the
// latest instant int64 nanoseconds hold, instead of wrapping around into
// the past and reading as "already expired".
func unixNano(t time.Time) int64 {
	switch {
	case t.After(maxUnixNano):
		return math.MaxInt64
	case t.Before(minUnixNano):
		return math.MinInt64
	}
	return t.UnixNano()
}

var (
	maxUnixNano = time.Unix(0, math.MaxInt64)
	minUnixNano = time.Unix(0, math.MinInt64)
)

// Token returns a valid token, refreshing as described on the type. It is
// TokenContext with context.Background().
func (c *CachedTokenSource) Token() (*oauth2.Token, error) {
	return c.TokenContext(context.Background())
}

// TokenContext returns a valid token. ctx bounds only how long this caller
// waits when it must wait; the shared refresh runs under its own deadline.
func (c *CachedTokenSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	if e := c.cur.Load(); e != nil {
		now := time.Now().UnixNano()
		if now < e.staleAt {
			return e.tok, nil
		}
		if now < e.validTo {
			if now >= c.quiet.Load() {
				c.refreshAhead()
			}
			return e.tok, nil
		}
	}
	return c.wait(ctx)
}

// refreshAhead starts a background refresh unless one runs or the last one
// failed too recently.
func (c *CachedTokenSource) refreshAhead() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.flight != nil || time.Now().Before(c.retryAt) {
		return
	}
	// The caller saw a stale token, but a refresh may have replaced it
	// since: then there is nothing to do.
	if e := c.cur.Load(); e != nil && time.Now().UnixNano() < e.staleAt {
		return
	}
	c.startLocked()
}

// wait joins or starts a refresh and waits for it or for ctx.
func (c *CachedTokenSource) wait(ctx context.Context) (*oauth2.Token, error) {
	c.mu.Lock()
	// Another caller may have stored a token since our check.
	if e := c.cur.Load(); e != nil && time.Now().UnixNano() < e.validTo {
		c.mu.Unlock()
		return e.tok, nil
	}
	f := c.flight
	if f == nil && ctx.Done() == nil {
		// This caller cannot stop waiting, so it runs the refresh itself:
		// no goroutine to start, grow a stack for and hand over to.
		// Others join the flight as usual.
		f = c.newFlightLocked()
		c.mu.Unlock()
		c.run(f)
		return f.tok, f.err
	}
	if f == nil {
		f = c.startLocked()
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return nil, &Error{Op: "token", Err: ctx.Err()}
	}
}

// startLocked starts a refresh in a new goroutine.
func (c *CachedTokenSource) startLocked() *flight {
	f := c.newFlightLocked()
	go c.run(f)
	return f
}

// newFlightLocked registers a refresh, for the caller to run.
func (c *CachedTokenSource) newFlightLocked() *flight {
	f := &flight{done: make(chan struct{})}
	c.flight = f
	c.quiet.Store(math.MaxInt64)
	return f
}

// run performs one refresh and publishes its outcome.
func (c *CachedTokenSource) run(f *flight) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	start := time.Now()
	tok, err := c.fetch(ctx)
	now := time.Now()
	var e *cacheEntry
	if err == nil {
		if tok == nil || tok.AccessToken == "" {
			err = &Error{Op: "token", Err: errors.New("source returned no token")}
		} else if e = c.entry(tok, now); e.validTo <= now.UnixNano() {
			err = &Error{Op: "token", Err: errors.New("source returned a token that is already expired")}
		}
	}
	c.mu.Lock()
	if err == nil {
		if old := c.cur.Load(); old != nil && old.tok.AccessToken == tok.AccessToken && !tok.Expiry.IsZero() {
			// The source handed back the token already cached: it has
			// nothing newer yet (a layer whose own source refreshes in
			// the background, say). Ask again soon, backing off, instead
			// of at the stale share of what is left, which can fall in
			// the last minutes of the token's life.
			back := c.opts.MinBackoff << min(c.same, 20)
			if back <= 0 || back > c.opts.MaxBackoff {
				back = c.opts.MaxBackoff
			}
			c.same++
			if at := now.Add(back).UnixNano(); at < e.staleAt {
				e.staleAt = at
			}
		} else {
			c.same = 0
		}
		c.cur.Store(e)
		c.failures, c.retryAt, c.lastErr = 0, time.Time{}, nil
		c.quiet.Store(0)
	} else {
		tok = nil
		c.failures++
		back := c.opts.MinBackoff << min(c.failures-1, 20)
		if back <= 0 || back > c.opts.MaxBackoff {
			back = c.opts.MaxBackoff
		}
		c.retryAt = now.Add(back)
		c.quiet.Store(c.retryAt.UnixNano())
		c.lastErr = err
	}
	c.flight = nil
	f.tok, f.err = tok, err
	c.mu.Unlock()
	// Log before waking the waiters, so that a caller holding the outcome
	// also finds its log record.
	if l := c.opts.Logger; l != nil {
		if err == nil {
			l.Debug("sts: token refreshed", "elapsed", now.Sub(start), "expiry", tok.Expiry)
		} else {
			l.Warn("sts: token refresh failed", "elapsed", now.Sub(start), "error", err.Error())
		}
	}
	close(f.done)
}

func (c *CachedTokenSource) fetch(ctx context.Context) (tok *oauth2.Token, err error) {
	defer func() {
		if r := recover(); r != nil {
			tok, err = nil, &Error{Op: "token", Err: errors.New("token source panicked")}
		}
	}()
	if c.csrc != nil {
		return c.csrc.TokenContext(ctx)
	}
	return tokenFromSource(ctx, c.src, "token")
}

// tokenFromSource calls src.Token, for a source that takes no context. Such
// a call cannot be told to stop, so when ctx can end it runs on its own
// goroutine and ctx still bounds the wait: a hung source then costs one
// parked goroutine instead of blocking its callers (and every later
// refresh) forever.
func tokenFromSource(ctx context.Context, src oauth2.TokenSource, op string) (*oauth2.Token, error) {
	if ctx.Done() == nil {
		return src.Token()
	}
	type result struct {
		tok *oauth2.Token
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- result{err: &Error{Op: op, Err: errors.New("token source panicked")}}
			}
		}()
		tok, err := src.Token()
		done <- result{tok, err}
	}()
	select {
	case r := <-done:
		return r.tok, r.err
	case <-ctx.Done():
		return nil, &Error{Op: op, Err: httpx.Transient(fmt.Errorf("token source did not answer: %w", ctx.Err()))}
	}
}

// Invalidate drops tok from the cache if it is the token being served, so
// the next call fetches a new one; call it after a server rejected tok (HTTP
// 401). A nil tok drops whatever is cached. Calls naming an older token do
// nothing, so many callers reporting the same rejection cause one refresh.
func (c *CachedTokenSource) Invalidate(tok *oauth2.Token) {
	for {
		e := c.cur.Load()
		if e == nil || (tok != nil && e.tok != tok) {
			return
		}
		if c.cur.CompareAndSwap(e, nil) {
			c.mu.Lock()
			c.retryAt = time.Time{}
			if c.flight == nil {
				c.quiet.Store(0)
			}
			c.mu.Unlock()
			return
		}
	}
}

// LastError returns the error of the most recent refresh if it failed, or
// nil. Background refresh failures are otherwise invisible while a valid
// token is served.
func (c *CachedTokenSource) LastError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// String describes the cache without its token.
func (c *CachedTokenSource) String() string { return "sts.CachedTokenSource" }

// GoString is String, so %#v redacts too.
func (c *CachedTokenSource) GoString() string { return c.String() }
