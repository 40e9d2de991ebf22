package sts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/wire"
)

// Version is the version of this package reported in the x-goog-api-client
// header.
const Version = httpx.Version

// DefaultUniverseDomain is the universe domain of Google Cloud.
const DefaultUniverseDomain = "googleapis.com"

// CloudPlatformScope is the scope asked for when none is configured.
const CloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

// maxOptionsSize is the largest options JSON the package sends: STS's API
// reference limits the options parameter to 2048 characters (counted here
// as bytes, the stricter reading).
const maxOptionsSize = 2048

// Config configures an RFC 8693 token exchange at STS. Subject and
// SubjectTokenType are always required; Audience is required unless the
// subject is an access token (downscoping). Every other field has a
// documented default. A Config is checked by NewExchanger and NewTokenSource;
// it is not used after they return, so it may be reused or changed.
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
	ClientID, ClientSecret string
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
	// Cache tunes the refresh-ahead cache of NewTokenSource; NewExchanger
	// ignores it.
	Cache CacheOptions

	// accessBoundary is set by downscoping layers.
	accessBoundary json.RawMessage
	// impersonating and lifetimeSet feed the x-goog-api-client header.
	impersonating, lifetimeSet bool
}

// String describes c without any secret.
func (c Config) String() string {
	secret := redactedField("ClientSecret", c.ClientSecret)
	return fmt.Sprintf("sts.Config{Audience:%q SubjectTokenType:%q TokenURL:%q ClientID:%q%s}",
		c.Audience, c.SubjectTokenType, c.TokenURL, c.ClientID, secret)
}

// GoString is String, so %#v redacts too.
func (c Config) GoString() string { return c.String() }

var knownSubjectTypes = map[string]bool{
	TokenTypeJWT: true, TokenTypeIDToken: true, TokenTypeSAML2: true,
	TokenTypeAccessToken: true, TokenTypeMTLS: true, TokenTypeAWS4Request: true,
}

// validator is implemented by providers with configuration to check.
type validator interface{ validate() error }

// typedSubject is implemented by providers that can only supply some token
// types, so that a mismatch fails at construction rather than at the first
// exchange.
type typedSubject interface{ subjectTokenTypes() []string }

// checkSubjectType reports a provider that cannot supply tokens of type typ.
func checkSubjectType(field string, p SubjectTokenProvider, typ string) error {
	ts, ok := p.(typedSubject)
	if !ok {
		return nil
	}
	types := ts.subjectTokenTypes()
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
		if err := v.validate(); err != nil {
			return err
		}
	}
	if c.SubjectTokenType == "" {
		return invalid("Config.SubjectTokenType", "must not be empty")
	}
	if !knownSubjectTypes[c.SubjectTokenType] {
		return invalid("Config.SubjectTokenType", "unknown token type %q", httpx.Truncate(c.SubjectTokenType, 100))
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
	if c.ActorTokenType != "" && !knownSubjectTypes[c.ActorTokenType] {
		return invalid("Config.ActorTokenType", "unknown token type %q", httpx.Truncate(c.ActorTokenType, 100))
	}
	if v, ok := c.ActorToken.(validator); ok {
		if err := v.validate(); err != nil {
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
	// The options (their encoding and size) are checked by NewExchanger,
	// which encodes them once.
	return nil
}

func (c *Config) optionsJSON() ([]byte, error) {
	if len(c.Options) == 0 && len(c.accessBoundary) == 0 && (c.WorkforcePoolUserProject == "" || c.ClientID != "") {
		return nil, nil // the common case: no options, nothing to build
	}
	opts := make(map[string]any, len(c.Options)+2)
	for k, v := range c.Options {
		if k == "userProject" || k == "accessBoundary" {
			return nil, invalid("Config.Options", "key %q is set by the package", k)
		}
		opts[k] = v
	}
	if c.WorkforcePoolUserProject != "" && c.ClientID == "" {
		opts["userProject"] = c.WorkforcePoolUserProject
	}
	if len(c.accessBoundary) > 0 {
		opts["accessBoundary"] = c.accessBoundary
	}
	if len(opts) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(opts)
	if err != nil {
		return nil, invalid("Config.Options", "cannot be encoded as JSON: %v", err)
	}
	if len(b) > maxOptionsSize {
		return nil, invalid("Config.Options", "encoded options are %d bytes, limit %d", len(b), maxOptionsSize)
	}
	return b, nil
}

// Exchanger performs one token exchange per call, without caching. Use it to
// build other layers; most programs want NewTokenSource. Create it with
// NewExchanger; it is safe for concurrent use.
type Exchanger struct {
	subject    SubjectTokenProvider
	subjectReq SubjectRequest
	actor      SubjectTokenProvider
	actorType  string
	requested  string
	scopes     []string
	options    []byte
	resource   string
	tokenURL   string
	authHeader string
	kind       string // subject source, for logs
	doer       *httpDoer
}

// NewExchanger checks cfg and returns an uncached exchanging source.
func NewExchanger(cfg Config) (*Exchanger, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	opts, err := cfg.optionsJSON()
	if err != nil {
		return nil, err
	}
	tokenURL := cfg.TokenURL
	if tokenURL == "" {
		tokenURL = stsEndpoint(cfg.UniverseDomain, "/v1/token")
	}
	scopes := cfg.Scopes
	if scopes == nil {
		scopes = []string{CloudPlatformScope}
	}
	client := cfg.HTTPClient
	if cp, ok := cfg.Subject.(clientProvider); ok {
		c, err := cp.exchangeClient(client)
		if err != nil {
			return nil, err
		}
		client = c
	}
	requested := cfg.RequestedTokenType
	if requested == "" {
		requested = TokenTypeAccessToken
	}
	x := &Exchanger{
		subject:    cfg.Subject,
		subjectReq: SubjectRequest{Audience: cfg.Audience, SubjectTokenType: cfg.SubjectTokenType},
		actor:      cfg.ActorToken,
		actorType:  cfg.ActorTokenType,
		requested:  requested,
		scopes:     append([]string(nil), scopes...),
		options:    opts,
		resource:   cfg.Resource,
		tokenURL:   tokenURL,
		kind:       subjectKind(cfg.Subject),
		doer: newHTTPDoer(HTTPOptions{HTTPClient: client, Timeout: cfg.Timeout, Retry: cfg.Retry, Logger: cfg.Logger},
			httpx.ExternalAccountAPIClient(subjectKind(cfg.Subject), cfg.impersonating, cfg.lifetimeSet)),
	}
	if cfg.ClientID != "" {
		x.authHeader = httpx.BasicAuth(cfg.ClientID, cfg.ClientSecret)
	}
	return x, nil
}

// Token performs an exchange with context.Background().
func (x *Exchanger) Token() (*oauth2.Token, error) { return x.TokenContext(context.Background()) }

// TokenContext fetches a subject token and exchanges it at STS.
func (x *Exchanger) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	tok, _, err := x.exchange(ctx)
	return tok, err
}

// exchange returns the token and the raw response (for session keys).
func (x *Exchanger) exchange(ctx context.Context) (*oauth2.Token, *wire.TokenResponse, error) {
	fetched := time.Now()
	subject, subjectExpiry, err := fetchSubject(ctx, x.subject, x.subjectReq)
	if err != nil {
		x.doer.log(ctx, slog.LevelDebug, "sts: subject token failed", "source", x.kind, "elapsed", time.Since(fetched), "error", err.Error())
		return nil, nil, err
	}
	x.doer.log(ctx, slog.LevelDebug, "sts: subject token", "source", x.kind, "elapsed", time.Since(fetched))
	req := wire.TokenRequest{
		RequestedTokenType: x.requested,
		SubjectToken:       subject,
		SubjectTokenType:   x.subjectReq.SubjectTokenType,
		Audience:           x.subjectReq.Audience,
		Scopes:             x.scopes,
		Options:            x.options,
		Resource:           x.resource,
	}
	if x.requested == TokenTypeIntermediary {
		req.Scopes = nil
	}
	if x.actor != nil {
		actor, _, err := fetchSubject(ctx, x.actor, x.subjectReq)
		if err != nil {
			return nil, nil, err
		}
		req.ActorToken, req.ActorTokenType = actor, x.actorType
	}
	var hdr http.Header
	if x.authHeader != "" {
		hdr = http.Header{"Authorization": {x.authHeader}}
	}
	tok, resp, err := x.doer.postToken(ctx, "exchange", x.tokenURL, req.Encode(), hdr, subject, req.ActorToken)
	if err != nil {
		return nil, nil, err
	}
	if !resp.HasExpiresIn {
		// STS leaves expires_in out only for an access token subject,
		// whose own expiry then applies (zero if the caller's token has
		// none). Any other answer without a lifetime is refused: it
		// would be served forever.
		if x.subjectReq.SubjectTokenType != TokenTypeAccessToken {
			return nil, nil, &Error{Op: "exchange", StatusCode: http.StatusOK, Err: errNoExpiresIn}
		}
		tok.Expiry = subjectExpiry
	}
	return tok, resp, nil
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
			tok, exp, err = "", time.Time{}, &Error{Op: "subject", Err: errors.New("subject token provider panicked")}
		}
	}()
	if e, ok := p.(expiringSubject); ok {
		tok, exp, err = e.subjectTokenExpiry(ctx, req)
	} else {
		tok, err = p.SubjectToken(ctx, req)
	}
	if err != nil {
		var se *Error
		if errors.As(err, &se) {
			return "", time.Time{}, err
		}
		var ve *ValidationError
		if errors.As(err, &ve) {
			return "", time.Time{}, err
		}
		return "", time.Time{}, &Error{Op: "subject", Err: httpx.Transient(err)}
	}
	if tok == "" {
		return "", time.Time{}, &Error{Op: "subject", Err: errors.New("provider returned an empty subject token")}
	}
	return tok, exp, nil
}

// String describes x without secrets. It has a value receiver so that a
// dereferenced Exchanger prints redacted too.
func (x Exchanger) String() string {
	return fmt.Sprintf("sts.Exchanger{Audience:%q TokenURL:%q}", x.subjectReq.Audience, x.tokenURL)
}

// GoString is String, so %#v redacts too.
func (x Exchanger) GoString() string { return x.String() }

// NewTokenSource checks cfg and returns a cached source of exchanged tokens:
// an Exchanger wrapped in a CachedTokenSource configured by cfg.Cache. Use
// it with Google Cloud clients through option.WithTokenSource.
func NewTokenSource(cfg Config) (*CachedTokenSource, error) {
	x, err := NewExchanger(cfg)
	if err != nil {
		return nil, err
	}
	return cacheWith(x, cfg.Cache, cfg.Logger)
}
