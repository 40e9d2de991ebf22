package sts

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"

	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/httpx"
	"golang.org/x/oauth2"
)

// AuthorizedUserConfig configures the refresh of a workforce identity
// federation user's token (a credential file of type
// external_account_authorized_user, as "gcloud auth application-default
// login --login-config" writes): a refresh_token grant at STS's
// /v1/oauthtoken endpoint, authenticated with the OAuth client's ID and
// secret (HTTP Basic). RefreshToken, ClientID and ClientSecret are required;
// every other field has a documented default.
type AuthorizedUserConfig struct {
	// RefreshToken is the user's refresh token. Required.
	RefreshToken string
	// ClientID and ClientSecret authenticate the OAuth client. Required.
	ClientID, ClientSecret string
	// TokenURL is the refresh endpoint. Empty means
	// "https://sts.<UniverseDomain>/v1/oauthtoken". It must be https
	// unless its host is a loopback address.
	TokenURL string
	// UniverseDomain is the Google Cloud universe. Empty means
	// "googleapis.com".
	UniverseDomain string
	// OnRefreshTokenRotated, if set, is called with the new refresh token
	// whenever the server returns one that differs from the current one.
	// The new token is already in use when it is called; persist it, or
	// the next process start will use a revoked token. It is called from
	// the refreshing goroutine, one call at a time, and should return
	// quickly. Nil means rotations are kept in memory only.
	OnRefreshTokenRotated func(newToken string)
	// HTTPOptions holds the HTTP client, time-out, retry policy and
	// logger; the zero value is ready to use.
	HTTPOptions
	// Cache tunes the refresh-ahead cache of
	// NewAuthorizedUserTokenSource; NewRefresher ignores it.
	Cache CacheOptions
}

// String describes c without its secrets.
func (c AuthorizedUserConfig) String() string {
	return fmt.Sprintf("sts.AuthorizedUserConfig{ClientID:%q ClientSecret:%s RefreshToken:%s TokenURL:%q}",
		c.ClientID, redactedIfSet(c.ClientSecret), redactedIfSet(c.RefreshToken), c.TokenURL)
}

// GoString is String, so %#v redacts too.
func (c AuthorizedUserConfig) GoString() string { return c.String() }

func (c *AuthorizedUserConfig) validate() (tokenURL string, err error) {
	if c.RefreshToken == "" {
		return "", invalid("AuthorizedUserConfig.RefreshToken", "must not be empty")
	}
	if c.ClientID == "" {
		return "", invalid("AuthorizedUserConfig.ClientID", "must not be empty")
	}
	if c.ClientSecret == "" {
		return "", invalid("AuthorizedUserConfig.ClientSecret", "must not be empty")
	}
	if err := verr(check.Universe("AuthorizedUserConfig.UniverseDomain", c.UniverseDomain)); err != nil {
		return "", err
	}
	tokenURL = c.TokenURL
	if tokenURL == "" {
		tokenURL = stsEndpoint(c.UniverseDomain, "/v1/oauthtoken")
	} else if err := verr(check.Endpoint("AuthorizedUserConfig.TokenURL", tokenURL)); err != nil {
		return "", err
	}
	if err := c.HTTPOptions.validate("AuthorizedUserConfig"); err != nil {
		return "", err
	}
	return tokenURL, nil
}

// Refresher performs one refresh_token grant per call, without caching, and
// keeps the refresh token the server last returned. Most programs want
// NewAuthorizedUserTokenSource. Create it with NewRefresher; it is safe for
// concurrent use.
type Refresher struct {
	tokenURL   string
	authHeader string
	onRotate   func(string)
	logger     *slog.Logger
	doer       *httpDoer

	grant   chan struct{}          // holds one token while a grant runs, so a rotation is never raced
	current atomic.Pointer[string] // the refresh token in use
}

// NewRefresher checks cfg and returns an uncached refreshing source.
func NewRefresher(cfg AuthorizedUserConfig) (*Refresher, error) {
	tokenURL, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	r := &Refresher{
		grant:      make(chan struct{}, 1),
		tokenURL:   tokenURL,
		authHeader: httpx.BasicAuth(cfg.ClientID, cfg.ClientSecret),
		onRotate:   cfg.OnRefreshTokenRotated,
		logger:     resolveLogger(cfg.Logger),
		doer: newHTTPDoer(cfg.HTTPOptions,
			httpx.BaseAPIClient()+" cred-type/external-account-authorized-user"),
	}
	rt := cfg.RefreshToken
	r.current.Store(&rt)
	return r, nil
}

// NewAuthorizedUserTokenSource checks cfg and returns a cached source of the
// user's access tokens: a Refresher wrapped in a CachedTokenSource configured
// by cfg.Cache (whose single-flight refresh means one grant at a time).
func NewAuthorizedUserTokenSource(cfg AuthorizedUserConfig) (*CachedTokenSource, error) {
	r, err := NewRefresher(cfg)
	if err != nil {
		return nil, err
	}
	return cacheWith(r, cfg.Cache, cfg.Logger)
}

// RefreshToken returns the refresh token currently in use: the configured
// one, or the last one the server rotated to.
func (r *Refresher) RefreshToken() string {
	return *r.current.Load()
}

// String describes r without its secrets.
func (r *Refresher) String() string {
	return fmt.Sprintf("sts.Refresher{TokenURL:%q}", r.tokenURL)
}

// GoString is String, so %#v redacts too.
func (r *Refresher) GoString() string { return r.String() }

// Token refreshes with context.Background().
func (r *Refresher) Token() (*oauth2.Token, error) { return r.TokenContext(context.Background()) }

// TokenContext performs a refresh_token grant. Failures are *Error with Op
// "refresh"; invalid_grant means the refresh token was revoked or expired
// and the user must log in again.
func (r *Refresher) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	// One grant at a time: concurrent uncached callers must not race a
	// rotation with the refresh token it replaces. Waiting ends with ctx.
	select {
	case r.grant <- struct{}{}:
	case <-ctx.Done():
		return nil, &Error{Op: "refresh", Err: ctx.Err()}
	}
	defer func() { <-r.grant }()
	current := *r.current.Load()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {current}}
	hdr := http.Header{}
	hdr.Set("Authorization", r.authHeader)
	tok, resp, err := r.doer.postToken(ctx, "refresh", r.tokenURL, []byte(form.Encode()), hdr, current)
	if err != nil {
		return nil, err
	}
	if !resp.HasExpiresIn {
		return nil, &Error{Op: "refresh", StatusCode: http.StatusOK, Err: errNoExpiresIn}
	}
	if rt := resp.RefreshToken; rt != "" && rt != current {
		r.current.Store(&rt)
		if r.logger != nil {
			r.logger.LogAttrs(ctx, slog.LevelInfo, "sts: refresh token rotated")
		}
		if r.onRotate != nil {
			r.callHook(ctx, resp.RefreshToken)
		}
	}
	return tok, nil
}

func (r *Refresher) callHook(ctx context.Context, tok string) {
	defer func() {
		if p := recover(); p != nil && r.logger != nil {
			r.logger.LogAttrs(ctx, slog.LevelError, "sts: OnRefreshTokenRotated panicked")
		}
	}()
	r.onRotate(tok)
}
