package sts

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/internal/exchange"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/iam"
	"github.com/stsgo/sts/internal/refreshgrant"
)

// testExchanger is an uncached exchange with the public error types, for
// tests that count or inspect single exchanges.
type testExchanger struct{ x *exchange.Exchanger }

// newExchanger checks cfg as NewTokenSource does and returns its uncached
// exchange.
func newExchanger(cfg Config) (*testExchanger, error) {
	x, err := newExchange(cfg, exchangeExtras{})
	if err != nil {
		return nil, err
	}
	return &testExchanger{x}, nil
}

func (t *testExchanger) Token() (*oauth2.Token, error) { return t.TokenContext(context.Background()) }

func (t *testExchanger) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	tok, err := t.x.TokenContext(ctx)
	return tok, publicErr(err)
}

func (t *testExchanger) String() string { return t.x.String() }

// impConfig is what the tests of this package give the impersonation
// engine; package impersonate (which this package's tests cannot import)
// checks its own Config and builds the same engine.
type impConfig struct {
	Source          oauth2.TokenSource
	TargetPrincipal string
	URL             string
	Scopes          []string
	Delegates       []string
	Lifetime        time.Duration
	HTTPOptions
	Cache CacheOptions
}

func (c impConfig) engine() iam.Config {
	url := c.URL
	if url == "" {
		url = iam.AccessTokenURL("", c.TargetPrincipal)
	}
	scopes := c.Scopes
	if scopes == nil {
		scopes = []string{CloudPlatformScope}
	}
	src := c.Source
	return iam.Config{
		Source: func(ctx context.Context) (*oauth2.Token, error) {
			return sourceToken(ctx, src, "impersonate", "source")
		},
		Invalidate: func(tok *oauth2.Token) { invalidate(src, tok) },
		URL:        url,
		Scopes:     scopes,
		Delegates:  c.Delegates,
		Lifetime:   c.Lifetime,
		HTTP:       c.HTTPOptions.httpx(httpx.BaseAPIClient() + " cred-type/imp"),
	}
}

// testImpersonator is an uncached impersonation with the public error
// types.
type testImpersonator struct{ a *iam.AccessTokens }

func newImpersonator(c impConfig) (*testImpersonator, error) {
	return &testImpersonator{iam.NewAccessTokens(c.engine())}, nil
}

func (t *testImpersonator) Token() (*oauth2.Token, error) {
	return t.TokenContext(context.Background())
}

func (t *testImpersonator) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	tok, err := t.a.TokenContext(ctx)
	return tok, publicErr(err)
}

func (t *testImpersonator) String() string { return fmt.Sprint(t.a) }

// newImpersonatedTokenSource is the cached impersonation of c.
func newImpersonatedTokenSource(c impConfig) (*CachedTokenSource, error) {
	im, _ := newImpersonator(c)
	return cacheWith(im, c.Cache, c.Logger)
}

// authUserConfig is what the tests of this package give the
// authorized-user refresh engine; package credfile checks a file and builds
// the same engine.
type authUserConfig struct {
	RefreshToken           string
	ClientID, ClientSecret string
	TokenURL               string
	OnRefreshTokenRotated  func(string)
	HTTPOptions
	Cache CacheOptions
}

// testRefresher is an uncached refresher with the public error types.
type testRefresher struct{ r *refreshgrant.Refresher }

func newRefresher(c authUserConfig) (*testRefresher, error) {
	return &testRefresher{refreshgrant.New(refreshgrant.Config{
		RefreshToken: c.RefreshToken, ClientID: c.ClientID, ClientSecret: c.ClientSecret, TokenURL: c.TokenURL,
		OnRotate: c.OnRefreshTokenRotated, HTTP: c.HTTPOptions.httpx(refreshgrant.APIClient()),
	})}, nil
}

func (t *testRefresher) Token() (*oauth2.Token, error) { return t.TokenContext(context.Background()) }

func (t *testRefresher) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	tok, err := t.r.TokenContext(ctx)
	return tok, publicErr(err)
}

func (t *testRefresher) String() string { return t.r.String() }

// newAuthorizedUserTokenSource is the cached refresher of c.
func newAuthorizedUserTokenSource(c authUserConfig) (*CachedTokenSource, error) {
	r, _ := newRefresher(c)
	return cacheWith(r, c.Cache, c.Logger)
}
