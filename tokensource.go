package sts

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/errs"
	"github.com/stsgo/sts/internal/exchange"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/secret"
)

// Version is the version of this package reported in the x-goog-api-client
// header.
const Version = httpx.Version

// DefaultUniverseDomain is the universe domain of Google Cloud.
const DefaultUniverseDomain = "googleapis.com"

// CloudPlatformScope is the scope asked for when none is configured.
const CloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

// defaultScopes is the scope list of a Config without Scopes, shared (the
// exchange never changes it).
var defaultScopes = []string{CloudPlatformScope}

// Config configures an RFC 8693 token exchange at STS. Subject,
// SubjectTokenType and (unless the subject is an access token) Audience are
// required; every other field has a documented default. NewTokenSource
// checks it and keeps no reference to it.
type Config struct {
	// Subject supplies the subject token. Required.
	Subject SubjectTokenProvider
	// SubjectTokenType is the subject token's type URN, one of the
	// TokenType constants. Required.
	SubjectTokenType string
	// Audience is the full resource name of the workload or workforce
	// identity pool provider, such as
	// "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/prov".
	// Required unless SubjectTokenType is TokenTypeAccessToken.
	Audience string
	// Scopes are the OAuth scopes of the token asked for. Nil means
	// CloudPlatformScope; an empty non-nil slice sends no scope.
	Scopes []string
	// RequestedTokenType is the type of the token asked for. Empty means
	// TokenTypeAccessToken.
	RequestedTokenType string
	// WorkforcePoolUserProject is the project billed for a workforce pool
	// token; it is sent as options.userProject, and only when ClientID is
	// empty (as STS expects). Empty means none.
	WorkforcePoolUserProject string
	// ClientID and ClientSecret, when both set, authenticate the client with
	// HTTP Basic auth. When empty, no Authorization header is sent.
	ClientID     string
	ClientSecret string `json:"-"`
	// ActorToken and ActorTokenType are the optional RFC 8693 actor; the
	// token is fetched at each exchange. Both or neither must be set.
	ActorToken     SubjectTokenProvider
	ActorTokenType string
	// Resource is the optional RFC 8693 resource parameter (a URI).
	Resource string
	// Options are extra keys of the options JSON object (userProject and
	// accessBoundary are set by the package). Nil means none. The encoded
	// options must stay under 2048 bytes.
	Options map[string]any
	// TokenURL is the STS token endpoint. Empty means
	// "https://sts.<UniverseDomain>/v1/token". It must be https unless its
	// host is a loopback address.
	TokenURL string
	// UniverseDomain is the Google Cloud universe. Empty means
	// "googleapis.com".
	UniverseDomain string
	// HTTPOptions holds the HTTP client, time-out, retry policy and
	// logger; the zero value is ready to use.
	HTTPOptions
	// Cache tunes the refresh-ahead cache of NewTokenSource.
	Cache CacheOptions
}

// String describes c without any secret.
func (c Config) String() string {
	cs := redactedField("ClientSecret", c.ClientSecret)
	return fmt.Sprintf("sts.Config{Audience:%q SubjectTokenType:%q TokenURL:%q ClientID:%q%s}",
		c.Audience, c.SubjectTokenType, c.TokenURL, c.ClientID, cs)
}

// Format prints String whatever the verb: no verb shows a secret.
func (c Config) Format(f fmt.State, verb rune) { secret.Format(f, verb, c.String()) }

// validator is a provider with configuration to check (see
// SubjectTokenProvider).
type validator interface{ Validate() error }

// typedSubject is a provider that can only supply some token types, so that
// a mismatch fails at construction rather than at the first exchange.
type typedSubject interface{ SubjectTokenTypes() []string }

// checkSubjectType reports a provider that cannot supply tokens of type typ.
func checkSubjectType(field string, p SubjectTokenProvider, typ string) error {
	ts, ok := p.(typedSubject)
	if !ok {
		return nil
	}
	types := ts.SubjectTokenTypes()
	for _, t := range types {
		if t == typ {
			return nil
		}
	}
	return invalid(field, "a %s subject supplies %s, not %q", subjectKind(p), strings.Join(types, " or "), httpx.Truncate(typ, 100))
}

func (c *Config) validate() error {
	if c.Subject == nil {
		return invalid("Config.Subject", "must not be nil")
	}
	if v, ok := c.Subject.(validator); ok {
		if err := v.Validate(); err != nil {
			return err
		}
	}
	if err := check.SubjectTokenType("Config.SubjectTokenType", c.SubjectTokenType); err != nil {
		return verr(err)
	}
	if err := checkSubjectType("Config.SubjectTokenType", c.Subject, c.SubjectTokenType); err != nil {
		return err
	}
	if c.Audience == "" && c.SubjectTokenType != TokenTypeAccessToken {
		return invalid("Config.Audience", "must not be empty")
	}
	if c.Audience != "" {
		if err := check.Audience("Config.Audience", c.Audience); err != nil {
			return verr(err)
		}
	}
	switch c.RequestedTokenType {
	case "", TokenTypeAccessToken:
	case TokenTypeIntermediary:
		if c.SubjectTokenType != TokenTypeAccessToken {
			return invalid("Config.RequestedTokenType", "an intermediary token needs an access token subject")
		}
	default:
		return invalid("Config.RequestedTokenType", "unsupported token type %q", httpx.Truncate(c.RequestedTokenType, 100))
	}
	if err := check.Scopes("Config.Scopes", c.Scopes); err != nil {
		return verr(err)
	}
	if (c.ClientID == "") != (c.ClientSecret == "") {
		if c.ClientID == "" {
			return invalid("Config.ClientID", "must be set when ClientSecret is")
		}
		return invalid("Config.ClientSecret", "must be set when ClientID is")
	}
	if c.WorkforcePoolUserProject != "" && c.Audience != "" && !check.WorkforceAudience(c.Audience, "") {
		return invalid("Config.WorkforcePoolUserProject", "only applies to workforce pool audiences")
	}
	if (c.ActorToken == nil) != (c.ActorTokenType == "") {
		return invalid("Config.ActorTokenType", "ActorToken and ActorTokenType must be set together")
	}
	if c.ActorTokenType != "" {
		if err := check.SubjectTokenType("Config.ActorTokenType", c.ActorTokenType); err != nil {
			return verr(err)
		}
	}
	if v, ok := c.ActorToken.(validator); ok {
		if err := v.Validate(); err != nil {
			return err
		}
	}
	if c.ActorToken != nil {
		if err := checkSubjectType("Config.ActorTokenType", c.ActorToken, c.ActorTokenType); err != nil {
			return err
		}
	}
	if c.Resource != "" {
		if u, err := url.Parse(c.Resource); err != nil || !u.IsAbs() {
			return invalid("Config.Resource", "must be an absolute URI")
		}
	}
	if err := verr(check.Universe("Config.UniverseDomain", c.UniverseDomain)); err != nil {
		return err
	}
	if c.TokenURL != "" {
		if err := verr(check.Endpoint("Config.TokenURL", c.TokenURL)); err != nil {
			return err
		}
	}
	if err := c.HTTPOptions.validate("Config"); err != nil {
		return err
	}
	// The options (their encoding and size) are checked by newExchange,
	// which encodes them once.
	return nil
}

// exchangeExtras are settings of the package's own layers that a Config
// does not carry.
type exchangeExtras struct {
	// accessBoundary is the boundary of server-side downscoping.
	accessBoundary json.RawMessage
	// impersonating and lifetimeSet feed the x-goog-api-client header.
	impersonating, lifetimeSet bool
	// impersonatedEmail is passed to the subject (executables read it).
	impersonatedEmail string
}

// newExchange checks cfg and builds its exchange engine.
func newExchange(cfg Config, ex exchangeExtras) (*exchange.Exchanger, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	userProject := cfg.WorkforcePoolUserProject
	if cfg.ClientID != "" {
		userProject = "" // STS expects it only from public clients
	}
	opts, verrOpts := exchange.EncodeOptions("Config.Options", cfg.Options, userProject, ex.accessBoundary)
	if verrOpts != nil {
		return nil, verr(verrOpts)
	}
	tokenURL := cfg.TokenURL
	if tokenURL == "" {
		tokenURL = stsEndpoint(cfg.UniverseDomain, "/v1/token")
	}
	scopes := defaultScopes // shared by the sources that ask for the default
	if cfg.Scopes != nil {
		scopes = slices.Clone(cfg.Scopes)
	}
	client := cfg.HTTPClient
	if cp, ok := cfg.Subject.(clientProvider); ok {
		c, err := cp.ExchangeClient(client)
		if err != nil {
			return nil, err
		}
		client = c
	}
	email := ex.impersonatedEmail
	fetch := func(p SubjectTokenProvider) exchange.Subject {
		return func(ctx context.Context, aud, typ string) (string, time.Time, error) {
			return fetchSubject(ctx, p, SubjectRequest{Audience: aud, SubjectTokenType: typ, ImpersonatedEmail: email})
		}
	}
	xc := exchange.Config{
		Subject:            fetch(cfg.Subject),
		SubjectTokenType:   cfg.SubjectTokenType,
		Audience:           cfg.Audience,
		RequestedTokenType: cfg.RequestedTokenType,
		Scopes:             scopes,
		Resource:           cfg.Resource,
		Options:            opts,
		TokenURL:           tokenURL,
		ClientID:           cfg.ClientID,
		ClientSecret:       cfg.ClientSecret,
		Kind:               subjectKind(cfg.Subject),
		Bounded:            isBounded(cfg.Subject) && (cfg.ActorToken == nil || isBounded(cfg.ActorToken)),
	}
	if cfg.ActorToken != nil {
		xc.Actor, xc.ActorTokenType = fetch(cfg.ActorToken), cfg.ActorTokenType
	}
	if b, ok := cfg.Subject.(binder); ok {
		if _, set := cfg.Options[exchange.BindOption]; set {
			return nil, invalid("Config.Options", "key %q is set by the subject provider, which binds tokens to its certificate", exchange.BindOption)
		}
		xc.Bind = func() (string, error) {
			fp, err := b.CertificateFingerprint()
			if err != nil {
				return "", subjectErr(err)
			}
			return fp, nil
		}
	}
	h := cfg.HTTPOptions
	h.HTTPClient = client
	xc.HTTP = h.httpx(httpx.ExternalAccountAPIClient(xc.Kind, ex.impersonating, ex.lifetimeSet))
	return exchange.New(xc), nil
}

// expiringSubject is implemented by providers that know when their subject
// token expires (an oauth2.TokenSource's token does); STS gives no expires_in
// for access token subjects, so their expiry applies.
type expiringSubject interface {
	subjectTokenExpiry(ctx context.Context, req SubjectRequest) (string, time.Time, error)
}

// fetchSubject gets a subject token and wraps failures as *Error.
func fetchSubject(ctx context.Context, p SubjectTokenProvider, req SubjectRequest) (tok string, exp time.Time, err error) {
	defer func() {
		if r := recover(); r != nil {
			tok, exp, err = "", time.Time{}, &Error{Op: "subject", Err: errs.New("subject token provider panicked")}
		}
	}()
	if e, ok := p.(expiringSubject); ok {
		tok, exp, err = e.subjectTokenExpiry(ctx, req)
	} else {
		tok, err = p.SubjectToken(ctx, req)
	}
	if err != nil {
		return "", time.Time{}, subjectErr(err)
	}
	if tok == "" {
		return "", time.Time{}, &Error{Op: "subject", Err: errs.New("provider returned an empty subject token")}
	}
	return tok, exp, nil
}

// subjectErr types an error of a subject provider: its own *Error and
// *ValidationError as they are, anything else an *Error with Op "subject"
// that a retry may cure.
func subjectErr(err error) error {
	err = publicErr(err)
	if hasPublic(err) {
		return err
	}
	return &Error{Op: "subject", Err: httpx.Transient(err)}
}

// NewTokenSource checks cfg and returns a cached source of exchanged tokens,
// refreshed ahead of expiry as cfg.Cache says. Use it with Google Cloud
// clients through option.WithTokenSource. A failed check is a
// *ValidationError naming the Config field.
func NewTokenSource(cfg Config) (*CachedTokenSource, error) {
	x, err := newExchange(cfg, exchangeExtras{})
	if err != nil {
		return nil, err
	}
	return cacheWith(x, cfg.Cache, cfg.Logger)
}
