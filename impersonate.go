package sts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/wire"
)

// Service account impersonation lifetimes, as IAM Credentials and credential
// configuration files (service_account_impersonation.token_lifetime_seconds)
// allow them. Lifetimes above one hour need the organisation policy
// constraints/iam.allowServiceAccountCredentialLifetimeExtension.
const (
	DefaultImpersonationLifetime = time.Hour
	MinImpersonationLifetime     = 10 * time.Minute
	MaxImpersonationLifetime     = 12 * time.Hour
)

// ImpersonationConfig configures service account impersonation: the access
// token of Source is used as a Bearer token to call IAM Credentials'
// generateAccessToken for a service account, and the service account's token
// is returned. Source and one of TargetPrincipal or URL are required; every
// other field has a documented default. It works on any token source: an
// exchange (NewTokenSource), a user's token, another impersonation.
type ImpersonationConfig struct {
	// Source supplies the caller's token, which must be allowed
	// iam.serviceAccounts.getAccessToken on the target (roles/iam.
	// serviceAccountTokenCreator). Required. If it implements
	// ContextTokenSource, each call's context is passed on. It is asked
	// once per impersonation, so give a cached source unless it is an
	// Exchanger whose token is only needed here.
	Source oauth2.TokenSource
	// TargetPrincipal is the service account's e-mail address (or unique
	// ID). Required unless URL is set.
	TargetPrincipal string
	// URL is the full generateAccessToken endpoint, such as
	// "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken"
	// (the service_account_impersonation_url of a credential file). When
	// set it wins over TargetPrincipal and UniverseDomain, and the
	// principal is read from it. It must be https unless its host is a
	// loopback address.
	URL string
	// Scopes are the scopes of the service account's token. Nil means
	// CloudPlatformScope; at least one scope is sent.
	Scopes []string
	// Delegates is the chain of service accounts each allowed to
	// impersonate the next, ending with one allowed to impersonate
	// TargetPrincipal. Entries are e-mail addresses or
	// "projects/-/serviceAccounts/EMAIL" names. Nil means none.
	Delegates []string
	// Lifetime is the lifetime asked for, in whole seconds between
	// MinImpersonationLifetime and MaxImpersonationLifetime. Zero means
	// DefaultImpersonationLifetime.
	Lifetime time.Duration
	// UniverseDomain is the Google Cloud universe; the endpoint is
	// "https://iamcredentials.<UniverseDomain>/v1/…". Empty means
	// "googleapis.com".
	UniverseDomain string
	// HTTPOptions holds the HTTP client, time-out, retry policy and
	// logger; the zero value is ready to use.
	HTTPOptions
	// Cache tunes the refresh-ahead cache of NewImpersonatedTokenSource;
	// NewImpersonator ignores it.
	Cache CacheOptions

	// apiInfo, when set by the credential file loader, replaces the
	// x-goog-api-client value.
	apiInfo string
}

// String describes c; it holds no secret.
func (c ImpersonationConfig) String() string {
	return fmt.Sprintf("sts.ImpersonationConfig{TargetPrincipal:%q URL:%q Scopes:%q Delegates:%q Lifetime:%v}",
		c.TargetPrincipal, c.URL, c.Scopes, c.Delegates, c.Lifetime)
}

// GoString is String.
func (c ImpersonationConfig) GoString() string { return c.String() }

// generateAccessTokenSuffix ends every generateAccessToken URL path.
const generateAccessTokenSuffix = ":generateAccessToken"

// principalFromImpersonationURL extracts the service account from a
// generateAccessToken URL's path
// ".../projects/PROJECT/serviceAccounts/EMAIL:generateAccessToken".
func principalFromImpersonationURL(field, raw string) (string, error) {
	if err := verr(check.Endpoint(field, raw)); err != nil {
		return "", err
	}
	u, _ := url.Parse(raw)
	p := u.Path
	rest, ok := strings.CutSuffix(p, generateAccessTokenSuffix)
	if !ok {
		return "", invalid(field, "path must end with %q", generateAccessTokenSuffix)
	}
	i := strings.LastIndex(rest, "/serviceAccounts/")
	if i < 0 || !strings.Contains(rest[:i], "/projects/") {
		return "", invalid(field, "path must be …/projects/-/serviceAccounts/EMAIL%s", generateAccessTokenSuffix)
	}
	email := rest[i+len("/serviceAccounts/"):]
	if err := verr(check.Principal(field, email)); err != nil {
		return "", err
	}
	return email, nil
}

// impersonationEndpoint returns the generateAccessToken URL of a principal.
func impersonationEndpoint(universe, principal string) string {
	if universe == "" {
		universe = DefaultUniverseDomain
	}
	return "https://iamcredentials." + universe + "/v1/projects/-/serviceAccounts/" + url.PathEscape(principal) + generateAccessTokenSuffix
}

func checkLifetime(field string, d time.Duration) error {
	if d%time.Second != 0 {
		return invalid(field, "must be whole seconds, got %v", d)
	}
	if d < MinImpersonationLifetime || d > MaxImpersonationLifetime {
		return invalid(field, "must be between %d and %d seconds, got %d",
			int64(MinImpersonationLifetime/time.Second), int64(MaxImpersonationLifetime/time.Second), int64(d/time.Second))
	}
	return nil
}

// validate checks c and returns the endpoint and principal.
func (c *ImpersonationConfig) validate() (endpoint, principal string, err error) {
	if c.Source == nil {
		return "", "", invalid("ImpersonationConfig.Source", "must not be nil")
	}
	if err := verr(check.Universe("ImpersonationConfig.UniverseDomain", c.UniverseDomain)); err != nil {
		return "", "", err
	}
	switch {
	case c.URL != "":
		principal, err = principalFromImpersonationURL("ImpersonationConfig.URL", c.URL)
		if err != nil {
			return "", "", err
		}
		if c.TargetPrincipal != "" && c.TargetPrincipal != principal {
			return "", "", invalid("ImpersonationConfig.TargetPrincipal", "%q differs from the service account of URL", httpx.Truncate(c.TargetPrincipal, 64))
		}
		endpoint = c.URL
	case c.TargetPrincipal != "":
		if err := verr(check.Principal("ImpersonationConfig.TargetPrincipal", c.TargetPrincipal)); err != nil {
			return "", "", err
		}
		principal = c.TargetPrincipal
		endpoint = impersonationEndpoint(c.UniverseDomain, principal)
	default:
		return "", "", invalid("ImpersonationConfig.TargetPrincipal", "must be set (or URL)")
	}
	if err := check.Scopes("ImpersonationConfig.Scopes", c.Scopes); err != nil {
		return "", "", verr(err)
	}
	if c.Scopes != nil && len(c.Scopes) == 0 {
		return "", "", invalid("ImpersonationConfig.Scopes", "must hold at least one scope (nil means cloud-platform)")
	}
	for i, d := range c.Delegates {
		name := strings.TrimPrefix(d, "projects/-/serviceAccounts/")
		if err := verr(check.Principal(fmt.Sprintf("ImpersonationConfig.Delegates[%d]", i), name)); err != nil {
			return "", "", err
		}
	}
	if c.Lifetime != 0 {
		if err := checkLifetime("ImpersonationConfig.Lifetime", c.Lifetime); err != nil {
			return "", "", err
		}
	}
	if err := c.HTTPOptions.validate("ImpersonationConfig"); err != nil {
		return "", "", err
	}
	return endpoint, principal, nil
}

// Impersonator calls generateAccessToken once per call, without caching.
// Most programs want NewImpersonatedTokenSource. Create it with
// NewImpersonator; it is safe for concurrent use.
type Impersonator struct {
	src       oauth2.TokenSource
	endpoint  string
	principal string
	body      []byte
	doer      *httpDoer
}

// NewImpersonator checks cfg and returns an uncached impersonating source.
func NewImpersonator(cfg ImpersonationConfig) (*Impersonator, error) {
	endpoint, principal, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	scopes := cfg.Scopes
	if scopes == nil {
		scopes = []string{CloudPlatformScope}
	}
	req := wire.GenerateAccessTokenRequest{Scope: append([]string(nil), scopes...)}
	lifetime := cfg.Lifetime
	if lifetime == 0 {
		lifetime = DefaultImpersonationLifetime
	}
	req.Lifetime = wire.FormatLifetime(lifetime)
	for _, d := range cfg.Delegates {
		if !strings.HasPrefix(d, "projects/") {
			d = "projects/-/serviceAccounts/" + d
		}
		req.Delegates = append(req.Delegates, d)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, invalid("ImpersonationConfig", "cannot be encoded: %v", err)
	}
	info := cfg.apiInfo
	if info == "" {
		info = httpx.BaseAPIClient() + " cred-type/imp"
	}
	im := &Impersonator{
		src:       cfg.Source,
		endpoint:  endpoint,
		principal: principal,
		body:      body,
		doer:      newHTTPDoer(cfg.HTTPOptions, info),
	}
	return im, nil
}

// NewImpersonatedTokenSource checks cfg and returns a cached source of the
// service account's tokens: an Impersonator wrapped in a CachedTokenSource
// configured by cfg.Cache.
func NewImpersonatedTokenSource(cfg ImpersonationConfig) (*CachedTokenSource, error) {
	im, err := NewImpersonator(cfg)
	if err != nil {
		return nil, err
	}
	return cacheWith(im, cfg.Cache, cfg.Logger)
}

// ServiceAccount returns the impersonated service account.
func (im *Impersonator) ServiceAccount() string { return im.principal }

// String describes im without secrets.
func (im *Impersonator) String() string {
	return fmt.Sprintf("sts.Impersonator{ServiceAccount:%q URL:%q}", im.principal, im.endpoint)
}

// GoString is String, so %#v redacts too.
func (im *Impersonator) GoString() string { return im.String() }

// Token impersonates with context.Background().
func (im *Impersonator) Token() (*oauth2.Token, error) { return im.TokenContext(context.Background()) }

// TokenContext gets a token from the source and trades it for the service
// account's token. Failures of IAM Credentials are *Error with Op
// "impersonate" (Code holds Google's status, such as "PERMISSION_DENIED").
func (im *Impersonator) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	src, err := sourceToken(ctx, im.src, "impersonate", "source")
	if err != nil {
		return nil, err
	}
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+src.AccessToken)
	body, err := im.doer.do(ctx, &httpx.Request{
		Op:          "impersonate",
		Method:      http.MethodPost,
		URL:         im.endpoint,
		ContentType: "application/json",
		Body:        im.body,
		Header:      hdr,
		Secrets:     []string{src.AccessToken},
	})
	if err != nil {
		// IAM refused the caller's token: let a cached source fetch a new
		// one for the next attempt instead of serving the rejected one.
		var se *Error
		if errors.As(err, &se) && se.StatusCode == http.StatusUnauthorized {
			invalidate(im.src, src)
		}
		return nil, err
	}
	resp, derr := wire.DecodeGenerateAccessTokenResponse(body)
	if derr != nil {
		return nil, &Error{Op: "impersonate", StatusCode: http.StatusOK, Err: derr}
	}
	now := time.Now()
	if !resp.ExpireTime.After(now) {
		return nil, &Error{Op: "impersonate", StatusCode: http.StatusOK, Err: errors.New("response expireTime is in the past")}
	}
	if resp.ExpireTime.Sub(now) > wire.MaxLifetime {
		return nil, &Error{Op: "impersonate", StatusCode: http.StatusOK,
			Err: fmt.Errorf("response expireTime %s is more than ten years away", resp.ExpireTime.UTC().Format(time.RFC3339))}
	}
	return &oauth2.Token{AccessToken: resp.AccessToken, TokenType: "Bearer", Expiry: resp.ExpireTime}, nil
}
