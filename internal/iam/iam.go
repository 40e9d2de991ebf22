// Package iam is the service account impersonation engine: IAM
// Credentials' generateAccessToken and generateIdToken, called with the
// caller's access token as a Bearer token.
//
// It is built from values already checked by its caller (package
// impersonate checks an impersonate.Config by Go field names, the credential
// loader a file by JSON paths); it validates nothing. Its own failures are
// *httpx.Error with Op "impersonate"; errors of the Source come back as they
// are.
package iam

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/internal/errs"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/wire"
)

// Lifetimes of impersonated access tokens, as IAM Credentials and credential
// files (service_account_impersonation.token_lifetime_seconds) allow them.
const (
	DefaultLifetime = time.Hour
	MinLifetime     = 10 * time.Minute
	MaxLifetime     = 12 * time.Hour
)

// Suffixes of the IAM Credentials method URLs.
const (
	AccessTokenSuffix = ":generateAccessToken"
	IDTokenSuffix     = ":generateIdToken"
)

// delegatePrefix starts the resource name of a service account.
const delegatePrefix = "projects/-/serviceAccounts/"

// AccessTokenURL returns the generateAccessToken URL of principal in a
// universe ("" means googleapis.com).
func AccessTokenURL(universe, principal string) string {
	if universe == "" {
		universe = "googleapis.com"
	}
	return "https://iamcredentials." + universe + "/v1/" + delegatePrefix + url.PathEscape(principal) + AccessTokenSuffix
}

// IDTokenURL returns the generateIdToken URL next to a generateAccessToken
// URL.
func IDTokenURL(accessTokenURL string) string {
	return strings.TrimSuffix(accessTokenURL, AccessTokenSuffix) + IDTokenSuffix
}

// Source returns the caller's access token, its errors already typed.
type Source func(ctx context.Context) (*oauth2.Token, error)

// Config is a checked impersonation. Source and URL are required.
type Config struct {
	Source Source
	// Invalidate, if set, is called with the caller's token when IAM
	// refuses it (401), so that a cached source fetches a new one.
	Invalidate func(*oauth2.Token)
	// URL is the generateAccessToken endpoint; ID tokens use IDTokenURL(URL).
	URL string
	// Scopes are the scopes of access tokens; they must not be empty.
	Scopes []string
	// Delegates are e-mail addresses or "projects/-/serviceAccounts/EMAIL"
	// names.
	Delegates []string
	// Lifetime of access tokens; zero means DefaultLifetime.
	Lifetime time.Duration
	HTTP     httpx.Options
}

func (c *Config) delegates() []string {
	var out []string
	for _, d := range c.Delegates {
		if !strings.HasPrefix(d, "projects/") {
			d = delegatePrefix + d
		}
		out = append(out, d)
	}
	return out
}

// caller is what both token kinds share: a source, an endpoint, a body and
// a Doer.
type caller struct {
	src        Source
	invalidate func(*oauth2.Token)
	url        string
	body       []byte
	doer       *httpx.Doer
}

// post sends the body with the caller's token and returns the answer.
func (c *caller) post(ctx context.Context) ([]byte, error) {
	src, err := c.src(ctx)
	if err != nil {
		return nil, err
	}
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+src.AccessToken)
	body, herr := c.doer.Do(ctx, &httpx.Request{
		Op:          "impersonate",
		Method:      http.MethodPost,
		URL:         c.url,
		ContentType: "application/json",
		Body:        c.body,
		Header:      hdr,
		Secrets:     []string{src.AccessToken},
	})
	if herr != nil {
		// IAM refused the caller's token: let a cached source fetch a new
		// one for the next attempt instead of serving the rejected one.
		if herr.StatusCode == http.StatusUnauthorized && c.invalidate != nil {
			c.invalidate(src)
		}
		return nil, herr
	}
	return body, nil
}

// checkExpiry refuses an expiry (named what in errors) in the past or
// implausibly far away.
func (c *caller) checkExpiry(what string, exp time.Time) error {
	now := time.Now()
	if !exp.After(now) {
		return c.badAnswer(errs.Errorf("response %s is in the past", what))
	}
	if exp.Sub(now) > wire.MaxLifetime {
		return c.badAnswer(errs.Errorf("response %s %s is more than ten years away", what, exp.UTC().Format(time.RFC3339)))
	}
	return nil
}

// badAnswer is the error of a successful answer that cannot be used.
func (c *caller) badAnswer(cause error) error {
	return httpx.BadAnswer("impersonate", http.MethodPost, c.url, cause)
}

// AccessTokens calls generateAccessToken once per call, without caching. It
// is safe for concurrent use.
type AccessTokens struct{ c caller }

// NewAccessTokens returns the access token engine of c.
func NewAccessTokens(c Config) *AccessTokens {
	lifetime := c.Lifetime
	if lifetime == 0 {
		lifetime = DefaultLifetime
	}
	req := wire.GenerateAccessTokenRequest{
		Scope:     append([]string(nil), c.Scopes...),
		Lifetime:  wire.FormatLifetime(lifetime),
		Delegates: c.delegates(),
	}
	body, _ := json.Marshal(req) // strings only: cannot fail
	return &AccessTokens{caller{src: c.Source, invalidate: c.Invalidate, url: c.URL, body: body, doer: httpx.NewDoer(c.HTTP)}}
}

// Token is TokenContext with context.Background().
func (a *AccessTokens) Token() (*oauth2.Token, error) { return a.TokenContext(context.Background()) }

// TokenContext trades the caller's token for the service account's.
func (a *AccessTokens) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	body, err := a.c.post(ctx)
	if err != nil {
		return nil, err
	}
	resp, derr := wire.DecodeGenerateAccessTokenResponse(body)
	if derr != nil {
		return nil, a.c.badAnswer(derr)
	}
	if err := a.c.checkExpiry("expireTime", resp.ExpireTime); err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: resp.AccessToken, TokenType: "Bearer", Expiry: resp.ExpireTime}, nil
}

// URL returns the endpoint called.
func (a *AccessTokens) URL() string { return a.c.url }

// APIClient returns the x-goog-api-client value sent.
func (a *AccessTokens) APIClient() string { return a.c.doer.APIClient() }

// String describes a without secrets.
func (a *AccessTokens) String() string { return fmt.Sprintf("impersonate{URL:%q}", a.c.url) }

// IDTokens calls generateIdToken once per call, without caching. It is safe
// for concurrent use. Its tokens are OIDC ID tokens (JWTs) signed by
// Google for the audience, carried in oauth2.Token.AccessToken with the
// token's exp as Expiry.
type IDTokens struct{ c caller }

// NewIDTokens returns the ID token engine of c (Scopes and Lifetime are
// not used) for audience; includeEmail asks for the email claims.
func NewIDTokens(c Config, audience string, includeEmail bool) *IDTokens {
	req := wire.GenerateIDTokenRequest{Audience: audience, IncludeEmail: includeEmail, Delegates: c.delegates()}
	body, _ := json.Marshal(req) // strings and a bool only: cannot fail
	return &IDTokens{caller{src: c.Source, invalidate: c.Invalidate, url: IDTokenURL(c.URL), body: body, doer: httpx.NewDoer(c.HTTP)}}
}

// Token is TokenContext with context.Background().
func (t *IDTokens) Token() (*oauth2.Token, error) { return t.TokenContext(context.Background()) }

// TokenContext trades the caller's token for an ID token of the service
// account.
func (t *IDTokens) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	body, err := t.c.post(ctx)
	if err != nil {
		return nil, err
	}
	tok, exp, derr := wire.DecodeGenerateIDTokenResponse(body)
	if derr != nil {
		return nil, t.c.badAnswer(derr)
	}
	if err := t.c.checkExpiry("token exp", exp); err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: tok, TokenType: "Bearer", Expiry: exp}, nil
}

// String describes t without secrets.
func (t *IDTokens) String() string { return fmt.Sprintf("impersonate.idtoken{URL:%q}", t.c.url) }
