package sts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/exchange"
)

// Limits of a Credential Access Boundary, from Google's STS API reference
// (the Options message: "The access boundary can include up to 10 rules. The
// size of the parameter value should not exceed 2048 characters.").
const (
	// MaxAccessBoundaryRules is the largest number of rules a boundary may
	// hold. A boundary of exactly this many rules is legal.
	MaxAccessBoundaryRules = 10
	// MaxAccessBoundaryOptionsLength is the largest size, in bytes, of the
	// options parameter {"accessBoundary":{…}} that carries a boundary to
	// STS, measured as the package encodes it (compact JSON; "&" and "<"
	// are escaped as \u0026 and \u003c, so each costs 6 bytes). Counting
	// bytes rather than characters is the stricter reading of the limit.
	MaxAccessBoundaryOptionsLength = 2048

	// maxBoundaryFileSize bounds what ParseAccessBoundary reads; a legal
	// boundary is far smaller, but a file may be indented generously.
	maxBoundaryFileSize = 64 << 10

	storageResourcePrefix = "//storage.googleapis.com/projects/_/buckets/"
	inRolePrefix          = "inRole:"
)

// AccessBoundary is a Credential Access Boundary: the upper bound of what a
// downscoped token may do. Each rule names a resource (a Cloud Storage
// bucket), the roles whose permissions remain available on it and,
// optionally, a CEL condition that narrows them further; a request is allowed
// when any rule allows it.
//
// It marshals to the JSON that STS and Google's documentation use inside the
// "accessBoundary" wrapper ({"accessBoundaryRules":[…]}). The zero value
// holds no rule and is not valid: a boundary needs 1 to 10 rules. Validate
// reports what is wrong with a boundary; the constructors that take one call
// it.
type AccessBoundary struct {
	// Rules are the access boundary rules, 1 to MaxAccessBoundaryRules.
	Rules []AccessBoundaryRule `json:"accessBoundaryRules"`
}

// AccessBoundaryRule is the upper bound of the permissions available on one
// resource.
type AccessBoundaryRule struct {
	// AvailableResource is the full resource name the rule applies to, for
	// example "//storage.googleapis.com/projects/_/buckets/example-bucket".
	// Required.
	AvailableResource string `json:"availableResource"`
	// AvailablePermissions lists the roles whose permissions stay available
	// on the resource, each in the form "inRole:ROLE", for example
	// "inRole:roles/storage.objectViewer". At least one is required.
	AvailablePermissions []string `json:"availablePermissions"`
	// AvailabilityCondition optionally narrows the rule to the requests for
	// which its CEL expression is true. Nil means no condition.
	AvailabilityCondition *AvailabilityCondition `json:"availabilityCondition,omitempty"`
}

// AvailabilityCondition is a condition, in the Common Expression Language,
// that a request must meet for a rule's permissions to be available.
type AvailabilityCondition struct {
	// Expression is the CEL expression, for example
	// "resource.name.startsWith('projects/_/buckets/b/objects/customer-a')".
	// Required; it must parse as CEL, which package
	// github.com/stsgo/sts/downscope checks when it builds a downscoped
	// source or compiles a boundary (this package only checks that it is
	// not empty and is valid UTF-8, to stay free of a CEL parser).
	Expression string `json:"expression"`
	// Title optionally names the condition.
	Title string `json:"title,omitempty"`
	// Description optionally explains the condition.
	Description string `json:"description,omitempty"`
}

// BucketRule returns a rule that makes the given roles' permissions
// available on every object of a Cloud Storage bucket. Each role is an IAM
// role name such as "roles/storage.objectViewer"; a value that already starts
// with "inRole:" is kept as it is. The rule is not checked here: an empty
// bucket or no role makes the boundary that holds it fail validation.
func BucketRule(bucket string, roles ...string) AccessBoundaryRule {
	perms := make([]string, len(roles))
	for i, r := range roles {
		if !strings.HasPrefix(r, inRolePrefix) {
			r = inRolePrefix + r
		}
		perms[i] = r
	}
	return AccessBoundaryRule{
		AvailableResource:    storageResourcePrefix + bucket,
		AvailablePermissions: perms,
	}
}

// ObjectPrefixRule returns a rule like BucketRule's, narrowed by a condition
// to the objects whose names start with prefix, in the form Google's
// documentation gives:
//
//	resource.name.startsWith('projects/_/buckets/BUCKET/objects/PREFIX') ||
//	api.getAttribute('storage.googleapis.com/objectListPrefix', '').startsWith('PREFIX')
//
// The first half covers requests on objects; the second lets objects.list
// requests through when the listing prefix they ask for lies under PREFIX.
// Matching is on plain string prefixes: to stop at a "directory", end prefix
// with "/". An empty prefix allows the whole bucket. Quotes and backslashes
// in bucket and prefix are escaped for CEL.
func ObjectPrefixRule(bucket, prefix string, roles ...string) AccessBoundaryRule {
	r := BucketRule(bucket, roles...)
	r.AvailabilityCondition = &AvailabilityCondition{
		Expression: "resource.name.startsWith(" + celQuote("projects/_/buckets/"+bucket+"/objects/"+prefix) + ") || " +
			"api.getAttribute('storage.googleapis.com/objectListPrefix', '').startsWith(" + celQuote(prefix) + ")",
	}
	return r
}

// celQuote renders s as a single-quoted CEL string literal.
func celQuote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for _, r := range s {
		switch {
		case r == '\\' || r == '\'':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// Validate reports the first problem with the boundary as a
// *ValidationError whose Field is a Go path such as
// "AccessBoundary.Rules[2].AvailablePermissions[0]": the number of rules
// (1 to 10), a missing resource or permission, a permission not of the form
// "inRole:ROLE", an empty condition or one that is not valid UTF-8, or a
// boundary whose options parameter would exceed
// MaxAccessBoundaryOptionsLength characters. Whether a condition parses as
// CEL is checked by package github.com/stsgo/sts/downscope.
func (b *AccessBoundary) Validate() error {
	return b.validate(goNames)
}

// fieldNames spells the paths of a boundary's fields, as Go fields or as the
// JSON of a boundary file.
type fieldNames struct {
	root, rules, resource, permissions, condition, expression string
}

var (
	goNames = fieldNames{
		root: "AccessBoundary", rules: "Rules", resource: "AvailableResource",
		permissions: "AvailablePermissions", condition: "AvailabilityCondition", expression: "Expression",
	}
	jsonNames = fieldNames{
		root: "accessBoundary", rules: "accessBoundaryRules", resource: "availableResource",
		permissions: "availablePermissions", condition: "availabilityCondition", expression: "expression",
	}
)

func (b *AccessBoundary) validate(n fieldNames) error {
	if b == nil {
		return invalid(n.root, "must not be nil")
	}
	rulesField := n.root + "." + n.rules
	switch {
	case len(b.Rules) == 0:
		return invalid(rulesField, "must hold at least one rule")
	case len(b.Rules) > MaxAccessBoundaryRules:
		return invalid(rulesField, "holds %d rules, at most %d are allowed", len(b.Rules), MaxAccessBoundaryRules)
	}
	for i := range b.Rules {
		if err := b.Rules[i].validate(fmt.Sprintf("%s[%d]", rulesField, i), n); err != nil {
			return err
		}
	}
	opts, err := b.optionsJSON()
	if err != nil {
		return invalid(n.root, "cannot be encoded: %v", err)
	}
	if l := len(opts); l > MaxAccessBoundaryOptionsLength {
		return invalid(n.root, "encodes to %d bytes of options, at most %d are allowed", l, MaxAccessBoundaryOptionsLength)
	}
	return nil
}

func (r *AccessBoundaryRule) validate(path string, n fieldNames) error {
	field := path + "." + n.resource
	switch res := r.AvailableResource; {
	case res == "":
		return invalid(field, "must not be empty")
	case !cleanText(res):
		return invalid(field, "must be valid UTF-8 without spaces or control characters")
	case !strings.HasPrefix(res, "//"):
		return invalid(field, "must be a full resource name starting with \"//\", such as %q", storageResourcePrefix+"BUCKET")
	case strings.HasPrefix(res, storageResourcePrefix):
		if bucket := res[len(storageResourcePrefix):]; bucket == "" || strings.Contains(bucket, "/") {
			return invalid(field, "must name one bucket: %q", storageResourcePrefix+"BUCKET")
		}
	}
	field = path + "." + n.permissions
	if len(r.AvailablePermissions) == 0 {
		return invalid(field, "must hold at least one permission")
	}
	for j, p := range r.AvailablePermissions {
		if err := checkPermission(p); err != "" {
			return invalid(fmt.Sprintf("%s[%d]", field, j), "%s", err)
		}
	}
	if c := r.AvailabilityCondition; c != nil {
		field = path + "." + n.condition + "." + n.expression
		if strings.TrimSpace(c.Expression) == "" {
			return invalid(field, "must not be empty")
		}
		if !utf8.ValidString(c.Expression) {
			return invalid(field, "not valid UTF-8")
		}
	}
	return nil
}

// checkPermission returns what is wrong with an available permission, or "".
func checkPermission(p string) string {
	role, ok := strings.CutPrefix(p, inRolePrefix)
	if !ok {
		return fmt.Sprintf("must have the form %q, as in %q", "inRole:ROLE", "inRole:roles/storage.objectViewer")
	}
	if !cleanText(role) {
		return "role must be valid UTF-8 without spaces or control characters"
	}
	parts := strings.Split(role, "/")
	switch {
	case len(parts) == 2 && parts[0] == "roles" && parts[1] != "":
	case len(parts) == 4 && (parts[0] == "projects" || parts[0] == "organizations") &&
		parts[1] != "" && parts[2] == "roles" && parts[3] != "":
	default:
		return fmt.Sprintf("role %q must be \"roles/NAME\", \"projects/ID/roles/NAME\" or \"organizations/ID/roles/NAME\"", role)
	}
	return ""
}

// cleanText reports whether s is valid UTF-8 with no white space or control
// characters.
func cleanText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// boundaryOptions is the STS options parameter that carries a boundary.
type boundaryOptions struct {
	AccessBoundary *AccessBoundary `json:"accessBoundary"`
}

// optionsJSON renders the STS options parameter {"accessBoundary":{…}}
// byte for byte as the exchange sends it (Config.optionsJSON marshals the
// boundary's JSON inside a map with encoding/json).
func (b *AccessBoundary) optionsJSON() ([]byte, error) {
	return json.Marshal(boundaryOptions{AccessBoundary: b})
}

// boundaryFile is the JSON of a boundary file: the documented form
// {"accessBoundary":{"accessBoundaryRules":[…]}}, or the bare
// {"accessBoundaryRules":[…]}.
type boundaryFile struct {
	AccessBoundary *AccessBoundary      `json:"accessBoundary"`
	Rules          []AccessBoundaryRule `json:"accessBoundaryRules"`
}

// ParseAccessBoundary reads a Credential Access Boundary from JSON in the
// form Google's documentation uses,
//
//	{"accessBoundary": {"accessBoundaryRules": [{"availableResource": …,
//	  "availablePermissions": […], "availabilityCondition": {…}}]}}
//
// or the same without the "accessBoundary" wrapper, and validates it as
// Validate does (conditions are parsed as CEL by package
// github.com/stsgo/sts/downscope when the boundary is used).
// Unknown fields and trailing data are errors. Every error is a
// *ValidationError whose Field is a JSON path such as
// "accessBoundary.accessBoundaryRules[0].availablePermissions[1]".
func ParseAccessBoundary(data []byte) (*AccessBoundary, error) {
	if len(data) > maxBoundaryFileSize {
		return nil, invalid("accessBoundary", "file is %d bytes, larger than the %d allowed", len(data), maxBoundaryFileSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f boundaryFile
	if err := dec.Decode(&f); err != nil {
		return nil, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalid("accessBoundary", "unexpected data after the JSON object")
	}
	var b *AccessBoundary
	switch {
	case f.AccessBoundary != nil && f.Rules != nil:
		return nil, invalid("accessBoundaryRules", "must be inside \"accessBoundary\", not beside it")
	case f.AccessBoundary != nil:
		b = f.AccessBoundary
	case f.Rules != nil:
		b = &AccessBoundary{Rules: f.Rules}
	default:
		return nil, invalid("accessBoundary", "missing: the file must hold {\"accessBoundary\":{\"accessBoundaryRules\":[…]}}")
	}
	if err := b.validate(jsonNames); err != nil {
		return nil, err
	}
	return b, nil
}

// jsonError turns a decoding error into a *ValidationError naming the field.
func jsonError(err error) *ValidationError {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return typeMismatch("accessBoundary", te)
	case errors.As(err, &se):
		return invalid("accessBoundary", "not valid JSON at offset %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: "))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("accessBoundary", "not valid JSON: unexpected end of input")
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if name, ok := strings.CutPrefix(msg, "unknown field "); ok {
		if n, err := strconv.Unquote(name); err == nil {
			return invalid(n, "unknown field")
		}
	}
	return invalid("accessBoundary", "not valid JSON: %s", msg)
}

// DownscopeConfig configures downscoping of the tokens of a root credential:
// server-side by NewDownscopedTokenSource, or client-side through
// NewIntermediaryExchanger (used by package github.com/stsgo/sts/downscope).
// Source is required. A DownscopeConfig is not used after the constructor
// returns.
type DownscopeConfig struct {
	// Source supplies the root access tokens to downscope: any
	// oauth2.TokenSource, ideally a cached one (a CachedTokenSource, or
	// oauth2.ReuseTokenSource), since each exchange asks it for a token.
	// If it implements ContextTokenSource, the exchange's context is passed
	// on. Required.
	Source oauth2.TokenSource
	// Boundary is the Credential Access Boundary to apply. Required by
	// NewDownscopedTokenSource, which validates it and copies it; ignored
	// by NewIntermediaryExchanger.
	Boundary *AccessBoundary
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
	// Cache tunes the refresh-ahead cache of NewDownscopedTokenSource.
	Cache CacheOptions
}

// String describes c without secrets.
func (c DownscopeConfig) String() string {
	rules := 0
	if c.Boundary != nil {
		rules = len(c.Boundary.Rules)
	}
	return fmt.Sprintf("sts.DownscopeConfig{TokenURL:%q Rules:%d}", c.TokenURL, rules)
}

// GoString is String, so %#v redacts too.
func (c DownscopeConfig) GoString() string { return c.String() }

// exchangeConfig builds the exchange configuration shared by both kinds of
// downscoping: the root token is the subject, no audience and no scope. The
// subject is the root token the caller fetched and put in the exchange's
// context (see withRoot), so that each layer can tell whether the root token
// changed since its last exchange.
func (c DownscopeConfig) exchangeConfig(requested string) (Config, error) {
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return Config{
		Subject:            pinnedRoot{},
		SubjectTokenType:   TokenTypeAccessToken,
		RequestedTokenType: requested,
		Scopes:             []string{},
		TokenURL:           c.TokenURL,
		UniverseDomain:     c.UniverseDomain,
		HTTPOptions:        c.HTTPOptions,
		Cache:              c.Cache,
	}, nil
}

// validate checks the fields both kinds of downscoping use, naming them as
// DownscopeConfig fields (the Config built from them is valid then).
func (c DownscopeConfig) validate() error {
	if c.Source == nil {
		return invalid("DownscopeConfig.Source", "must not be nil")
	}
	if c.TokenURL != "" {
		if err := verr(check.Endpoint("DownscopeConfig.TokenURL", c.TokenURL)); err != nil {
			return err
		}
	}
	if err := verr(check.Universe("DownscopeConfig.UniverseDomain", c.UniverseDomain)); err != nil {
		return err
	}
	return c.HTTPOptions.validate("DownscopeConfig")
}

// rootKey carries the root token of one exchange in its context.
type rootKey struct{}

func withRoot(ctx context.Context, root *oauth2.Token) context.Context {
	return context.WithValue(ctx, rootKey{}, root)
}

// pinnedRoot is the subject provider of downscoping exchanges: the root
// token put in the context by withRoot, with its expiry (which the exchanged
// token inherits, since STS gives no expires_in for access token subjects).
type pinnedRoot struct{}

func (pinnedRoot) SourceKind() string { return "tokensource" }

// SubjectToken returns the root token pinned in ctx.
func (p pinnedRoot) SubjectToken(ctx context.Context, req SubjectRequest) (string, error) {
	tok, _, err := p.subjectTokenExpiry(ctx, req)
	return tok, err
}

func (pinnedRoot) subjectTokenExpiry(ctx context.Context, _ SubjectRequest) (string, time.Time, error) {
	t, _ := ctx.Value(rootKey{}).(*oauth2.Token)
	if t == nil || t.AccessToken == "" {
		return "", time.Time{}, &Error{Op: "subject", Err: errors.New("no root token")}
	}
	return t.AccessToken, t.Expiry, nil
}

// rootToken fetches a valid token from a root source, as TokenSourceSubject
// does (errors are *Error, with ctx passed to a ContextTokenSource).
func rootToken(ctx context.Context, src oauth2.TokenSource) (*oauth2.Token, error) {
	tok, exp, err := TokenSourceSubject{Source: src}.subjectTokenExpiry(ctx, SubjectRequest{})
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: tok, Expiry: exp}, nil
}

// NewDownscopedTokenSource returns a source of server-side downscoped tokens:
// each refresh exchanges a root token at STS for one limited by
// cfg.Boundary (subject_token_type access_token, options
// {"accessBoundary":…}, no audience, no scope). Unlike the downscoping of
// golang.org/x/oauth2 and cloud.google.com/go/auth, tokens are cached and
// refreshed ahead of expiry (cfg.Cache), so a boundary costs one STS request
// per token lifetime, not one per call.
//
// STS gives no lifetime for these exchanges: a downscoped token expires with
// the root token it came from. So a refresh first asks cfg.Source for its
// current token and exchanges only if that token changed (a stale root
// source then starts its own refresh); while the root token is the same,
// the current downscoped token is kept, since a new one could not live
// longer. The cost is one exchange per boundary per root token.
//
// The boundary is validated here (see AccessBoundary.Validate); later
// changes to it do not affect the source.
func NewDownscopedTokenSource(cfg DownscopeConfig) (*DownscopedTokenSource, error) {
	if cfg.Boundary == nil {
		return nil, invalid("DownscopeConfig.Boundary", "must not be nil")
	}
	if err := cfg.Boundary.Validate(); err != nil {
		return nil, err
	}
	xc, err := cfg.exchangeConfig(TokenTypeAccessToken)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(cfg.Boundary)
	if err != nil {
		return nil, invalid("DownscopeConfig.Boundary", "cannot be encoded: %v", err)
	}
	x, err := newExchange(xc, exchangeExtras{accessBoundary: raw})
	if err != nil {
		return nil, err
	}
	margin := cfg.Cache.ExpiryMargin
	if margin < 10*time.Second {
		margin = 10 * time.Second
	}
	d := &downscoper{root: cfg.Source, x: x, margin: margin}
	c, err := cacheWith(d, cfg.Cache, cfg.Logger)
	if err != nil {
		return nil, err
	}
	return &DownscopedTokenSource{c: c, d: d}, nil
}

// DownscopedTokenSource is a cached source of server-side downscoped tokens,
// made by NewDownscopedTokenSource. It behaves as a CachedTokenSource (the
// cache options come from DownscopeConfig.Cache). It is safe for concurrent
// use.
type DownscopedTokenSource struct {
	c *CachedTokenSource
	d *downscoper
}

// Token returns a valid downscoped token; see TokenContext.
func (s *DownscopedTokenSource) Token() (*oauth2.Token, error) { return s.c.Token() }

// TokenContext returns a valid downscoped token, from the cache when it
// can. ctx bounds only how long this caller waits when it must.
func (s *DownscopedTokenSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	return s.c.TokenContext(ctx)
}

// Invalidate drops tok (nil: whatever is cached) so that the next call
// exchanges again, even if the root token has not changed; call it after a
// server rejected tok.
func (s *DownscopedTokenSource) Invalidate(tok *oauth2.Token) {
	s.d.forget(tok)
	s.c.Invalidate(tok)
}

// LastError returns the error of the most recent refresh if it failed, or
// nil.
func (s *DownscopedTokenSource) LastError() error { return s.c.LastError() }

// String describes the source without its token.
func (s *DownscopedTokenSource) String() string { return "sts.DownscopedTokenSource" }

// GoString is String, so %#v redacts too.
func (s *DownscopedTokenSource) GoString() string { return s.String() }

// downscoper exchanges root tokens for downscoped ones, skipping the
// exchange while the root token has not changed.
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
	tok, err := d.x.TokenContext(withRoot(ctx, root))
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.last, d.lastRoot = tok, root.AccessToken
	d.mu.Unlock()
	return tok, nil
}

// forget drops the remembered token if it is tok (or tok is nil).
func (d *downscoper) forget(tok *oauth2.Token) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if tok == nil || d.last == tok {
		d.last, d.lastRoot = nil, ""
	}
}

// String describes d without its tokens.
func (d *downscoper) String() string { return "sts.downscoper" }

// Intermediary is an access boundary intermediary token and its session
// key, the two things STS returns for client-side downscoping. Both are
// secrets: String, GoString and %v print neither.
type Intermediary struct {
	// Token is the intermediary access token; client-side downscoped tokens
	// start with it and expire with it. Its Expiry is STS's lifetime, or
	// the root token's expiry when STS gives none.
	Token *oauth2.Token
	// SessionKey is access_boundary_session_key as STS sent it: the
	// standard base64 of a serialized Tink keyset.
	SessionKey string
}

// String describes i without its secrets.
func (i Intermediary) String() string {
	return "sts.Intermediary{Token:REDACTED SessionKey:REDACTED Expiry:" + tokenExpiryText(i.Token) + "}"
}

// GoString is String, so %#v redacts too.
func (i Intermediary) GoString() string { return i.String() }

// IntermediaryExchanger fetches access boundary intermediary tokens from STS
// (requested_token_type
// urn:ietf:params:oauth:token-type:access_boundary_intermediary_token). It
// does not cache: package github.com/stsgo/sts/downscope builds the
// client-side token sources on top of it. Create it with
// NewIntermediaryExchanger; it is safe for concurrent use.
type IntermediaryExchanger struct {
	root oauth2.TokenSource
	x    *exchange.Exchanger
}

// NewIntermediaryExchanger checks cfg (Source is required; Boundary and
// Cache are ignored) and returns an exchanger of intermediary tokens.
func NewIntermediaryExchanger(cfg DownscopeConfig) (*IntermediaryExchanger, error) {
	xc, err := cfg.exchangeConfig(TokenTypeIntermediary)
	if err != nil {
		return nil, err
	}
	x, err := newExchange(xc, exchangeExtras{})
	if err != nil {
		return nil, err
	}
	return &IntermediaryExchanger{root: cfg.Source, x: x}, nil
}

// RootToken returns the current token of the configured root source (with
// ctx passed on if it is a ContextTokenSource), checked to be unexpired.
// Callers compare it with the root token of their current intermediary: an
// intermediary token expires with its root token, so exchanging the same
// root token again cannot give a longer-lived one.
func (e *IntermediaryExchanger) RootToken(ctx context.Context) (*oauth2.Token, error) {
	return rootToken(ctx, e.root)
}

// Intermediary exchanges the root source's current token for an
// intermediary token and its session key. It is Exchange with RootToken's
// result.
func (e *IntermediaryExchanger) Intermediary(ctx context.Context) (*Intermediary, error) {
	root, err := e.RootToken(ctx)
	if err != nil {
		return nil, err
	}
	return e.Exchange(ctx, root)
}

// Exchange exchanges root (a token of the root source, see RootToken) for an
// intermediary token and its session key. A response without a session key
// is an *Error.
func (e *IntermediaryExchanger) Exchange(ctx context.Context, root *oauth2.Token) (*Intermediary, error) {
	if root == nil || root.AccessToken == "" {
		return nil, &Error{Op: "subject", Err: errors.New("no root token")}
	}
	r, err := e.x.Exchange(withRoot(ctx, root))
	if err != nil {
		return nil, publicErr(err)
	}
	return &Intermediary{Token: r.Token, SessionKey: r.SessionKey}, nil
}

// String describes e without secrets.
func (e *IntermediaryExchanger) String() string {
	return fmt.Sprintf("sts.IntermediaryExchanger{TokenURL:%q}", e.x.TokenURL())
}

// GoString is String, so %#v redacts too.
func (e *IntermediaryExchanger) GoString() string { return e.String() }
