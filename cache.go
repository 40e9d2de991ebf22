package sts

import (
	"context"
	"fmt"
	"time"

	"github.com/stsgo/sts/internal/errs"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/logenv"
	"github.com/stsgo/sts/internal/refresh"
	"github.com/stsgo/sts/internal/secret"
	"github.com/stsgo/sts/internal/source"
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
// refresh, and a 1 s to 1 min backoff after failed refreshes.
type CacheOptions struct {
	// StaleFraction is the share of a token's lifetime after which one
	// background refresh starts. Zero means 0.75; it must lie in (0, 1].
	StaleFraction float64
	// Jitter moves each stale point earlier by a random share of the
	// lifetime in [0, Jitter), below StaleFraction, so that a fleet does
	// not refresh in step. Zero means 0.1; negative means none.
	Jitter float64
	// ExpiryMargin is how long before its expiry a token stops being
	// served (at most a tenth of its lifetime). Zero means 10 s; negative
	// means none.
	ExpiryMargin time.Duration
	// RefreshTimeout bounds one refresh, retries included, even of a
	// source that ignores its context. Zero means 2 minutes.
	RefreshTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait after failed refreshes,
	// doubling from MinBackoff, reset by a success. Zero means 1 s and
	// 1 min. During the wait no refresh starts; with no valid token and a
	// permanent last error (not Temporary: invalid_grant, 400, 401, 403),
	// callers get that *Error again (a copy, its text ending "(cached
	// failure, retry after …)"), so a loop of callers makes a bounded
	// number of requests.
	MinBackoff, MaxBackoff time.Duration
	// InitialToken, if valid, is served first (as with
	// oauth2.ReuseTokenSource).
	InitialToken *oauth2.Token `json:"-"`
	// Logger receives refresh events (never token values); a *slog.Logger
	// usually. Nil means what GOOGLE_SDK_GO_LOGGING_LEVEL asks for (see
	// LoggingLevelEnv): by default, no logging.
	Logger Logger
}

// Format prints o without InitialToken, whatever the verb.
func (o CacheOptions) Format(f fmt.State, verb rune) {
	secret.Format(f, verb, fmt.Sprintf("sts.CacheOptions{StaleFraction:%v Jitter:%v ExpiryMargin:%v RefreshTimeout:%v MinBackoff:%v MaxBackoff:%v InitialToken:%s}",
		o.StaleFraction, o.Jitter, o.ExpiryMargin, o.RefreshTimeout, o.MinBackoff, o.MaxBackoff, redactedIf(o.InitialToken != nil)))
}

// check validates o, naming its fields as fields of name.
func (o CacheOptions) check(name string) error {
	if field, reason, ok := refresh.Options(o).Check(); !ok {
		return invalid(name+"."+field, "%s", reason)
	}
	return nil
}

// CachedTokenSource caches the tokens of another source and refreshes them
// ahead of expiry, in place of oauth2.ReuseTokenSource: a fresh token costs
// no I/O, allocation or lock; a stale one (CacheOptions.StaleFraction) is
// still served while one background refresh runs; only an invalid one makes
// callers wait, all for one fetch that a caller's ended context does not
// cancel. While refreshes fail, a valid token keeps being served, an expired
// one never; failures back off (CacheOptions.MinBackoff).
//
// Tokens returned are shared and must not be modified. It holds no
// goroutine while idle and is safe for concurrent use. Create it with
// NewCachedTokenSource.
type CachedTokenSource struct {
	r   refresh.Cache[*oauth2.Token]
	src oauth2.TokenSource
}

// NewCachedTokenSource returns a cache around src. src must not be nil. If
// src implements ContextTokenSource, each refresh passes it a context that
// ends at CacheOptions.RefreshTimeout.
func NewCachedTokenSource(src oauth2.TokenSource, opts CacheOptions) (*CachedTokenSource, error) {
	if src == nil {
		return nil, invalid("source", "must not be nil")
	}
	if err := opts.check("CacheOptions"); err != nil {
		return nil, err
	}
	ro := refresh.Options(opts)
	ro.Logger = resolveLogger(opts.Logger)
	c := &CachedTokenSource{src: src}
	c.r.Init(refresh.Config[*oauth2.Token]{Options: ro, Source: (*cacheSource)(c), Kind: &tokenKind, Inline: boundedSource(src)})
	if t := opts.InitialToken; t != nil && t.AccessToken != "" {
		c.r.Set(t, t.Expiry)
	}
	return c, nil
}

// boundedSource reports whether src's fetches return by their context's
// deadline (see refresh.Config.Inline): the module's exchanges over its own
// subject providers, and its caches, do.
func boundedSource(src oauth2.TokenSource) bool { return source.Marked(src) }

// ReturnsByDeadline reports true: a caller of TokenContext stops waiting
// when its context ends. It is how the module's layers tell one another
// (source.Mark cannot be named outside the module).
func (c *CachedTokenSource) ReturnsByDeadline(source.Mark) bool { return true }

// tokenKind describes the values and errors of every CachedTokenSource.
var tokenKind = refresh.Kind[*oauth2.Token]{
	Same:      func(old, t *oauth2.Token) bool { return old.AccessToken == t.AccessToken },
	Wrap:      func(err error) error { return &Error{Op: "token", Err: httpx.Transient(err)} },
	Refreshed: "sts: token refreshed",
	Failed:    "sts: token refresh failed",
	Recall:    recallError,
}

// recallError serves a remembered *Error as an *Error: a copy whose text
// ends with the note saying so (see httpx.Recall). Another failure (a
// source's own error type) comes back as the *refresh.Recalled.
func recallError(r *refresh.Recalled) error {
	if se, ok := r.Err.(*Error); ok {
		return (*Error)(httpx.Recall((*httpx.Error)(se), se, r.Note()))
	}
	return r
}

// cacheSource is a CachedTokenSource seen as the source of its core: one
// refresh asks the wrapped source for a token (with the refresh's context
// if it takes one) and checks there is one.
type cacheSource CachedTokenSource

func (c *cacheSource) Fetch(ctx context.Context) (*oauth2.Token, time.Time, error) {
	var tok *oauth2.Token
	var err error
	if cs, ok := c.src.(ContextTokenSource); ok {
		tok, err = cs.TokenContext(ctx)
	} else {
		tok, err = c.src.Token()
	}
	if err != nil {
		return nil, time.Time{}, publicErr(err)
	}
	if tok == nil || tok.AccessToken == "" {
		return nil, time.Time{}, &Error{Op: "token", Err: errs.New("source returned no token")}
	}
	return tok, tok.Expiry, nil
}

// cacheWith wraps src in a CachedTokenSource configured by opts, logging to
// logger unless opts has a Logger of its own: how each layer's constructor
// applies its configuration's Cache and Logger fields.
func cacheWith(src oauth2.TokenSource, opts CacheOptions, logger Logger) (*CachedTokenSource, error) {
	opts.Logger = logenv.Or(opts.Logger, logger)
	return NewCachedTokenSource(src, opts)
}

// Token returns a valid token, refreshing as described on the type. It is
// TokenContext with context.Background().
func (c *CachedTokenSource) Token() (*oauth2.Token, error) {
	return c.r.Get(context.Background())
}

// TokenContext returns a valid token. ctx bounds only how long this caller
// waits when it must wait; the shared refresh runs under its own deadline.
func (c *CachedTokenSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	return c.r.Get(ctx)
}

// Invalidate drops tok if it is the token being served, so the next call
// fetches a new one; call it after a server rejected tok (HTTP 401). A nil
// tok drops whatever is cached; an older token does nothing, so many callers
// reporting one rejection cause one refresh. tok is passed on to the wrapped
// source's Invalidate(*oauth2.Token) method, if it has one.
func (c *CachedTokenSource) Invalidate(tok *oauth2.Token) {
	c.r.Invalidate(func(t *oauth2.Token) bool { return tok == nil || t == tok })
	source.Invalidate(c.src, tok)
}

// LastError returns the error of the last refresh if it failed, else nil:
// the only sign of failing background refreshes.
func (c *CachedTokenSource) LastError() error { return c.r.LastError() }

// String describes the cache without its token.
func (c *CachedTokenSource) String() string { return "sts.CachedTokenSource" }

// Format prints String whatever the verb: no verb shows a secret.
func (c *CachedTokenSource) Format(f fmt.State, verb rune) { secret.Format(f, verb, c.String()) }
