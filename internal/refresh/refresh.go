// Package refresh is the refresh-ahead core shared by the module's caches:
// sts.CachedTokenSource (and every layer built on it) and downscope's Minter.
//
// A Cache holds one value with an expiry. Serving a fresh value costs one
// atomic load and one clock read. Past the value's refresh point one
// background refresh starts and the value keeps being served; past its
// blocking point (by default its end of validity) callers wait for a refresh
// shared by all of them, and a caller whose context ends stops waiting
// without cancelling it. Every refresh ends at its deadline whether or not
// the fetch honours its context. Failed refreshes back off; while no valid
// value exists, a permanent failure is remembered for the backoff, so that
// callers in a loop cause a bounded number of fetches.
package refresh

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

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/internal/deadline"
	"github.com/stsgo/sts/internal/errs"
	"github.com/stsgo/sts/internal/errtree"
	"github.com/stsgo/sts/internal/logenv"
)

// Defaults of Options.
const (
	DefaultStaleFraction  = 0.75
	DefaultJitter         = 0.1
	DefaultExpiryMargin   = 10 * time.Second
	DefaultRefreshTimeout = 2 * time.Minute
	DefaultMinBackoff     = time.Second
	DefaultMaxBackoff     = time.Minute
)

// Options has the fields of sts.CacheOptions, in the same order and with
// the same types, so that the public type converts to it; see there for
// their meaning. InitialToken is applied by the caller (see Cache.Set).
type Options struct {
	StaleFraction          float64
	Jitter                 float64
	ExpiryMargin           time.Duration
	RefreshTimeout         time.Duration
	MinBackoff, MaxBackoff time.Duration
	InitialToken           *oauth2.Token
	Logger                 logenv.Logger
}

// Check reports the first field of o that is out of range, by its name in
// Options, and why; ok is true when there is none.
func (o Options) Check() (field, reason string, ok bool) {
	switch {
	case o.StaleFraction < 0 || o.StaleFraction > 1 || math.IsNaN(o.StaleFraction):
		return "StaleFraction", fmt.Sprintf("must lie in (0, 1], got %v", o.StaleFraction), false
	case math.IsNaN(o.Jitter) || o.Jitter >= 1:
		return "Jitter", fmt.Sprintf("must be below 1, got %v", o.Jitter), false
	case o.RefreshTimeout < 0:
		return "RefreshTimeout", "must not be negative", false
	case o.MinBackoff < 0:
		return "MinBackoff", "must not be negative", false
	case o.MaxBackoff < 0:
		return "MaxBackoff", "must not be negative", false
	}
	if o = o.resolved(); o.Jitter > 0 && o.Jitter >= o.StaleFraction {
		return "Jitter", fmt.Sprintf("must be below StaleFraction (%v), got %v", o.StaleFraction, o.Jitter), false
	}
	return "", "", true
}

// resolved returns o with its defaults applied: zero means the default, a
// negative Jitter or ExpiryMargin means none.
func (o Options) resolved() Options {
	if o.StaleFraction == 0 {
		o.StaleFraction = DefaultStaleFraction
	}
	switch {
	case o.Jitter == 0:
		o.Jitter = DefaultJitter
	case o.Jitter < 0:
		o.Jitter = 0
	}
	switch {
	case o.ExpiryMargin == 0:
		o.ExpiryMargin = DefaultExpiryMargin
	case o.ExpiryMargin < 0:
		o.ExpiryMargin = 0
	}
	if o.RefreshTimeout == 0 {
		o.RefreshTimeout = DefaultRefreshTimeout
	}
	if o.MinBackoff == 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	return o
}

// Margin is the ExpiryMargin o resolves to.
func (o Options) Margin() time.Duration { return o.resolved().ExpiryMargin }

// Source fetches the values of a Cache.
type Source[T any] interface {
	// Fetch obtains a new value and its expiry (zero: it never expires).
	// It runs on its own goroutine with a context that ends at the
	// refresh deadline; if it has not returned by then, the refresh fails
	// anyway and its late result is dropped.
	Fetch(ctx context.Context) (T, time.Time, error)
}

// FetchFunc is a Source that is a function.
type FetchFunc[T any] func(ctx context.Context) (T, time.Time, error)

// Fetch calls f.
func (f FetchFunc[T]) Fetch(ctx context.Context) (T, time.Time, error) { return f(ctx) }

// Kind describes the values and errors of a family of caches; it is shared
// by all of them (a package-level variable), so that a Cache stays small.
// Every field may be left zero.
type Kind[T any] struct {
	// Same reports whether a fetched value is the one already held (the
	// source had nothing newer). Then it keeps its end of validity, and
	// the next refresh comes after a backoff instead of at its refresh
	// point.
	Same func(old, fetched T) bool
	// Wrap turns an error the Cache makes itself (a waiting caller's
	// context error, a refresh past its deadline, a panicking fetch, an
	// expired value) into the user's error type. Nil returns them as they
	// are.
	Wrap func(error) error
	// Refreshed and Failed are the messages logged after a refresh.
	Refreshed, Failed string
	// Recall, if set, returns the error served for a remembered failure
	// (r); nil returns r itself.
	Recall func(r *Recalled) error

	mu     sync.Mutex
	shared map[values]*settings[T] // see settings.shared
}

// Config describes one Cache. Source is required; a nil Kind is an empty
// one.
type Config[T any] struct {
	// Not comparable, so that no equality function is linked for it.
	_ [0]func()
	Options
	Source Source[T]
	Kind   *Kind[T]
	// RefreshWindow, if positive, moves the refresh point to that long
	// before expiry when that is earlier than the StaleFraction point,
	// capped at 3/4 of the lifetime so that a value is used at all.
	RefreshWindow time.Duration
	// BlockingWindow, if positive: that long before expiry (capped at half
	// the lifetime), callers wait for a refresh; if it fails they get the
	// still-valid value. Zero means callers wait only once the value is no
	// longer valid.
	BlockingWindow time.Duration
	// Inline says that Source's fetches end by their context's deadline
	// (they need no goroutine of their own to be abandoned at the refresh
	// deadline): waiting callers then return when the fetch does, not at
	// the deadline itself. And a caller that must wait for a refresh, and
	// whose context cannot end (its Done is nil, as context.Background's is),
	// runs the fetch itself instead of waiting for a new goroutine to run
	// it: it would wait for the outcome anyway, and a fresh goroutine grows
	// its stack by copying as the fetch goes deeper, which costs more than
	// the rest of a token exchange. Other callers join it as they join any
	// refresh.
	Inline bool
}

// Cache is a refresh-ahead cache of one value. Create it with New, or
// Init a zero Cache in place; it is safe for concurrent use and holds no
// goroutine while idle. It must not be copied once initialized.
type Cache[T any] struct {
	// Not comparable, so that no equality function is linked for it.
	_   [0]func()
	cur atomic.Pointer[entry[T]]
	// quiet holds the Unix nanoseconds before which no background refresh
	// may start (one runs, or the last one failed); it lets callers with a
	// stale value skip the mutex.
	quiet atomic.Int64

	src Source[T]
	*settings[T]

	mu       sync.Mutex
	flight   *flight[T] // the refresh in progress, or nil
	retryAt  int64      // no refresh before this (Unix ns), but for a caller that must have one
	lastErr  error      // error of the last failed refresh
	failures int32      // consecutive failed refreshes
	same     int32      // consecutive refreshes that returned the held value
	perm     bool       // lastErr is permanent: remembered while no valid value exists
}

// entry is a value with its deadlines in Unix nanoseconds (wall clock).
type entry[T any] struct {
	v         T
	expiry    int64 // 0: none
	refreshAt int64 // from here one background refresh starts
	blockAt   int64 // from here callers wait for a refresh
	validTo   int64 // from here the value is never served
}

type flight[T any] struct {
	ctx   deadline.Context // the fetch's, ending at the refresh deadline
	start time.Time
	done  chan struct{}
	v     T
	err   error
	over  bool // published; a late outcome is dropped
}

// New returns a Cache configured by cfg; see Init.
func New[T any](cfg Config[T]) *Cache[T] {
	c := new(Cache[T])
	c.Init(cfg)
	return c
}

// Init configures a zero Cache. cfg.Options must pass Check.
func (c *Cache[T]) Init(cfg Config[T]) {
	o := cfg.Options.resolved()
	s := settings[T]{kind: cfg.Kind, logger: o.Logger, values: values{
		stale: o.StaleFraction, jitter: o.Jitter,
		margin: o.ExpiryMargin, timeout: o.RefreshTimeout, minBackoff: o.MinBackoff, maxBackoff: o.MaxBackoff,
		refreshWindow: cfg.RefreshWindow, blockingWindow: cfg.BlockingWindow, inline: cfg.Inline}}
	if s.kind == nil {
		s.kind = new(Kind[T])
	}
	c.src, c.settings = cfg.Source, s.shared()
}

// settings are a Cache's resolved options, windows and kind. Caches of a
// Kind configured alike share them (see shared): an idle cache is then its
// value, its state and a pointer.
type settings[T any] struct {
	// Not comparable, so that no equality function is linked for it.
	_      [0]func()
	kind   *Kind[T]
	logger logenv.Logger
	values
}

// values are the settings besides the kind and the logger: comparable, the
// key under which a Kind keeps the settings its caches share.
type values struct {
	stale, jitter                           float64
	margin, timeout, minBackoff, maxBackoff time.Duration
	refreshWindow, blockingWindow           time.Duration
	inline                                  bool
}

// shared returns the settings equal to s that earlier caches of its Kind
// use, or a new copy. Settings with a logger (which may not be comparable)
// are not shared, nor more than maxShared kinds of settings per Kind (a
// program that varies its options endlessly gets a copy per cache, as it
// would without sharing).
func (s settings[T]) shared() *settings[T] {
	k := s.kind
	if s.logger != nil {
		return &s
	}
	// No deferred unlock (here and in refreshAhead): nothing in the
	// critical section panics, and a defer costs a function of its own.
	k.mu.Lock()
	p, ok := k.shared[s.values]
	if !ok {
		p = &s
		if len(k.shared) < maxShared {
			if k.shared == nil {
				k.shared = make(map[values]*settings[T])
			}
			k.shared[s.values] = p
		}
	}
	k.mu.Unlock()
	return p
}

// maxShared bounds the kinds of settings a Kind shares.
const maxShared = 64

// Get returns a value fit to be served now, refreshing as described in the
// package documentation. ctx bounds only how long this caller waits.
func (c *Cache[T]) Get(ctx context.Context) (T, error) {
	if e := c.cur.Load(); e != nil {
		now := time.Now().UnixNano()
		if now < e.refreshAt {
			return e.v, nil
		}
		if now < e.blockAt {
			if now >= c.quiet.Load() {
				c.refreshAhead()
			}
			return e.v, nil
		}
	}
	return c.wait(ctx)
}

// Current returns the value held if it is still valid, without refreshing.
func (c *Cache[T]) Current() (T, bool) {
	if e := c.cur.Load(); e != nil && time.Now().UnixNano() < e.validTo {
		return e.v, true
	}
	var zero T
	return zero, false
}

// Set holds v, expiring at expiry, if it is valid now.
func (c *Cache[T]) Set(v T, expiry time.Time) {
	now := time.Now()
	if e := c.entry(v, expiry, now); now.UnixNano() < e.validTo {
		c.cur.Store(e)
	}
}

// Invalidate drops the value held if drop (nil: any) reports true for it,
// so that the next caller fetches a new one, ahead of any backoff.
func (c *Cache[T]) Invalidate(drop func(T) bool) {
	e := c.cur.Load()
	if e == nil || (drop != nil && !drop(e.v)) || !c.cur.CompareAndSwap(e, nil) {
		return
	}
	c.mu.Lock()
	c.retryAt = 0
	if c.flight == nil {
		c.quiet.Store(0)
	}
	c.mu.Unlock()
}

// LastError returns the error of the most recent refresh if it failed, or
// nil.
func (c *Cache[T]) LastError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// entry computes the deadlines of v, obtained at now.
func (c *Cache[T]) entry(v T, expiry, now time.Time) *entry[T] {
	e := &entry[T]{v: v, refreshAt: math.MaxInt64, blockAt: math.MaxInt64, validTo: math.MaxInt64}
	if expiry.IsZero() {
		return e
	}
	e.expiry = unixNano(expiry)
	life := expiry.Sub(now)
	// A value living less than ten margins (short-lived test tokens, a
	// lifetime cut by a root token's) keeps a tenth of its life.
	e.validTo = unixNano(expiry.Add(-min(c.margin, life/10)))
	e.blockAt = e.validTo
	if c.blockingWindow > 0 {
		e.blockAt = min(e.blockAt, unixNano(expiry.Add(-min(c.blockingWindow, life/2))))
	}
	if c.stale < 1 {
		share := c.stale
		if c.jitter > 0 {
			share -= rand.Float64() * c.jitter
		}
		e.refreshAt = unixNano(now.Add(time.Duration(float64(life) * share)))
	}
	if c.refreshWindow > 0 {
		e.refreshAt = min(e.refreshAt, unixNano(expiry.Add(-min(c.refreshWindow, life/4*3)))) // life*3 could overflow
	}
	e.refreshAt = min(e.refreshAt, e.blockAt)
	return e
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

// backoff is the wait after n consecutive failed (or unchanged) refreshes:
// doubling from MinBackoff, capped at MaxBackoff.
func (c *Cache[T]) backoff(n int32) time.Duration {
	b := c.minBackoff << min(n, 20)
	if b <= 0 || b > c.maxBackoff {
		b = c.maxBackoff
	}
	return b
}

// refreshAhead starts a background refresh unless one runs or the last one
// failed too recently. A refresh past its deadline is ended first.
func (c *Cache[T]) refreshAhead() {
	c.mu.Lock()
	if f := c.flight; f != nil {
		c.mu.Unlock()
		if f.ctx.Err() != nil { // the deadline has passed: no timer tells
			c.expire(f)
		}
		return
	}
	// Not after a backoff's start, nor when the value the caller saw as
	// stale has been replaced since.
	if e := c.cur.Load(); time.Now().UnixNano() >= c.retryAt && (e == nil || time.Now().UnixNano() >= e.refreshAt) {
		c.startLocked()
	}
	c.mu.Unlock()
}

// wait joins or starts a refresh and waits for it, its deadline or ctx. A
// still-valid value (in a blocking window) is served when the refresh fails,
// when ctx ends, or while failed refreshes back off.
func (c *Cache[T]) wait(ctx context.Context) (T, error) {
	var zero T
	c.mu.Lock()
	e := c.cur.Load()
	now := time.Now().UnixNano()
	if e != nil && now < e.blockAt {
		c.mu.Unlock()
		return e.v, nil // another caller stored a new value meanwhile
	}
	f := c.flight
	if f == nil && now < c.retryAt {
		if e != nil && now < e.validTo {
			c.mu.Unlock()
			return e.v, nil
		}
		if c.perm {
			r := &Recalled{Err: c.lastErr, Wait: time.Duration(c.retryAt - now)}
			c.mu.Unlock()
			if c.kind.Recall != nil {
				return zero, c.kind.Recall(r)
			}
			return zero, r
		}
	}
	inline := false
	if f == nil {
		if inline = c.inline && ctx.Done() == nil; inline {
			f = c.flightLocked()
		} else {
			f = c.startLocked()
		}
	}
	c.mu.Unlock()
	if inline {
		c.run(f) // see Config.Inline; f is over when it returns
	} else {
		select {
		case <-f.done:
		case <-f.ctx.Done():
			// The refresh's deadline, or its end racing with f.done: a
			// fetch that ignores its context must not hold the callers
			// up. One that ends by its deadline (Inline) is waited for,
			// as a caller running it would: what it cleans up as its
			// context ends (a command it runs) is done when callers
			// return.
			select {
			case <-f.done:
			default:
				if !c.inline {
					c.expire(f)
				}
				<-f.done
			}
		case <-ctx.Done():
			if v, ok := c.Current(); ok {
				return v, nil
			}
			return zero, c.wrap(ctx.Err())
		}
	}
	if f.err == nil {
		return f.v, nil
	}
	if v, ok := c.Current(); ok {
		return v, nil
	}
	return zero, f.err
}

func (c *Cache[T]) wrap(err error) error {
	if c.kind.Wrap != nil {
		return c.kind.Wrap(err)
	}
	return err
}

// startLocked registers a refresh and starts it on its own goroutine.
func (c *Cache[T]) startLocked() *flight[T] {
	f := c.flightLocked()
	go c.run(f)
	return f
}

// flightLocked registers a refresh for the caller to run (see run). Until
// its deadline, no background refresh starts (quiet).
func (c *Cache[T]) flightLocked() *flight[T] {
	f := &flight[T]{done: make(chan struct{}), start: time.Now()}
	f.ctx.Init(nil, f.start.Add(c.timeout))
	c.flight = f
	c.quiet.Store(f.start.Add(c.timeout).UnixNano())
	return f
}

// errPanicked is the cause of the error of a fetch that panicked.
var errPanicked = errors.New("the source panicked")

// run performs refresh f and publishes its outcome, unless its deadline was
// published first (by a caller that saw it pass, see expire).
func (c *Cache[T]) run(f *flight[T]) {
	v, exp, err, perm := c.fetch(&f.ctx)
	c.publish(f, v, exp, err, perm)
	f.ctx.Cancel()
}

// expire ends refresh f with a deadline error if it has not ended: a
// refresh is over at its deadline whether or not its fetch honours the
// context. The deadline is enforced by whoever next looks at the refresh
// (a waiting caller, a caller of a stale value), so it costs no timer of
// its own.
func (c *Cache[T]) expire(f *flight[T]) {
	var zero T
	err := errs.Errorf("refresh did not finish within %v: %w", c.timeout, context.DeadlineExceeded)
	c.publish(f, zero, time.Time{}, c.wrap(err), false)
}

// fetch calls Fetch, turning a panic into an error. perm reports whether a
// failure is permanent.
func (c *Cache[T]) fetch(ctx context.Context) (v T, exp time.Time, err error, perm bool) {
	defer func() {
		if r := recover(); r != nil {
			var zero T
			v, exp, err, perm = zero, time.Time{}, c.wrap(errPanicked), true
		}
	}()
	v, exp, err = c.src.Fetch(ctx)
	return v, exp, err, err != nil && Permanent(err)
}

// Permanent reports whether err says it is not temporary: it, or an error
// it wraps, has a Temporary method that returns false (as *sts.Error has
// for a refused request). A timeout never is.
func Permanent(err error) bool {
	// errors.As(err, &t), walked (see errtree).
	var t interface{ Temporary() bool }
	found := errtree.Walk(err, func(e error) bool {
		switch e := e.(type) {
		case interface{ Temporary() bool }:
			t = e
			return true
		case interface{ As(any) bool }:
			return e.As(&t)
		}
		return false
	})
	return found && !t.Temporary() && !errors.Is(err, context.DeadlineExceeded)
}

// publish records the outcome of refresh f, once, and wakes its waiters.
func (c *Cache[T]) publish(f *flight[T], v T, exp time.Time, err error, perm bool) {
	now := time.Now()
	c.mu.Lock()
	if f.over {
		c.mu.Unlock()
		return
	}
	f.over = true
	var e *entry[T]
	if err == nil {
		e = c.entry(v, exp, now)
		if old := c.cur.Load(); old != nil && !exp.IsZero() && old.expiry != 0 && c.kind.Same != nil && c.kind.Same(old.v, v) {
			// The source handed back the value already held: it has
			// nothing newer yet (a layer whose own source refreshes in the
			// background, say). It keeps the margin it had (recomputed
			// from what is left, the margin would shrink with it), and the
			// next refresh comes soon, backing off, instead of at the
			// refresh point of what is left, which can fall in the last
			// minutes of its life.
			e.validTo = unixNano(exp.Add(-time.Duration(old.expiry - old.validTo)))
			e.blockAt = min(e.blockAt, e.validTo)
			e.refreshAt = min(e.refreshAt, e.blockAt, now.Add(c.backoff(c.same)).UnixNano())
			c.same++
		} else {
			c.same = 0
		}
		if e.validTo <= now.UnixNano() {
			err, perm = c.wrap(errs.New("the source returned an expired token")), true
		}
	}
	if err == nil {
		c.cur.Store(e)
		c.failures, c.retryAt, c.lastErr, c.perm = 0, 0, nil, false
		c.quiet.Store(0)
	} else {
		c.failures++
		c.retryAt = now.Add(c.backoff(c.failures - 1)).UnixNano()
		c.quiet.Store(c.retryAt)
		c.lastErr, c.perm = err, perm
	}
	c.flight = nil
	if err != nil {
		var zero T
		v = zero
	}
	f.v, f.err = v, err
	c.mu.Unlock()
	// Log before waking the waiters, so that a caller holding the outcome
	// also finds its log record.
	if l := c.logger; l != nil {
		// One call for both records (each call site costs a kilobyte of
		// binary).
		level, msg, args := slog.LevelDebug, c.kind.Refreshed, []any{"elapsed", now.Sub(f.start), "expiry", exp}
		if err != nil {
			level, msg, args[2], args[3] = slog.LevelWarn, c.kind.Failed, "error", err.Error()
		}
		l.Log(context.Background(), level, msg, args...)
	}
	close(f.done)
}

// Recalled is a remembered permanent failure, served again without a
// fetch (unless Kind.Recall serves another error for it): its text is the
// failure's, then a note of how long until the next fetch may start, and
// it unwraps to the failure.
type Recalled struct {
	// Not comparable, so that no equality function is linked for it.
	_ [0]func()
	// Err is the failure remembered.
	Err error
	// Wait is how long until the next fetch may start.
	Wait time.Duration
}

// Error implements the error interface.
func (r *Recalled) Error() string { return r.Err.Error() + " " + r.Note() }

// Note is the end of r's text: "(cached failure, retry after 3s)".
func (r *Recalled) Note() string {
	// Whole seconds, or milliseconds below one, rounded up.
	unit := time.Second
	if r.Wait < time.Second {
		unit = time.Millisecond
	}
	wait := (r.Wait + unit - 1).Truncate(unit)
	return "(cached failure, retry after " + wait.String() + ")"
}

// Unwrap returns the failure remembered.
func (r *Recalled) Unwrap() error { return r.Err }
