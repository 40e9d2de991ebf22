package sts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/stsgo/sts/internal/authtransport"
	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/fsutil"
	"github.com/stsgo/sts/internal/httpx"
)

// Credential configuration file types read by LoadCredentials.
const (
	// TypeExternalAccount is a workload or workforce identity federation
	// file: a subject token is exchanged at STS, optionally followed by
	// service account impersonation.
	TypeExternalAccount = "external_account"
	// TypeExternalAccountAuthorizedUser is a workforce identity federation
	// user's refresh token, as "gcloud auth application-default login
	// --login-config" writes it.
	TypeExternalAccountAuthorizedUser = "external_account_authorized_user"
)

// Environment variables read by the loader (through LoadOptions.Getenv).
const (
	// EnvCredentials names the credential file LoadCredentialsFromEnv
	// reads.
	EnvCredentials = "GOOGLE_APPLICATION_CREDENTIALS"
	// EnvQuotaProject, when set, overrides the file's quota_project_id, as
	// it does in Google's client libraries.
	EnvQuotaProject = "GOOGLE_CLOUD_QUOTA_PROJECT"
)

// maxCredentialsFileSize bounds a credential file.
const maxCredentialsFileSize = 1 << 20

// LoadOptions are the caller's settings for a loaded credential file. The zero
// value is ready to use: cloud-platform scope, http.DefaultClient, default
// time-outs, retries and cache, no logging, the process environment.
type LoadOptions struct {
	// Scopes are the OAuth scopes of the tokens. Nil means
	// CloudPlatformScope. With impersonation they are the service
	// account token's scopes (the exchange itself asks for
	// cloud-platform); authorized-user refreshes send no scope (the grant
	// keeps the scopes of the login), so they are ignored there.
	Scopes []string
	// HTTPOptions holds the HTTP client, time-out, retry policy and
	// logger; the zero value is ready to use.
	HTTPOptions
	// Cache tunes the refresh-ahead cache in front of the returned token
	// source.
	Cache CacheOptions
	// Getenv reads the environment: GOOGLE_APPLICATION_CREDENTIALS,
	// GOOGLE_CLOUD_QUOTA_PROJECT, and whatever the subject-token provider
	// reads (GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES, AWS_REGION, …).
	// Nil means os.Getenv.
	Getenv func(string) string
	// OnRefreshTokenRotated is called with the new refresh token when the
	// server of an external_account_authorized_user file rotates it; see
	// AuthorizedUserConfig.OnRefreshTokenRotated. Nil means rotations are
	// kept in memory only.
	OnRefreshTokenRotated func(newToken string)
}

func (o *LoadOptions) getenv(k string) string {
	if o.Getenv != nil {
		return o.Getenv(k)
	}
	return os.Getenv(k)
}

// Credentials is a loaded, validated credential configuration file. Create it
// with LoadCredentials, LoadCredentialsFile or LoadCredentialsFromEnv. It is
// safe for concurrent use; its String never shows a secret.
type Credentials struct {
	typ            string
	audience       string
	universe       string
	tokenURL       string
	tokenInfoURL   string
	revokeURL      string
	quotaProject   string
	serviceAccount string
	raw            []byte
	ts             *CachedTokenSource
	// for IntrospectOptions
	clientID, clientSecret string
	opts                   LoadOptions
}

// Type returns the file's type: TypeExternalAccount or
// TypeExternalAccountAuthorizedUser.
func (c *Credentials) Type() string { return c.typ }

// Audience returns the file's audience (the pool provider's resource name).
func (c *Credentials) Audience() string { return c.audience }

// TokenSource returns the cached source of access tokens: exchanged,
// impersonated or refreshed, as the file says. Its tokens go in the
// Authorization header of Google API calls, for example with
// option.WithTokenSource. All calls return the same source.
func (c *Credentials) TokenSource() *CachedTokenSource { return c.ts }

// UniverseDomain returns the file's universe_domain, or "googleapis.com".
func (c *Credentials) UniverseDomain() string { return c.universe }

// TokenURL returns the endpoint tokens are obtained from: the file's
// token_url, or the default one of the universe.
func (c *Credentials) TokenURL() string { return c.tokenURL }

// TokenInfoURL returns the file's token_info_url (the introspection
// endpoint), or "https://sts.<universe>/v1/introspect" when it has none.
func (c *Credentials) TokenInfoURL() string { return c.tokenInfoURL }

// RevokeURL returns the file's revoke_url (authorized-user files), or "".
func (c *Credentials) RevokeURL() string { return c.revokeURL }

// QuotaProjectID returns the project billed for API calls: the
// GOOGLE_CLOUD_QUOTA_PROJECT environment variable if set, else the file's
// quota_project_id, else "". HTTPClient sends it as x-goog-user-project.
func (c *Credentials) QuotaProjectID() string { return c.quotaProject }

// ServiceAccount returns the e-mail address of the impersonated service
// account (from service_account_impersonation_url), or "".
func (c *Credentials) ServiceAccount() string { return c.serviceAccount }

// IntrospectOptions returns the options that introspect tokens the way the
// file says: its token_info_url (TokenInfoURL), universe, and client
// credentials (client_id and client_secret, which STS needs to introspect
// workforce tokens), with the HTTP client, time-out, retries and logger of
// the LoadOptions. Use it with Introspect.
func (c *Credentials) IntrospectOptions() IntrospectOptions {
	return IntrospectOptions{
		URL:            c.tokenInfoURL,
		UniverseDomain: c.universe,
		ClientID:       c.clientID,
		ClientSecret:   c.clientSecret,
		HTTPOptions:    c.opts.HTTPOptions,
	}
}

// String describes c without any secret. It has a value receiver so that
// a dereferenced Credentials prints redacted too.
func (c Credentials) String() string {
	return fmt.Sprintf("sts.Credentials{Type:%q Audience:%q ServiceAccount:%q UniverseDomain:%q QuotaProject:%q TokenURL:%q}",
		c.typ, c.audience, c.serviceAccount, c.universe, c.quotaProject, c.tokenURL)
}

// GoString is String, so %#v redacts too.
func (c Credentials) GoString() string { return c.String() }

// GoogleCredentials returns the credentials as a *google.Credentials of
// golang.org/x/oauth2/google, for option.WithCredentials of Google Cloud
// clients. TokenSource is c.TokenSource(); UniverseDomainProvider reports
// c.UniverseDomain(); JSON is the file as loaded, which is where Google's
// clients read quota_project_id from (they send it as x-goog-user-project,
// and let GOOGLE_CLOUD_QUOTA_PROJECT override it) — note that JSON therefore
// holds the file's secrets, as with any google.Credentials. ProjectID is
// empty: an external account file names no project (the quota project is
// the project billed, not the project of the resources).
func (c *Credentials) GoogleCredentials() *google.Credentials {
	universe := c.universe
	return &google.Credentials{
		TokenSource:            c.ts,
		JSON:                   bytes.Clone(c.raw),
		UniverseDomainProvider: func() (string, error) { return universe, nil },
	}
}

// HTTPClient returns a client that sends every request with the
// credentials' token (Authorization) and quota project
// (x-goog-user-project, unless the request already has one), over base's
// transport. A nil base means http.DefaultClient. A 401 answer invalidates
// the token used, so the next request gets a fresh one.
//
// The token goes only to the origin (scheme, host and port) of the request
// the caller made: a redirect to another origin carries no Authorization,
// Cookie or X-Goog-Api-Key header.
func (c *Credentials) HTTPClient(base *http.Client) *http.Client {
	return authorizedClient(c.ts, base, c.quotaProject)
}

// authorizedClient returns a copy of base (nil means http.DefaultClient)
// whose transport authorizes requests with src's tokens and bills quota,
// if set; a 401 invalidates the token used if src has an Invalidate method.
func authorizedClient(src oauth2.TokenSource, base *http.Client, quota string) *http.Client {
	var hc http.Client
	if base != nil {
		hc = *base
	}
	hc.Transport = &authtransport.Transport{
		Token: func(ctx context.Context) (*oauth2.Token, error) {
			return sourceToken(ctx, src, "token", "token source")
		},
		Invalidate:   func(tok *oauth2.Token) { invalidate(src, tok) },
		Base:         hc.Transport,
		QuotaProject: quota,
	}
	return &hc
}

// LoadCredentials parses and validates a credential configuration file's
// content (type external_account or external_account_authorized_user, as
// gcloud writes them) and builds its token source. Every field is checked
// before anything is fetched: a bad file fails here with a
// *ValidationError whose Field is the JSON path of the culprit, such as
// "credential_source.format.subject_token_field_name". No request is made
// and no file other than an X.509 source's certificate is read.
//
// Endpoints are derived from universe_domain when the file has none
// (https://sts.<universe>/v1/token, …/v1/oauthtoken); an explicit token_url
// or service_account_impersonation_url is used as written even when its
// host belongs to another universe. token_url, token_info_url, revoke_url and
// service_account_impersonation_url must be https unless their host is a
// loopback address.
func LoadCredentials(data []byte, opts LoadOptions) (*Credentials, error) {
	f, err := decodeCredentialsFile(data)
	if err != nil {
		return nil, err
	}
	if err := checkLoadOptions(&opts); err != nil {
		return nil, err
	}
	var c *Credentials
	switch f.Type {
	case TypeExternalAccount:
		c, err = loadExternalAccount(f, &opts)
	case TypeExternalAccountAuthorizedUser:
		c, err = loadAuthorizedUser(f, &opts)
	case "":
		return nil, invalid("type", "must be set (%q or %q)", TypeExternalAccount, TypeExternalAccountAuthorizedUser)
	default:
		return nil, invalid("type", "unsupported credential type %q (want %q or %q)",
			httpx.Truncate(f.Type, 64), TypeExternalAccount, TypeExternalAccountAuthorizedUser)
	}
	if err != nil {
		return nil, err
	}
	c.raw = bytes.Clone(data)
	c.clientID, c.clientSecret = f.ClientID, f.ClientSecret
	c.opts = opts
	c.opts.OnRefreshTokenRotated = nil // not kept: only the token source uses it
	return c, nil
}

// LoadCredentialsFile reads the credential file at path (at most 1 MiB) and
// loads it with LoadCredentials. A file that cannot be read gives an *Error
// with Op "load".
func LoadCredentialsFile(path string, opts LoadOptions) (*Credentials, error) {
	if path == "" {
		return nil, invalid("path", "must not be empty")
	}
	data, err := fsutil.ReadFileLimited(path, maxCredentialsFileSize)
	if err != nil {
		return nil, &Error{Op: "load", Err: fmt.Errorf("reading credential file: %w", err)}
	}
	return LoadCredentials(data, opts)
}

// LoadCredentialsFromEnv loads the credential file named by the
// GOOGLE_APPLICATION_CREDENTIALS environment variable (read through
// opts.Getenv). An unset variable is a *ValidationError naming it.
func LoadCredentialsFromEnv(opts LoadOptions) (*Credentials, error) {
	path := opts.getenv(EnvCredentials)
	if path == "" {
		return nil, invalid(EnvCredentials, "is not set")
	}
	return LoadCredentialsFile(path, opts)
}

func checkLoadOptions(o *LoadOptions) error {
	if err := check.Scopes("LoadOptions.Scopes", o.Scopes); err != nil {
		return verr(err)
	}
	if o.Scopes != nil && len(o.Scopes) == 0 {
		return invalid("LoadOptions.Scopes", "must hold at least one scope (nil means cloud-platform)")
	}
	if err := o.HTTPOptions.validate("LoadOptions"); err != nil {
		return err
	}
	return o.Cache.check("LoadOptions.Cache")
}

// decodeCredentialsFile decodes the JSON, turning decoding errors into
// *ValidationError that give a position or a field but never quote a value.
func decodeCredentialsFile(data []byte) (*credentialsFile, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff")) // a byte order mark, as Windows editors write
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, invalid("credentials JSON", "is empty")
	}
	if trimmed[0] != '{' {
		return nil, invalid("credentials JSON", "must be a JSON object")
	}
	var f credentialsFile
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		return nil, credJSONError(data, err)
	}
	if dec.More() {
		off := dec.InputOffset()
		line, col := textPosition(data, off)
		return nil, invalid("credentials JSON", "unexpected data after the object at line %d, column %d", line, col)
	}
	var tail json.RawMessage
	if err := dec.Decode(&tail); err != io.EOF {
		line, col := textPosition(data, dec.InputOffset())
		return nil, invalid("credentials JSON", "unexpected data after the object at line %d, column %d", line, col)
	}
	return &f, nil
}

func credJSONError(data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line, col := textPosition(data, max(se.Offset-1, 0)) // Offset is just past the bad byte
		return invalid("credentials JSON", "syntax error at line %d, column %d (byte %d)", line, col, se.Offset)
	case errors.As(err, &te):
		return typeMismatch("credentials JSON", te)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		line, col := textPosition(data, int64(len(data)))
		return invalid("credentials JSON", "truncated at line %d, column %d", line, col)
	}
	return invalid("credentials JSON", "is not valid JSON")
}

// typeMismatch reports a JSON value of the wrong kind, naming its field (or
// root, for the document itself) without quoting the value.
func typeMismatch(root string, te *json.UnmarshalTypeError) *ValidationError {
	field := te.Field
	if field == "" {
		field = root
	}
	return invalid(field, "must be %s, got a JSON %s", credJSONKind(te.Type), te.Value)
}

// credJSONKind names the JSON kind a Go type decodes from.
func credJSONKind(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "a value"
}

// textPosition converts the 0-based byte offset of a character into its
// 1-based line and column.
func textPosition(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	head := data[:off]
	line = bytes.Count(head, []byte{'\n'}) + 1
	col = int(off) - bytes.LastIndexByte(head, '\n')
	return line, col
}
