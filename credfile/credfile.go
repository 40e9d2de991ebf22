// Package credfile finds and loads Google credentials into token sources:
// every credential file type gcloud writes, and the metadata server.
//
//	creds, err := credfile.Detect(ctx, credfile.Options{})
//	if err != nil { … }
//	client, err := storage.NewClient(ctx, option.WithTokenSource(creds.TokenSource()))
//
// Detect looks where Google's client libraries look: the file
// GOOGLE_APPLICATION_CREDENTIALS names, gcloud's well-known file, the
// metadata server; Credentials.Origin says which. LoadFile and Load read a
// file the caller names. The file types:
//
//   - external_account: workload and workforce identity federation, with
//     any credential_source (file, url, executable, aws, certificate),
//     optionally impersonating a service account;
//   - external_account_authorized_user: a workforce user's refresh token;
//   - impersonated_service_account: a service account impersonated with the
//     file's source_credentials, of any of these types;
//   - service_account: a service account key (JWT-bearer grants, signed
//     as golang.org/x/oauth2/jwt signs them);
//   - authorized_user: a Google user's refresh token, as "gcloud auth
//     application-default login" writes it.
//
// Every token source is behind the module's refresh-ahead cache, and every
// failure is an *sts.Error or *sts.ValidationError.
//
// Every field of a file is checked before anything is fetched, once: an
// error is an *sts.ValidationError whose Field is the JSON path of the
// culprit, such as "credential_source.format.subject_token_field_name".
//
// # A file is data from someone else
//
// A credential file tells the package where to send credentials, so a file
// from someone else could send them anywhere. By default a file's endpoints
// must be Google's, in the caller's universe (Options.UniverseDomain,
// googleapis.com by default; the file's universe_domain must match): for a
// service S (sts for token_url, token_info_url and revoke_url;
// iamcredentials for service_account_impersonation_url; oauth2 for
// token_uri) in universe U, the hosts S.U, L.S.U, S.L.U, L-S.U, S-L.p.U
// (private service connect), S.L.rep.U (regional endpoints), all but the
// last also with .mtls before U, L being one DNS label; or a loopback address (tests,
// emulators); or a host in Options.AllowedHosts. Keys a reader could take
// for others (duplicates, case variants, which encoding/json would use,
// Unicode or confusable spellings) are refused. See Load.
package credfile

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/authtransport"
	"github.com/stsgo/sts/internal/errs"
	"github.com/stsgo/sts/internal/errtree"
	"github.com/stsgo/sts/internal/fsutil"
	"github.com/stsgo/sts/internal/locations"
	"github.com/stsgo/sts/internal/public"
)

// Credential configuration file types.
const (
	// TypeExternalAccount is a workload or workforce identity federation
	// file: a subject token is exchanged at STS, optionally followed by
	// service account impersonation.
	TypeExternalAccount = "external_account"
	// TypeExternalAccountAuthorizedUser is a workforce identity federation
	// user's refresh token, as "gcloud auth application-default login
	// --login-config" writes it.
	TypeExternalAccountAuthorizedUser = "external_account_authorized_user"
	// TypeImpersonatedServiceAccount is a service account impersonated
	// with other credentials (source_credentials, of any type here), as
	// "gcloud auth application-default login
	// --impersonate-service-account" writes it.
	TypeImpersonatedServiceAccount = "impersonated_service_account"
	// TypeServiceAccount is a service account key.
	TypeServiceAccount = "service_account"
	// TypeAuthorizedUser is a Google user's refresh token, as "gcloud auth
	// application-default login" writes it.
	TypeAuthorizedUser = "authorized_user"
)

// Environment variables read by the package (through Options.Getenv).
const (
	// EnvCredentials names the credential file Detect reads.
	EnvCredentials = "GOOGLE_APPLICATION_CREDENTIALS"
	// EnvQuotaProject, when set, overrides the file's quota_project_id, as
	// it does in Google's client libraries.
	EnvQuotaProject = "GOOGLE_CLOUD_QUOTA_PROJECT"
)

// maxFileSize bounds a credential file.
const maxFileSize = 1 << 20

// Options are the caller's settings for a loaded credential file. The zero
// value is ready to use: cloud-platform scope, http.DefaultClient, default
// time-outs, retries and cache, no logging, the process environment.
type Options struct {
	// Scopes are the OAuth scopes of the tokens. Nil means
	// sts.CloudPlatformScope; an empty non-nil slice is invalid. With
	// impersonation they are the service account token's scopes (the
	// exchange itself asks for cloud-platform); authorized-user refreshes
	// send no scope (the grant keeps the scopes of the sign-in), so they
	// are ignored there.
	Scopes []string
	// HTTPOptions holds the HTTP client, time-out, retry policy and
	// logger; the zero value is ready to use. The client also fetches the
	// subject tokens of url and aws sources.
	sts.HTTPOptions
	// Cache tunes the refresh-ahead cache in front of the returned token
	// source; the zero value is ready to use.
	Cache sts.CacheOptions
	// Getenv reads the environment: GOOGLE_APPLICATION_CREDENTIALS,
	// GOOGLE_CLOUD_QUOTA_PROJECT, and whatever the subject-token source
	// reads (GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES, AWS_REGION, …).
	// Nil means os.Getenv.
	Getenv func(string) string
	// OnRefreshTokenRotated, if set, is called with the new refresh token
	// whenever the server of an external_account_authorized_user file
	// returns one that differs from the current one. The new token is
	// already in use when it is called; persist it, or the next process
	// start will use a revoked token. It is called from the refreshing
	// goroutine, one call at a time, and should return quickly; a panic in
	// it is logged and ignored. Nil means rotations are kept in memory
	// only.
	OnRefreshTokenRotated func(newToken string)
	// Terminal, if set, runs the executable source of a workforce pool
	// file interactively on it, as gcloud does for sign-ins that prompt a
	// person (see sts.ExecutableSubject.Terminal): the file must then
	// have credential_source.executable.interactive_timeout_millis and
	// output_file, and Terminal must be a terminal, such as /dev/tty
	// opened for reading and writing, which the caller keeps open while
	// the credentials are in use. Other sources ignore it. Nil means
	// executables run non-interactively.
	Terminal *os.File
	// UniverseDomain is the caller's universe: a file naming another in
	// universe_domain is refused, and its endpoints must be Google
	// endpoints of this universe. Empty means "googleapis.com".
	UniverseDomain string
	// AllowedHosts are hosts, besides Google's endpoints of the universe
	// and loopback, that a file's token_url, token_info_url, revoke_url,
	// service_account_impersonation_url and token_uri may name: a host
	// name or IP address (matched without case), or "*.DOMAIN" for any
	// name under DOMAIN. A credential file is data from someone else: by
	// default it may send credentials only to Google. Nil allows none.
	AllowedHosts []string
	// MetadataProbe bounds Detect's check for a metadata server. Zero
	// means 2 s; negative means Detect does not look for one.
	MetadataProbe time.Duration
	// RegionalAccessBoundaries turns on regional access boundaries, as in
	// Google's client libraries, for workload and workforce pool
	// credentials and impersonated service accounts: the locations the
	// credentials' tokens may be used in are looked up at IAM Credentials
	// (allowedLocations, with the credentials' own token, in the
	// background, kept six hours; a failed lookup is retried after a
	// cool-down from 15 minutes doubling to six hours) and sent in the
	// x-allowed-locations header of the requests made through HTTPClient,
	// except to STS, IAM and regional endpoints. Failures never fail a
	// request: it goes without the header. The environment variable
	// GOOGLE_AUTH_TRUST_BOUNDARY_ENABLED set to "true" or "1" turns it on
	// too. It does nothing in universes other than googleapis.com, and
	// nothing for the token sources handed to other clients (TokenSource,
	// googlecreds.From), which carry no header.
	RegionalAccessBoundaries bool
	// IAMCredentialsURL is the IAM Credentials endpoint of the
	// allowedLocations lookups, such as "https://iamcredentials.googleapis.com".
	// Empty means the scheme and host of service_account_impersonation_url
	// when the file impersonates, else https://iamcredentials.googleapis.com.
	// It must be https unless its host is a loopback address.
	IAMCredentialsURL string
}

func (o *Options) getenv(k string) string {
	if o.Getenv != nil {
		return o.Getenv(k)
	}
	return os.Getenv(k)
}

// Credentials is a loaded, checked credential configuration file. Create it
// with Load, LoadFile or Detect. It is safe for concurrent use; no way of
// printing it shows a secret.
type Credentials struct {
	typ            string
	audience       string
	universe       string
	tokenURL       string
	tokenInfoURL   string
	revokeURL      string
	quotaProject   string
	serviceAccount string
	// raw returns the file, which holds secrets; nil for none. Like the
	// client secret, it is kept in a closure, which no way of printing
	// or encoding reads (fmt shows a function as an address).
	raw func() []byte
	ts  *sts.CachedTokenSource
	// revoke, if set, revokes what the file signed in (see Revoke).
	revoke func(ctx context.Context) error
	// mtls, set for certificate sources, builds a client presenting the
	// certificate over a base client.
	mtls func(base *http.Client) (*http.Client, error)
	// locations is the regional access boundary lookup, nil when off.
	locations *locations.Cache
	// for IntrospectOptions
	clientID     string
	clientSecret func() string // nil for none
	http         sts.HTTPOptions
	projectID    string
	// where the credentials came from
	path   string
	origin Origin
}

// Type returns the file's type (TypeExternalAccount,
// TypeExternalAccountAuthorizedUser, TypeImpersonatedServiceAccount,
// TypeServiceAccount, TypeAuthorizedUser), or TypeMetadataServer.
func (c *Credentials) Type() string { return c.typ }

// Audience returns the file's audience (the pool provider's resource
// name; an impersonated_service_account file's is its source's), or "".
func (c *Credentials) Audience() string { return c.audience }

// TokenSource returns the cached source of access tokens: exchanged,
// impersonated or refreshed, as the file says. Its tokens go in the
// Authorization header of Google API calls, for example with
// option.WithTokenSource. All calls return the same source.
func (c *Credentials) TokenSource() *sts.CachedTokenSource { return c.ts }

// UniverseDomain returns the file's universe_domain, or "googleapis.com".
func (c *Credentials) UniverseDomain() string { return c.universe }

// TokenURL returns the endpoint tokens are obtained from: the file's
// token_url, or the default one of the universe.
func (c *Credentials) TokenURL() string { return c.tokenURL }

// TokenInfoURL returns the file's token_info_url (the introspection
// endpoint), or "https://sts.<universe>/v1/introspect" when it has none.
func (c *Credentials) TokenInfoURL() string { return c.tokenInfoURL }

// Revoke signs out: it revokes what the credentials hold, so that no new
// token can be had from them, and drops the cached token.
//
// For an external_account_authorized_user file it revokes the refresh
// token in use (the file's, or the last one the server rotated to) at the
// file's revoke_url (else the revocation endpoint next to its token_url),
// as RFC 7009 has it (token and
// token_type_hint=refresh_token, the client's HTTP Basic credentials);
// afterwards every refresh fails with invalid_grant. For an executable
// source loaded with Options.Terminal (an interactive workforce sign-in) it
// runs the executable in revoke mode, gcloud's contract for pluggable auth
// (see sts.ExecutableSubject.Revoke). Other credentials cannot be revoked:
// their Revoke fails without a request. Failures are *sts.Error with Op "revoke" (or
// *sts.ValidationError for a configuration that cannot revoke).
func (c *Credentials) Revoke(ctx context.Context) error {
	if c.revoke == nil {
		return &sts.Error{Op: "revoke", Err: errs.New("only authorized-user files and interactive executable sources can be revoked")}
	}
	if err := c.revoke(ctx); err != nil {
		return public.Err(err)
	}
	c.ts.Invalidate(nil)
	return nil
}

// RevokeURL returns the revocation endpoint of an authorized-user file: its
// revoke_url, else the one next to its token_url; "" for other files.
func (c *Credentials) RevokeURL() string { return c.revokeURL }

// QuotaProjectID returns the project billed for API calls: the
// GOOGLE_CLOUD_QUOTA_PROJECT environment variable if set, else the file's
// quota_project_id, else "". HTTPClient sends it as x-goog-user-project.
func (c *Credentials) QuotaProjectID() string { return c.quotaProject }

// ServiceAccount returns the e-mail address of the service account whose
// tokens the credentials get: the impersonated one (from
// service_account_impersonation_url), a key's client_email, the metadata
// server's default account; or "".
func (c *Credentials) ServiceAccount() string { return c.serviceAccount }

// ProjectID returns a service account key's project_id; "" for other
// files, which name no project (the quota project is the project billed,
// not the project of the resources).
func (c *Credentials) ProjectID() string { return c.projectID }

// JSON returns a copy of the file as loaded (nil for the metadata
// server's credentials), which is where Google's clients read
// quota_project_id from (see package googlecreds). It holds the file's
// secrets: do not log it.
func (c *Credentials) JSON() []byte {
	if c.raw == nil {
		return nil
	}
	return bytes.Clone(c.raw())
}

// IntrospectOptions returns the options that introspect tokens the way the
// file says: its token_info_url (TokenInfoURL), universe, and client
// credentials (client_id and client_secret, which STS needs to introspect
// workforce tokens), with the HTTP client, time-out, retries and logger of
// the Options. Use it with sts.Introspect, changed as needed.
func (c *Credentials) IntrospectOptions() sts.IntrospectOptions {
	return sts.IntrospectOptions{
		URL:            c.tokenInfoURL,
		UniverseDomain: c.universe,
		ClientID:       c.clientID,
		ClientSecret:   reveal(c.clientSecret),
		HTTPOptions:    c.http,
	}
}

// Introspect asks STS about the current token of the credentials (see
// TokenSource) with c.IntrospectOptions(): it is sts.Introspect(ctx,
// token, c.IntrospectOptions()). A failure to get the token is that
// failure.
//
// STS only knows the tokens it issued: for files that impersonate a service
// account, the token is IAM's and is reported inactive.
func (c *Credentials) Introspect(ctx context.Context) (*sts.Introspection, error) {
	if c == nil {
		return nil, &sts.ValidationError{Field: "credfile.Credentials", Reason: "must not be nil"}
	}
	tok, err := c.ts.TokenContext(ctx)
	if err != nil {
		return nil, err
	}
	return sts.Introspect(ctx, tok.AccessToken, c.IntrospectOptions())
}

// String describes c without any secret. It has a value receiver so that
// a dereferenced Credentials prints redacted too.
func (c Credentials) String() string {
	return fmt.Sprintf("credfile.Credentials{Type:%q Audience:%q ServiceAccount:%q UniverseDomain:%q QuotaProject:%q TokenURL:%q}",
		c.typ, c.audience, c.serviceAccount, c.universe, c.quotaProject, c.tokenURL)
}

// GoString is String, so %#v redacts too.
func (c Credentials) GoString() string { return c.String() }

// Format implements fmt.Formatter: every verb prints String, so that no
// verb (%d, %x, %+v, …) reaches the fields.
func (c Credentials) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }

// HTTPClient returns a client that sends every request with the
// credentials' token (Authorization) and quota project
// (x-goog-user-project, unless the request already has one), over base's
// transport. A nil base means http.DefaultClient. A 401 answer invalidates
// the token used, so the next request gets a fresh one.
//
// The token goes only to the origin (scheme, host and port) of the request
// the caller made: a redirect to another origin carries no Authorization,
// Cookie or X-Goog-Api-Key header.
//
// For a certificate source the client also presents the workload's
// certificate, as a certificate-bound token (see x509subject.Binding) must
// be presented; base's Transport must then be an *http.Transport (or nil),
// otherwise the certificate is not presented.
func (c *Credentials) HTTPClient(base *http.Client) *http.Client {
	var hc http.Client
	if base != nil {
		hc = *base
	}
	if c.mtls != nil {
		if m, err := c.mtls(base); err == nil {
			hc = *m
		}
	}
	hc.Transport = &authtransport.Transport{
		Token:        c.token,
		Invalidate:   c.ts.Invalidate,
		Base:         hc.Transport,
		QuotaProject: c.quotaProject,
		Locations:    c.locations,
	}
	return &hc
}

// token returns the current token for a request; a failure that is not
// already an *sts.Error or *sts.ValidationError becomes an *sts.Error with
// Op "token".
func (c *Credentials) token(ctx context.Context) (*oauth2.Token, error) {
	tok, err := c.ts.TokenContext(ctx)
	if err != nil {
		_, isErr := errtree.As[*sts.Error](err)
		if _, isInvalid := errtree.As[*sts.ValidationError](err); !isErr && !isInvalid {
			err = &sts.Error{Op: "token", Err: err}
		}
		return nil, err
	}
	return tok, nil
}

// Load parses and checks a credential configuration file's content, as
// gcloud writes it, and builds its token source. Every type gcloud writes
// is read: external_account (workload and workforce identity federation),
// external_account_authorized_user, impersonated_service_account
// through the module's impersonation over its source_credentials (loaded
// like a file of their own), service_account and authorized_user with the
// grants golang.org/x/oauth2 sends for them, all behind the module's cache
// and errors.
// Another type is refused with the list of these.
//
// Every field is checked before anything is fetched: a bad file fails here
// with an *sts.ValidationError whose Field is the JSON path of the culprit,
// such as "credential_source.format.subject_token_field_name" (or the
// Options field, such as "credfile.Options.Scopes"); a required key that is
// missing while the file has a key close to it says so ("did you mean").
// Keys the package does not use are logged at debug level. No request is
// made and no file other than a certificate source's configuration, key
// pair and chain is read.
//
// A credential file is data from someone else, so it is held to what it
// could abuse. A key that a reader could take for another (a duplicate, a
// case variant such as "Token_URL" which encoding/json would use for
// token_url, a Unicode-folding or confusable spelling such as "token_ur1",
// any key outside printable ASCII), at any depth, is refused, naming it.
// token_url, token_info_url, revoke_url, service_account_impersonation_url
// and token_uri must be https (plain http only to loopback) and name a
// Google endpoint of the universe (STS, IAM Credentials or OAuth 2.0, in
// their global, locational, mTLS, private-service-connect and regional
// forms: see the package documentation), a loopback address, or one of
// Options.AllowedHosts; universe_domain must be Options.UniverseDomain;
// credential_source.url may send headers over plain http only to loopback
// or a cloud metadata address.
//
// Endpoints a file leaves out follow those it gives: without
// token_info_url (revoke_url), the introspection (revocation) endpoint is
// the one next to token_url (…/v1/introspect, …/v1/revoke on its host),
// and without token_url, the default of the universe.
func Load(data []byte, opts Options) (*Credentials, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff")) // a byte order mark, as Windows editors write
	report, err := checkKeys(data)
	if err != nil {
		return nil, err
	}
	c, err := load(data, &opts, 0)
	if err != nil {
		return nil, hint(err, report)
	}
	logUnknown(&opts, report)
	return c, nil
}

// maxDepth bounds the impersonated_service_account files nested in one
// another (a chain of maxDepth+1 impersonations is refused).
const maxDepth = 4

// load loads a checked document (the file, or its source_credentials at
// depth > 0).
func load(data []byte, opts *Options, depth int) (*Credentials, error) {
	f, err := decodeFile(data)
	if err != nil {
		return nil, err
	}
	if err := checkOptions(opts); err != nil {
		return nil, err
	}
	var c *Credentials
	switch f.Type {
	case TypeExternalAccount:
		c, err = loadExternalAccount(f, opts)
	case TypeExternalAccountAuthorizedUser:
		c, err = loadAuthorizedUser(f, opts)
	case TypeImpersonatedServiceAccount:
		c, err = loadImpersonated(f, opts, depth)
	case TypeServiceAccount:
		c, err = loadServiceAccount(f, opts)
	case TypeAuthorizedUser:
		c, err = loadUser(f, opts)
	case "":
		return nil, invalid("type", "must be set; supported types: %s", supportedTypes)
	default:
		return nil, invalid("type", "credential type %q is not supported; supported types: %s",
			truncate(f.Type, 64), supportedTypes)
	}
	if err != nil {
		return nil, err
	}
	raw := bytes.Clone(data)
	c.raw = func() []byte { return raw }
	c.http = opts.HTTPOptions
	return c, nil
}

// supportedTypes lists the types Load reads, for errors.
var supportedTypes = strings.Join([]string{TypeExternalAccount, TypeExternalAccountAuthorizedUser,
	TypeImpersonatedServiceAccount, TypeServiceAccount, TypeAuthorizedUser}, ", ")

// LoadFile reads the credential file at path (at most 1 MiB) and loads it
// with Load. A file that cannot be read gives an *sts.Error with Op "load";
// any error about its content starts with `sts: credential file "PATH": `
// and unwraps to the *sts.ValidationError (or *sts.Error) it is about.
func LoadFile(path string, opts Options) (*Credentials, error) {
	if path == "" {
		return nil, invalid("path", "must not be empty")
	}
	data, err := fsutil.ReadFileLimited(path, maxFileSize)
	if err != nil {
		return nil, &sts.Error{Op: "load", Err: errs.Errorf("reading credential file: %w", err)}
	}
	c, err := Load(data, opts)
	if err != nil {
		return nil, &fileError{path: path, err: err}
	}
	c.path = path
	return c, nil
}

// fileError is an error about the content of the credential file at path.
type fileError struct {
	// Not comparable, so that no equality function is linked for it.
	_    [0]func()
	path string
	err  error
}

func (e *fileError) Error() string {
	return fmt.Sprintf("sts: credential file %q: %s", e.path, strings.TrimPrefix(e.err.Error(), "sts: "))
}

func (e *fileError) Unwrap() error { return e.err }
