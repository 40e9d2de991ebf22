package downscope

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/exchange"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/logenv"
	"github.com/stsgo/sts/internal/public"
	"github.com/stsgo/sts/internal/refresh"
	"github.com/stsgo/sts/internal/secret"
	"github.com/stsgo/sts/internal/source"
)

// Config configures the downscoping of a root credential's tokens, on the
// server (NewTokenSource: STS applies one boundary per source) or on the
// client (NewMinter: tokens for any number of compiled boundaries are minted
// locally from one intermediary token). Source is required; every other
// field has a documented default. A Config is not used after the
// constructor returns.
type Config struct {
	// Source supplies the root access tokens to downscope: any
	// oauth2.TokenSource, ideally a cached one (an sts.CachedTokenSource,
	// or oauth2.ReuseTokenSource), since each exchange asks it for a
	// token. If it implements sts.ContextTokenSource, the exchange's
	// context is passed on. Required.
	Source oauth2.TokenSource `json:"-"`
	// Boundary is the Credential Access Boundary of NewTokenSource, which
	// requires it, validates it (its conditions must parse as CEL) and
	// copies it. NewMinter takes no boundary (each token is minted for a
	// boundary compiled with Compile): it must be nil there.
	Boundary *sts.AccessBoundary
	// TokenURL is the STS token endpoint. Empty means
	// "https://sts.<UniverseDomain>/v1/token". It must be https unless its
	// host is a loopback address.
	TokenURL string
	// UniverseDomain is the Google Cloud universe. Empty means
	// "googleapis.com".
	UniverseDomain string
	// HTTPOptions holds the HTTP client, time-out, retry policy and
	// logger; the zero value is ready to use.
	sts.HTTPOptions
	// Cache tunes the refresh-ahead of the downscoped tokens
	// (NewTokenSource) or of the intermediary tokens (NewMinter), as for
	// any sts.CachedTokenSource. Its Logger, if nil, is HTTPOptions.Logger.
	// The zero value is ready to use.
	Cache sts.CacheOptions

	// RefreshWindow and BlockingWindow are the intermediary token's
	// windows; only NewMinter uses them (see there), and NewTokenSource
	// refuses them. Zero means DefaultRefreshWindow and
	// DefaultBlockingWindow.
	RefreshWindow, BlockingWindow time.Duration
}

// String describes c without secrets.
func (c Config) String() string {
	rules := 0
	if c.Boundary != nil {
		rules = len(c.Boundary.Rules)
	}
	return fmt.Sprintf("downscope.Config{TokenURL:%q Rules:%d RefreshWindow:%v BlockingWindow:%v}", c.TokenURL, rules, c.RefreshWindow, c.BlockingWindow)
}

// Format prints String whatever the verb: no verb shows a secret.
func (c Config) Format(f fmt.State, verb rune) { secret.Format(f, verb, c.String()) }

// configField starts the names of Config fields in errors; a constant, so
// that the names of the checks that pass cost nothing.
const configField = "downscope.Config."

// field names a Config field in errors.
func field(name string) string { return configField + name }

// exchanger checks the fields both kinds of downscoping use and returns
// the exchange engine requesting the requested token type, with options
// (nil for none).
func (c *Config) exchanger(requested string, options []byte) (*exchange.Exchanger, error) {
	if c.Source == nil {
		return nil, public.Invalid(check.Errorf(configField+"Source", "must not be nil"))
	}
	tokenURL := c.TokenURL
	if tokenURL != "" {
		if err := check.Endpoint(configField+"TokenURL", tokenURL); err != nil {
			return nil, public.Invalid(err)
		}
	}
	if err := check.Universe(configField+"UniverseDomain", c.UniverseDomain); err != nil {
		return nil, public.Invalid(err)
	}
	if tokenURL == "" {
		universe := c.UniverseDomain
		if universe == "" {
			universe = sts.DefaultUniverseDomain
		}
		tokenURL = "https://sts." + universe + "/v1/token"
	}
	if err := check.NonNegative(configField+"Timeout", c.Timeout); err != nil {
		return nil, public.Invalid(err)
	}
	if err := check.Retry(configField+"Retry", c.Retry.MaxAttempts, c.Retry.InitialBackoff, c.Retry.MaxBackoff); err != nil {
		return nil, public.Invalid(err)
	}
	if name, reason, ok := refresh.Options(c.Cache).Check(); !ok {
		return nil, &sts.ValidationError{Field: field("Cache." + name), Reason: reason}
	}
	if err := check.NonNegative(configField+"RefreshWindow", c.RefreshWindow); err != nil {
		return nil, public.Invalid(err)
	}
	if err := check.NonNegative(configField+"BlockingWindow", c.BlockingWindow); err != nil {
		return nil, public.Invalid(err)
	}
	return exchange.New(exchange.Config{
		Subject:            noSubject,
		SubjectTokenType:   exchange.TokenTypeAccessToken,
		RequestedTokenType: requested,
		Options:            options,
		TokenURL:           tokenURL,
		Kind:               "tokensource",
		Bounded:            true, // noSubject
		HTTP: httpx.Options{Client: c.HTTPClient, Timeout: c.Timeout, Retry: httpx.Retry(c.Retry), Logger: c.Logger,
			APIClient: httpx.ExternalAccountAPIClient("tokensource", false, false)},
	}), nil
}

// cacheOptions returns c.Cache with its Logger defaulting to c.Logger.
func (c *Config) cacheOptions() sts.CacheOptions {
	o := c.Cache
	o.Logger = logenv.Or(o.Logger, c.Logger)
	return o
}

// noSubject is the Subject of downscoping exchanges, which never ask it:
// each layer fetches the root token (see rootToken) and exchanges it with
// ExchangeSubject, so that it knows which root token it exchanged.
func noSubject(context.Context, string, string) (string, time.Time, error) {
	return "", time.Time{}, &sts.Error{Op: "subject", Err: errors.New("no root token")}
}

// exchangeRoot exchanges root with x, returning public errors. The
// exchanged token's expiry is the root's, since STS gives no expires_in for
// an access token subject.
func exchangeRoot(ctx context.Context, x *exchange.Exchanger, root *oauth2.Token) (exchange.Result, error) {
	if root == nil || root.AccessToken == "" {
		return exchange.Result{}, &sts.Error{Op: "subject", Err: errors.New("no root token")}
	}
	r, err := x.ExchangeSubject(ctx, root.AccessToken, root.Expiry)
	return r, public.Err(err)
}

// rootToken fetches a valid token from a root source (with ctx passed on
// if it takes one). Failures are *sts.Error with Op "subject".
func rootToken(ctx context.Context, src oauth2.TokenSource) (*oauth2.Token, error) {
	tok, err := source.Fetch(ctx, src, "subject", "root token source", public.Is)
	if err != nil {
		return nil, public.Err(err)
	}
	if !tok.Expiry.IsZero() && !tok.Expiry.After(time.Now()) {
		return nil, &sts.Error{Op: "subject", Err: errors.New("root token source returned an expired token")}
	}
	return tok, nil
}

// NewTokenSource returns a source of server-side downscoped tokens: each
// refresh exchanges a root token at STS for one limited by cfg.Boundary
// (subject_token_type access_token, options {"accessBoundary":…}, no
// audience, no scope). Unlike the downscoping of golang.org/x/oauth2 and
// cloud.google.com/go/auth, tokens are cached and refreshed ahead of expiry
// (cfg.Cache), so a boundary costs one STS request per token lifetime, not
// one per call.
//
// STS gives no lifetime for these exchanges: a downscoped token expires with
// the root token it came from. So a refresh first asks cfg.Source for its
// current token and exchanges only if that token changed (a stale root
// source then starts its own refresh); while the root token is the same,
// the current downscoped token is kept, since a new one could not live
// longer. The cost is one exchange per boundary per root token. Invalidate
// on the returned source makes the next call exchange again, even for the
// same root token.
//
// The boundary is validated here, its conditions parsed as CEL (errors
// name "AccessBoundary.Rules[i]…", as AccessBoundary.Validate does); later
// changes to it do not affect the source. Other failed checks are
// *sts.ValidationError naming the field ("downscope.Config.TokenURL").
func NewTokenSource(cfg Config) (*sts.CachedTokenSource, error) {
	if cfg.Boundary == nil {
		return nil, &sts.ValidationError{Field: configField + "Boundary", Reason: "must not be nil"}
	}
	if _, err := checkBoundary(cfg.Boundary); err != nil {
		return nil, err
	}
	if cfg.RefreshWindow != 0 || cfg.BlockingWindow != 0 {
		name := "RefreshWindow"
		if cfg.RefreshWindow == 0 {
			name = "BlockingWindow"
		}
		return nil, &sts.ValidationError{Field: field(name), Reason: "is a window of NewMinter's intermediary token: leave it zero for NewTokenSource"}
	}
	raw, err := cfg.Boundary.MarshalJSON() // encoding/json's bytes, made without reflection
	if err != nil {
		return nil, &sts.ValidationError{Field: configField + "Boundary", Reason: "cannot be encoded: " + err.Error()}
	}
	opts, cerr := exchange.BoundaryOptions(configField+"Boundary", raw)
	if cerr != nil {
		return nil, public.Invalid(cerr)
	}
	x, err := cfg.exchanger(exchange.TokenTypeAccessToken, opts)
	if err != nil {
		return nil, err
	}
	d := &downscoper{root: cfg.Source, x: x, margin: max(cfg.Cache.ExpiryMargin, refresh.DefaultExpiryMargin)}
	return sts.NewCachedTokenSource(d, cfg.cacheOptions())
}

// downscoper exchanges root tokens for downscoped ones, skipping the
// exchange while the root token has not changed. The cache around it
// passes Invalidate on.
type downscoper struct {
	root   oauth2.TokenSource
	x      *exchange.Exchanger
	margin time.Duration

	mu       sync.Mutex
	lastRoot string
	last     *oauth2.Token
}

// Token is TokenContext with context.Background().
func (d *downscoper) Token() (*oauth2.Token, error) { return d.TokenContext(context.Background()) }

// ReturnsByDeadline reports whether TokenContext returns by its context's
// deadline: the exchange does, and so does asking the root source unless it
// is someone's ContextTokenSource (see source.Bounded).
func (d *downscoper) ReturnsByDeadline(source.Mark) bool {
	return d.x.Bounded() && source.Bounded(d.root)
}

// TokenContext returns the last downscoped token if the root token is
// unchanged and it is still valid, else exchanges the current root token.
func (d *downscoper) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	root, err := rootToken(ctx, d.root)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	last, lastRoot := d.last, d.lastRoot
	d.mu.Unlock()
	if last != nil && lastRoot == root.AccessToken &&
		(last.Expiry.IsZero() || time.Until(last.Expiry) > d.margin) {
		return last, nil
	}
	r, err := exchangeRoot(ctx, d.x, root)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.last, d.lastRoot = r.Token, root.AccessToken
	d.mu.Unlock()
	return r.Token, nil
}

// Invalidate drops the remembered token if it is tok (or tok is nil), so
// that the next call exchanges again.
func (d *downscoper) Invalidate(tok *oauth2.Token) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if tok == nil || d.last == tok {
		d.last, d.lastRoot = nil, ""
	}
}

// String describes d without its tokens.
func (d *downscoper) String() string {
	return fmt.Sprintf("downscope.serverSide{TokenURL:%q}", d.x.TokenURL())
}
