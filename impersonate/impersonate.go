// Package impersonate trades any token for a service account's: it calls
// IAM Credentials' generateAccessToken (or generateIdToken) with the access
// token of a source as a Bearer token, and caches the service account's
// tokens.
//
// The source can be anything with an access token allowed
// iam.serviceAccounts.getAccessToken on the target (roles/iam.
// serviceAccountTokenCreator): an exchange (sts.NewTokenSource), a user's
// token, another impersonation.
//
//	ts, err := impersonate.NewTokenSource(impersonate.Config{
//		Source:          exchanged,
//		TargetPrincipal: "sa@project.iam.gserviceaccount.com",
//	})
package impersonate

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/iam"
	"github.com/stsgo/sts/internal/logenv"
	"github.com/stsgo/sts/internal/public"
	"github.com/stsgo/sts/internal/secret"
	"github.com/stsgo/sts/internal/source"
)

// Lifetimes of impersonated access tokens, as IAM Credentials and credential
// files (service_account_impersonation.token_lifetime_seconds) allow them.
// Lifetimes above one hour need the organisation policy
// constraints/iam.allowServiceAccountCredentialLifetimeExtension.
const (
	DefaultLifetime = iam.DefaultLifetime
	MinLifetime     = iam.MinLifetime
	MaxLifetime     = iam.MaxLifetime
)

// Config configures service account impersonation. Source and one of
// TargetPrincipal or URL are required; every other field has a documented
// default. A Config is not used after the constructor returns.
type Config struct {
	// Source supplies the caller's token. Required. If it implements
	// sts.ContextTokenSource, each call's context is passed on. It is
	// asked once per impersonation, so give a cached source.
	Source oauth2.TokenSource `json:"-"`
	// TargetPrincipal is the service account's e-mail address (or unique
	// ID). Required unless URL is set.
	TargetPrincipal string
	// URL is the full generateAccessToken endpoint, such as
	// "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken"
	// (the service_account_impersonation_url of a credential file). When
	// set it wins over TargetPrincipal and UniverseDomain, and the
	// principal is read from it; ID tokens use the same path ending in
	// ":generateIdToken". It must be https unless its host is a loopback
	// address.
	URL string
	// Scopes are the scopes of the service account's access tokens. Nil
	// means sts.CloudPlatformScope; an empty non-nil slice is invalid. ID
	// tokens have no scopes.
	Scopes []string
	// Delegates is the chain of service accounts each allowed to
	// impersonate the next, ending with one allowed to impersonate
	// TargetPrincipal. Entries are e-mail addresses or
	// "projects/-/serviceAccounts/EMAIL" names. Nil means none.
	Delegates []string
	// Lifetime is the lifetime asked for access tokens, in whole seconds
	// between MinLifetime and MaxLifetime. Zero means DefaultLifetime. ID
	// tokens live one hour, whatever it says.
	Lifetime time.Duration
	// UniverseDomain is the Google Cloud universe; the endpoint is
	// "https://iamcredentials.<UniverseDomain>/v1/…". Empty means
	// "googleapis.com".
	UniverseDomain string
	// HTTPOptions holds the HTTP client, time-out, retry policy and
	// logger; the zero value is ready to use.
	sts.HTTPOptions
	// Cache tunes the refresh-ahead cache of the returned source. The
	// zero value is ready to use.
	Cache sts.CacheOptions
}

// String describes c; it holds no secret.
func (c Config) String() string {
	return fmt.Sprintf("impersonate.Config{TargetPrincipal:%q URL:%q Scopes:%q Delegates:%q Lifetime:%v}",
		c.TargetPrincipal, c.URL, c.Scopes, c.Delegates, c.Lifetime)
}

// Format prints String whatever the verb: no verb shows a secret.
func (c Config) Format(f fmt.State, verb rune) { secret.Format(f, verb, c.String()) }

// field names a Config field in errors.
func field(name string) string { return "impersonate.Config." + name }

// engine checks c and returns the configuration of the engine and the
// service account.
func (c *Config) engine() (iam.Config, error) {
	if c.Source == nil {
		return iam.Config{}, public.Invalid(check.Errorf(field("Source"), "must not be nil"))
	}
	if err := check.Universe(field("UniverseDomain"), c.UniverseDomain); err != nil {
		return iam.Config{}, public.Invalid(err)
	}
	var endpoint string
	switch {
	case c.URL != "":
		principal, err := check.ImpersonationURL(field("URL"), c.URL)
		if err != nil {
			return iam.Config{}, public.Invalid(err)
		}
		if c.TargetPrincipal != "" && c.TargetPrincipal != principal {
			return iam.Config{}, public.Invalid(check.Errorf(field("TargetPrincipal"), "%q differs from the service account of URL", httpx.Truncate(c.TargetPrincipal, 64)))
		}
		endpoint = c.URL
	case c.TargetPrincipal != "":
		if err := check.Principal(field("TargetPrincipal"), c.TargetPrincipal); err != nil {
			return iam.Config{}, public.Invalid(err)
		}
		endpoint = iam.AccessTokenURL(c.UniverseDomain, c.TargetPrincipal)
	default:
		return iam.Config{}, public.Invalid(check.Errorf(field("TargetPrincipal"), "must be set (or URL)"))
	}
	if err := check.Scopes(field("Scopes"), c.Scopes); err != nil {
		return iam.Config{}, public.Invalid(err)
	}
	if c.Scopes != nil && len(c.Scopes) == 0 {
		return iam.Config{}, public.Invalid(check.Errorf(field("Scopes"), "must hold at least one scope (nil means cloud-platform)"))
	}
	for i, d := range c.Delegates {
		if err := check.Principal(fmt.Sprintf("%s[%d]", field("Delegates"), i), trimDelegate(d)); err != nil {
			return iam.Config{}, public.Invalid(err)
		}
	}
	if c.Lifetime != 0 {
		if err := check.ImpersonationLifetime(field("Lifetime"), c.Lifetime); err != nil {
			return iam.Config{}, public.Invalid(err)
		}
	}
	if err := check.NonNegative(field("Timeout"), c.Timeout); err != nil {
		return iam.Config{}, public.Invalid(err)
	}
	if err := check.Retry(field("Retry"), c.Retry.MaxAttempts, c.Retry.InitialBackoff, c.Retry.MaxBackoff); err != nil {
		return iam.Config{}, public.Invalid(err)
	}
	scopes := c.Scopes
	if scopes == nil {
		scopes = []string{sts.CloudPlatformScope}
	}
	src := c.Source
	return iam.Config{
		Source: func(ctx context.Context) (*oauth2.Token, error) {
			tok, err := source.Fetch(ctx, src, "impersonate", "source", public.Is)
			return tok, public.Err(err)
		},
		Invalidate: func(tok *oauth2.Token) { source.Invalidate(src, tok) },
		URL:        endpoint,
		Scopes:     scopes,
		Delegates:  c.Delegates,
		Lifetime:   c.Lifetime,
		HTTP: httpx.Options{Client: c.HTTPClient, Timeout: c.Timeout, Retry: httpx.Retry(c.Retry), Logger: c.Logger,
			APIClient: httpx.BaseAPIClient() + " cred-type/imp"},
	}, nil
}

// trimDelegate returns the e-mail address of a delegate.
func trimDelegate(d string) string {
	const prefix = "projects/-/serviceAccounts/"
	if len(d) > len(prefix) && d[:len(prefix)] == prefix {
		return d[len(prefix):]
	}
	return d
}

// NewTokenSource checks cfg and returns a cached source of the service
// account's access tokens, refreshed ahead of expiry as cfg.Cache says. A
// failed check is an *sts.ValidationError naming the field
// ("impersonate.Config.TargetPrincipal"); failures of IAM Credentials are
// *sts.Error with Op "impersonate" (Code holds Google's status, such as
// "PERMISSION_DENIED").
func NewTokenSource(cfg Config) (*sts.CachedTokenSource, error) {
	ic, err := cfg.engine()
	if err != nil {
		return nil, err
	}
	return cached(iam.NewAccessTokens(ic), cfg)
}

// NewIDTokenSource checks cfg and returns a cached source of OIDC ID tokens
// of the service account for audience (required), with the email and
// email_verified claims, from IAM Credentials' generateIdToken. A token is
// in the AccessToken field of the oauth2.Token, with the token's exp as
// Expiry; send it as a Bearer token to services that check Google-signed
// ID tokens (Cloud Run, IAP, Cloud Functions). cfg.Scopes and cfg.Lifetime
// are checked but not used.
func NewIDTokenSource(cfg Config, audience string) (*sts.CachedTokenSource, error) {
	ic, err := cfg.engine()
	if err != nil {
		return nil, err
	}
	if audience == "" {
		return nil, &sts.ValidationError{Field: "audience", Reason: "must not be empty"}
	}
	if len(audience) > 2048 {
		return nil, &sts.ValidationError{Field: "audience", Reason: "must not be longer than 2048 bytes"}
	}
	return cached(iam.NewIDTokens(ic, audience, true), cfg)
}

// cached puts src behind a cache configured by cfg, with public errors.
func cached(src sts.ContextTokenSource, cfg Config) (*sts.CachedTokenSource, error) {
	opts := cfg.Cache
	opts.Logger = logenv.Or(opts.Logger, cfg.Logger)
	return sts.NewCachedTokenSource(publicSource{src}, opts)
}

// publicSource converts an engine's errors to the public types.
type publicSource struct{ e sts.ContextTokenSource }

func (p publicSource) Token() (*oauth2.Token, error) { return p.TokenContext(context.Background()) }

func (p publicSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	tok, err := p.e.TokenContext(ctx)
	if err != nil {
		return nil, public.Err(err)
	}
	return tok, nil
}

func (p publicSource) String() string { return fmt.Sprint(p.e) }
