package sts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/compute/metadata"
	"golang.org/x/oauth2"

	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/errs"
	"github.com/stsgo/sts/internal/fsutil"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/secret"
	"github.com/stsgo/sts/internal/source"
	"github.com/stsgo/sts/internal/wire"
)

// Token type URNs used as subject, actor and requested token types.
const (
	TokenTypeJWT          = "urn:ietf:params:oauth:token-type:jwt"
	TokenTypeIDToken      = "urn:ietf:params:oauth:token-type:id_token"
	TokenTypeSAML2        = "urn:ietf:params:oauth:token-type:saml2"
	TokenTypeAccessToken  = "urn:ietf:params:oauth:token-type:access_token"
	TokenTypeMTLS         = "urn:ietf:params:oauth:token-type:mtls"
	TokenTypeAWS4Request  = "urn:ietf:params:aws:token-type:aws4_request"
	TokenTypeIntermediary = "urn:ietf:params:oauth:token-type:access_boundary_intermediary_token"
)

// SubjectRequest describes the exchange a subject token is wanted for. Providers
// that need it (executables, AWS) read it; others ignore it.
type SubjectRequest struct {
	// Audience is the STS audience of the exchange.
	Audience string
	// SubjectTokenType is the token type the exchange will declare.
	SubjectTokenType string
	// ImpersonatedEmail is the service account impersonated next, or "".
	ImpersonatedEmail string
}

// SubjectTokenProvider supplies the subject token of a token exchange. It is
// called once per exchange, with the exchange's context; implementations must
// honour the context's deadline and be safe for concurrent use.
//
// NewTokenSource also uses these optional methods of a provider:
//
//   - Validate() error: checks the configuration at construction.
//   - SubjectTokenTypes() []string: the only token types it can supply.
//   - SourceKind() string: its kind ("file", "aws", …) for the
//     x-goog-api-client header and logs; without it, "custom".
//   - ExchangeClient(base *http.Client) (*http.Client, error): the client
//     the exchange must use (X.509 federation presents its certificate).
//   - CertificateFingerprint() (string, error): at each exchange, the
//     fingerprint to bind the token to (options.bindCertFingerprint, which
//     Config.Options must then not hold), or "" for an unbound token.
type SubjectTokenProvider interface {
	SubjectToken(ctx context.Context, req SubjectRequest) (string, error)
}

// SubjectTokenFunc adapts a function to a SubjectTokenProvider.
type SubjectTokenFunc func(ctx context.Context, req SubjectRequest) (string, error)

// Validate reports a nil function.
func (f SubjectTokenFunc) Validate() error {
	if f == nil {
		return invalid("SubjectTokenFunc", "must not be nil")
	}
	return nil
}

// SubjectToken calls f(ctx, req).
func (f SubjectTokenFunc) SubjectToken(ctx context.Context, req SubjectRequest) (string, error) {
	return f(ctx, req)
}

// sourceKinded is a provider that names itself in the x-goog-api-client
// header ("file", "url", "executable", "aws", …).
type sourceKinded interface {
	SourceKind() string
}

// clientProvider is a provider whose exchange must go over a particular HTTP
// client (X.509 federation uses mutual TLS). base is the configured client,
// or nil.
type clientProvider interface {
	ExchangeClient(base *http.Client) (*http.Client, error)
}

// binder is a provider that binds exchanged tokens to the client
// certificate the exchange presents.
type binder interface {
	CertificateFingerprint() (string, error)
}

func subjectKind(p SubjectTokenProvider) string {
	if k, ok := p.(sourceKinded); ok {
		return k.SourceKind()
	}
	return "custom"
}

// bounded is implemented by the package's providers whose SubjectToken
// returns by its context's deadline (or sooner), so that a refresh need not
// run on a goroutine of its own to be abandoned at its deadline (see
// refresh.Config.Inline). A provider of another package is not assumed to.
type bounded interface{ bounded() bool }

// isBounded reports whether p returns by its context's deadline.
func isBounded(p SubjectTokenProvider) bool {
	b, ok := p.(bounded)
	return ok && b.bounded()
}

// maxSubjectSize caps a subject token read from a file or URL.
const maxSubjectSize = 1 << 20

// Format says how a subject token is stored in a file or URL response.
// The zero value means plain text, surrounding whitespace trimmed.
type Format struct {
	// Type is "text" or "json". Empty means "text".
	Type string
	// SubjectTokenField names the JSON field holding the token. Required
	// when Type is "json".
	SubjectTokenField string
}

func (f Format) validate(field string) error {
	switch f.Type {
	case "", "text":
		if f.SubjectTokenField != "" {
			return invalid(field+".SubjectTokenField", "only applies to the json format")
		}
	case "json":
		if f.SubjectTokenField == "" {
			return invalid(field+".SubjectTokenField", "must be set for the json format")
		}
	default:
		return invalid(field+".Type", "must be \"text\" or \"json\", got %q", httpx.Truncate(f.Type, 32))
	}
	return nil
}

// extract reads the token out of raw content.
func (f Format) extract(raw []byte) (string, error) {
	if f.Type == "json" {
		if err := wire.CheckMembers(raw, f.SubjectTokenField); err != nil {
			return "", errs.Errorf("JSON %w", err)
		}
		var m map[string]json.RawMessage
		if err := wire.DecodeJSON(raw, &m); err != nil {
			return "", err
		}
		v, ok := m[f.SubjectTokenField]
		if !ok {
			return "", errs.Errorf("JSON has no field %q", f.SubjectTokenField)
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", errs.Errorf("JSON field %q is not a string", f.SubjectTokenField)
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return "", errs.Errorf("JSON field %q is empty", f.SubjectTokenField)
		}
		return s, nil
	}
	s := strings.TrimSpace(string(raw))
	if s == "" {
		return "", errs.New("subject token is empty")
	}
	return s, nil
}

// FileSubject reads the subject token from a file at every exchange, so
// rotated tokens (Kubernetes projected tokens) are picked up. Path must name
// a regular file (or a link to one) of at most 1 MiB.
type FileSubject struct {
	// Path is the file to read. Required.
	Path string
	// Format says how the token is stored; the zero value is plain text.
	Format Format
}

// Validate checks Path and Format.
func (f FileSubject) Validate() error {
	if f.Path == "" {
		return invalid("FileSubject.Path", "must not be empty")
	}
	return f.Format.validate("FileSubject.Format")
}

// SourceKind returns "file".
func (FileSubject) SourceKind() string { return "file" }

// bounded: a read of at most 1 MiB from a regular file, which is never
// left waiting for a writer.
func (FileSubject) bounded() bool { return true }

// SubjectToken reads and returns the token.
func (f FileSubject) SubjectToken(ctx context.Context, _ SubjectRequest) (string, error) {
	if err := f.Validate(); err != nil {
		return "", err
	}
	// Only regular files, found on the opened handle: opening a named pipe
	// (or a device) could block the refresh forever, whatever ctx says.
	raw, err := fsutil.ReadFileLimited(f.Path, maxSubjectSize)
	if err != nil {
		return "", &Error{Op: "subject", Err: errs.Errorf("reading subject token file: %w", err)}
	}
	tok, err := f.Format.extract(raw)
	if err != nil {
		return "", &Error{Op: "subject", Err: errs.Errorf("subject token file %q: %w", f.Path, err)}
	}
	return tok, nil
}

// URLSubject fetches the subject token with a GET request at every exchange
// (Azure instance metadata, a sidecar). URL is required.
type URLSubject struct {
	// URL is fetched with GET. Required: an absolute http or https URL,
	// without user information.
	URL string
	// Headers are added to the request (for example Metadata: True). Their
	// values are never logged or quoted in errors.
	Headers Headers
	// Format says how the token is stored; the zero value is plain text.
	Format Format
	// HTTPClient sends the request. Nil means http.DefaultClient. Redirects
	// are never followed, whatever its CheckRedirect says.
	HTTPClient *http.Client
	// Timeout bounds the request. Zero means 10 s.
	Timeout time.Duration
}

// Validate checks URL, Headers, Timeout and Format.
func (u URLSubject) Validate() error {
	if err := verr(check.SourceURL("URLSubject.URL", u.URL)); err != nil {
		return err
	}
	if err := verr(check.Headers("URLSubject.Headers", u.Headers)); err != nil {
		return err
	}
	if u.Timeout < 0 {
		return invalid("URLSubject.Timeout", "must not be negative")
	}
	return u.Format.validate("URLSubject.Format")
}

// bounded: the request ends at the context's deadline.
func (URLSubject) bounded() bool { return true }

// SourceKind returns "url".
func (URLSubject) SourceKind() string { return "url" }

// SubjectToken fetches and returns the token.
func (u URLSubject) SubjectToken(ctx context.Context, _ SubjectRequest) (string, error) {
	if err := u.Validate(); err != nil {
		return "", err
	}
	timeout := u.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.URL, nil)
	if err != nil {
		return "", &Error{Op: "subject", Err: errs.New("cannot build subject token request")}
	}
	for k, v := range u.Headers {
		req.Header.Set(k, v)
	}
	// Redirects are not followed: they would carry Headers (credentials,
	// often) to wherever the server points.
	client := httpx.NoRedirects(u.HTTPClient)
	fail := func(status int, desc string, err error) *Error {
		return &Error{Op: "subject", Method: http.MethodGet, URL: httpx.RedactURL(req.URL), StatusCode: status, Description: desc, Err: err}
	}
	resp, err := client.Do(req)
	if err != nil {
		err = httpx.URLErrorCause(err) // it quotes the full URL, query included
		return "", fail(0, "", httpx.Transient(err))
	}
	defer resp.Body.Close()
	raw, err := fsutil.ReadUpTo(resp.Body, maxSubjectSize)
	if err != nil {
		return "", fail(resp.StatusCode, "", httpx.Retryable(errs.Errorf("reading body: %w", err)))
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		host := ""
		if loc, err := url.Parse(resp.Header.Get("Location")); err == nil {
			host = loc.Host
		}
		return "", fail(resp.StatusCode, fmt.Sprintf("redirect to host %s not followed", wire.Quote(host, 128)), nil)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// The status decides whether this is temporary; the server's
		// reason phrase is not quoted (it is free text).
		desc := http.StatusText(resp.StatusCode)
		if desc == "" {
			desc = "unexpected status"
		}
		return "", fail(resp.StatusCode, desc, nil)
	}
	if len(raw) > maxSubjectSize {
		return "", fail(resp.StatusCode, "", errs.New("body larger than 1 MiB"))
	}
	tok, err := u.Format.extract(raw)
	if err != nil {
		return "", fail(resp.StatusCode, "", err)
	}
	return tok, nil
}

// String describes u without header values or the URL's query and user.
func (u URLSubject) String() string {
	shown := "(not a URL)"
	if p, err := url.Parse(u.URL); err == nil {
		shown = httpx.RedactURL(p)
	}
	return fmt.Sprintf("sts.URLSubject{URL:%q Headers:%d}", shown, len(u.Headers))
}

// GoString is String.
func (u URLSubject) GoString() string { return u.String() }

// Headers are HTTP headers with secret values: fmt, JSON and slog show the
// names only. A map[string]string is assignable to it and from it.
type Headers map[string]string

// Format prints the header names, whatever the verb.
func (h Headers) Format(f fmt.State, verb rune) { secret.Format(f, verb, h.names()) }

// MarshalJSON encodes the header names, each with the value "REDACTED".
func (h Headers) MarshalJSON() ([]byte, error) {
	m := make(map[string]string, len(h))
	for k := range h {
		m[k] = secret.Redacted
	}
	return json.Marshal(m)
}

func (h Headers) names() string {
	keys := slices.Sorted(maps.Keys(h))
	for i, k := range keys {
		keys[i] = k + ":" + secret.Redacted
	}
	return "map[" + strings.Join(keys, " ") + "]"
}

// StaticSubject is a fixed subject token. It prints as REDACTED. The empty
// string is invalid.
type StaticSubject string

// Validate reports an empty token.
func (s StaticSubject) Validate() error {
	if s == "" {
		return invalid("StaticSubject", "must not be empty")
	}
	return nil
}

func (StaticSubject) bounded() bool { return true }

// SourceKind returns "static".
func (StaticSubject) SourceKind() string { return "static" }

// SubjectToken returns the token.
func (s StaticSubject) SubjectToken(context.Context, SubjectRequest) (string, error) {
	if s == "" {
		return "", invalid("StaticSubject", "must not be empty")
	}
	return string(s), nil
}

// String returns "REDACTED".
func (s StaticSubject) String() string { return secret.Redacted }

// Format prints String whatever the verb: no verb shows a secret.
func (s StaticSubject) Format(f fmt.State, verb rune) { secret.Format(f, verb, s.String()) }

// MarshalJSON encodes String: the token never reaches JSON.
func (s StaticSubject) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// TokenSourceSubject uses the access token of any oauth2.TokenSource
// (required; a ContextTokenSource gets the exchange's context) as a
// TokenTypeAccessToken subject; the exchanged token expires with it.
type TokenSourceSubject struct {
	// Source supplies the access token. Required.
	Source oauth2.TokenSource `json:"-"`
}

// Format prints Source's type only, whatever the verb.
func (t TokenSourceSubject) Format(f fmt.State, verb rune) {
	secret.Format(f, verb, fmt.Sprintf("sts.TokenSourceSubject{Source:%T}", t.Source))
}

// Validate reports a nil Source.
func (t TokenSourceSubject) Validate() error {
	if t.Source == nil {
		return invalid("TokenSourceSubject.Source", "must not be nil")
	}
	return nil
}

// SourceKind returns "tokensource".
func (TokenSourceSubject) SourceKind() string { return "tokensource" }

// bounded: the source is one of the package's, whose TokenContext returns
// by the context's deadline, or it has no TokenContext and is called on a
// goroutine of its own whose wait the context bounds (see sourceToken); any
// other ContextTokenSource might not honour its context.
func (t TokenSourceSubject) bounded() bool { return source.Bounded(t.Source) }

// SubjectToken returns the source's current access token.
func (t TokenSourceSubject) SubjectToken(ctx context.Context, req SubjectRequest) (string, error) {
	tok, _, err := t.subjectTokenExpiry(ctx, req)
	return tok, err
}

func (t TokenSourceSubject) subjectTokenExpiry(ctx context.Context, _ SubjectRequest) (string, time.Time, error) {
	if t.Source == nil {
		return "", time.Time{}, invalid("TokenSourceSubject.Source", "must not be nil")
	}
	tok, err := sourceToken(ctx, t.Source, "subject", "root token source")
	if err != nil {
		return "", time.Time{}, err
	}
	if !tok.Expiry.IsZero() && !tok.Expiry.After(time.Now()) {
		return "", time.Time{}, &Error{Op: "subject", Err: errs.New("root token source returned an expired token")}
	}
	return tok.AccessToken, tok.Expiry, nil
}

// sourceToken asks src for a token, passing ctx on if src is a
// ContextTokenSource. An *Error or *ValidationError comes back as it is; any
// other failure, and a missing token, is an *Error with Op op whose text
// starts with what (the source's role, such as "token source").
func sourceToken(ctx context.Context, src oauth2.TokenSource, op, what string) (*oauth2.Token, error) {
	tok, err := source.Fetch(ctx, src, op, what, hasPublic)
	return tok, publicErr(err)
}

// invalidate drops tok from src's cache, if src has one: call it when a
// server rejected tok.
func invalidate(src oauth2.TokenSource, tok *oauth2.Token) { source.Invalidate(src, tok) }

// MetadataSubject fetches a Google-signed ID token for Audience from the
// GCE/GKE metadata server, to federate a Google workload into another pool.
type MetadataSubject struct {
	// Audience is the aud claim of the ID token. Required.
	Audience string
	// Format is "standard" or "full". Empty means "full".
	Format string
	// Client talks to the metadata server. Nil means a client built with
	// metadata.NewClient(nil), which honours GCE_METADATA_HOST.
	Client *metadata.Client
}

// Validate checks Audience and Format.
func (m MetadataSubject) Validate() error {
	if m.Audience == "" {
		return invalid("MetadataSubject.Audience", "must not be empty")
	}
	switch m.Format {
	case "", "full", "standard":
	default:
		return invalid("MetadataSubject.Format", "must be \"standard\" or \"full\", got %q", httpx.Truncate(m.Format, 32))
	}
	return nil
}

// bounded: the metadata request ends at the context's deadline.
func (MetadataSubject) bounded() bool { return true }

// SourceKind returns "metadata".
func (MetadataSubject) SourceKind() string { return "metadata" }

// SubjectTokenTypes returns TokenTypeIDToken and TokenTypeJWT.
func (MetadataSubject) SubjectTokenTypes() []string { return []string{TokenTypeIDToken, TokenTypeJWT} }

// SubjectToken asks the metadata server for an ID token.
func (m MetadataSubject) SubjectToken(ctx context.Context, _ SubjectRequest) (string, error) {
	if err := m.Validate(); err != nil {
		return "", err
	}
	format := m.Format
	if format == "" {
		format = "full"
	}
	c := m.Client
	if c == nil {
		c = metadata.NewClient(nil)
	}
	path := "instance/service-accounts/default/identity?audience=" + url.QueryEscape(m.Audience) + "&format=" + format
	tok, err := c.GetWithContext(ctx, path)
	if err != nil {
		var nf metadata.NotDefinedError
		notDefined := errors.As(err, &nf)
		// The metadata package quotes the server's answer: cleaned.
		err = httpx.SafeCause(errs.Errorf("metadata identity token: %w", err), nil)
		if !notDefined {
			err = httpx.Retryable(err)
		}
		return "", &Error{Op: "subject", Err: err}
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", &Error{Op: "subject", Err: errs.New("metadata server returned an empty identity token")}
	}
	return tok, nil
}
