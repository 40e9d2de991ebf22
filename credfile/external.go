package credfile

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/exchange"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/iam"
	"github.com/stsgo/sts/internal/logenv"
	"github.com/stsgo/sts/internal/refresh"
)

// Names of the Options fields in errors.
const (
	fieldScopes = "credfile.Options.Scopes"
	fieldClient = "credfile.Options.HTTPClient"
)

// checkOptions checks the caller's options.
func checkOptions(o *Options) error {
	if err := check.Scopes(fieldScopes, o.Scopes); err != nil {
		return verr(err)
	}
	if o.Scopes != nil && len(o.Scopes) == 0 {
		return invalid(fieldScopes, "must hold at least one scope (nil means cloud-platform)")
	}
	if err := check.NonNegative("credfile.Options.Timeout", o.Timeout); err != nil {
		return verr(err)
	}
	if err := check.Retry("credfile.Options.Retry", o.Retry.MaxAttempts, o.Retry.InitialBackoff, o.Retry.MaxBackoff); err != nil {
		return verr(err)
	}
	if err := check.Universe("credfile.Options.UniverseDomain", o.UniverseDomain); err != nil {
		return verr(err)
	}
	if err := check.AllowedHosts("credfile.Options.AllowedHosts", o.AllowedHosts); err != nil {
		return verr(err)
	}
	if field, reason, ok := refresh.Options(o.Cache).Check(); !ok {
		return invalid("credfile.Options.Cache."+field, "%s", reason)
	}
	return checkLocationsOptions(o)
}

// httpOptions returns the options of an internal Doer sending apiClient as
// its x-goog-api-client header, over client.
func (o *Options) httpOptions(client *http.Client, apiClient string) httpx.Options {
	return httpx.Options{Client: client, Timeout: o.Timeout, Retry: httpx.Retry(o.Retry), Logger: o.Logger, APIClient: apiClient}
}

// cached puts src behind the cache the options ask for. The cache converts
// the engines' errors to the public types.
func (o *Options) cached(src oauth2.TokenSource) (*sts.CachedTokenSource, error) {
	opts := o.Cache
	opts.Logger = logenv.Or(opts.Logger, o.Logger)
	return sts.NewCachedTokenSource(src, opts)
}

// stsEndpoint returns the default URL of an STS method, such as
// "/v1/token", in a universe.
func stsEndpoint(universe, path string) string {
	return "https://sts." + universe + path
}

// fileUniverse returns the file's universe_domain, which must be the
// caller's (Options.UniverseDomain), or the caller's when it has none.
func fileUniverse(f *fileJSON, o *Options) (string, error) {
	caller := o.UniverseDomain
	if caller == "" {
		caller = sts.DefaultUniverseDomain
	}
	if f.UniverseDomain == nil {
		return caller, nil
	}
	u := *f.UniverseDomain
	if u == "" {
		return "", invalid("universe_domain", "must not be empty when present")
	}
	if err := verr(check.FileUniverse("universe_domain", u, caller)); err != nil {
		return "", err
	}
	return caller, nil
}

// endpoint checks an optional endpoint field of service in universe (see
// check.FileEndpoint: Google's endpoints, loopback and
// Options.AllowedHosts) and returns it, or def when the field is absent;
// present but empty is an error.
func (o *Options) endpoint(field string, v *string, def, service, universe string) (string, error) {
	if v == nil {
		return def, nil
	}
	if err := verr(check.FileEndpoint(field, *v, service, universe, o.AllowedHosts)); err != nil {
		return "", err
	}
	return *v, nil
}

// sibling returns the endpoint of an STS method ("introspect", "revoke")
// next to tokenURL: its last path segment (token, oauthtoken) replaced, so
// that a file naming a private or test endpoint for tokens gets the other
// methods there too.
func sibling(tokenURL, method string) string {
	u, err := url.Parse(tokenURL)
	if err != nil {
		return tokenURL // checked before: not reached
	}
	u.RawQuery, u.Fragment = "", ""
	if i := strings.LastIndexByte(u.Path, '/'); i >= 0 && (u.Path[i+1:] == "token" || u.Path[i+1:] == "oauthtoken") {
		u.Path = u.Path[:i+1] + method
	} else {
		u.Path = "/v1/" + method
	}
	u.RawPath = ""
	return u.String()
}

// quotaProject applies GOOGLE_CLOUD_QUOTA_PROJECT over the file's value.
func quotaProject(f *fileJSON, o *Options) (string, error) {
	if err := verr(check.ProjectID("quota_project_id", f.QuotaProjectID)); err != nil {
		return "", err
	}
	if env := strings.TrimSpace(o.getenv(EnvQuotaProject)); env != "" {
		if err := verr(check.ProjectID(EnvQuotaProject, env)); err != nil {
			return "", err
		}
		return env, nil
	}
	return f.QuotaProjectID, nil
}

// checkClient checks the file's client credentials.
func checkClient(f *fileJSON) error {
	if f.ClientID != "" && f.ClientSecret == "" {
		return invalid("client_secret", "must be set when client_id is")
	}
	if f.ClientSecret != "" && f.ClientID == "" {
		return invalid("client_id", "must be set when client_secret is")
	}
	if strings.ContainsAny(f.ClientID, "\r\n") {
		return invalid("client_id", "must not contain line breaks")
	}
	return nil
}

// impersonation is the checked impersonation of an external_account file.
type impersonation struct {
	// Not comparable, so that no equality function is linked for it.
	_          [0]func()
	url, email string
	lifetime   time.Duration // 0: IAM's default
}

// checkImpersonation checks service_account_impersonation_url and
// service_account_impersonation.
func checkImpersonation(f *fileJSON, o *Options, universe string) (*impersonation, error) {
	var imp *impersonation
	if f.ServiceAccountImpersonationURL != nil {
		email, err := check.ImpersonationURL("service_account_impersonation_url", *f.ServiceAccountImpersonationURL)
		if err != nil {
			return nil, verr(err)
		}
		if _, err := o.endpoint("service_account_impersonation_url", f.ServiceAccountImpersonationURL, "", check.ServiceIAMCredentials, universe); err != nil {
			return nil, err
		}
		imp = &impersonation{url: *f.ServiceAccountImpersonationURL, email: email}
	}
	sai := f.ServiceAccountImpersonation
	if sai == nil || absent(sai.TokenLifetimeSeconds) {
		return imp, nil
	}
	const field = "service_account_impersonation.token_lifetime_seconds"
	if imp == nil {
		return nil, invalid(field, "only applies with service_account_impersonation_url")
	}
	var err error
	if imp.lifetime, err = duration(field, sai.TokenLifetimeSeconds, time.Second, check.ImpersonationLifetime); err != nil {
		return nil, err
	}
	return imp, nil
}

// loadExternalAccount checks an external_account file and builds its token
// source: the exchange (and impersonation) engines, from the checked
// values, behind one cache.
func loadExternalAccount(f *fileJSON, o *Options) (*Credentials, error) {
	universe, err := fileUniverse(f, o)
	if err != nil {
		return nil, err
	}
	if err := verr(check.Audience("audience", f.Audience)); err != nil {
		return nil, err
	}
	if err := verr(check.SubjectTokenType("subject_token_type", f.SubjectTokenType)); err != nil {
		return nil, err
	}
	if f.RefreshToken != nil {
		return nil, invalid("refresh_token", "only applies to %s files", TypeExternalAccountAuthorizedUser)
	}
	tokenURL, err := o.endpoint("token_url", f.TokenURL, "", check.ServiceSTS, universe) // the default depends on the source
	if err != nil {
		return nil, err
	}
	defaultInfo := stsEndpoint(universe, "/v1/introspect")
	if tokenURL != "" {
		defaultInfo = sibling(tokenURL, "introspect")
	}
	tokenInfoURL, err := o.endpoint("token_info_url", f.TokenInfoURL, defaultInfo, check.ServiceSTS, universe)
	if err != nil {
		return nil, err
	}
	imp, err := checkImpersonation(f, o, universe)
	if err != nil {
		return nil, err
	}
	if err := checkClient(f); err != nil {
		return nil, err
	}
	quota, err := quotaProject(f, o)
	if err != nil {
		return nil, err
	}
	if p := f.WorkforcePoolUserProject; p != "" {
		if err := verr(check.ProjectID("workforce_pool_user_project", p)); err != nil {
			return nil, err
		}
		if !check.WorkforceAudience(f.Audience, universe) {
			return nil, invalid("workforce_pool_user_project",
				"only applies to workforce pool audiences (//iam.%s/locations/LOCATION/workforcePools/POOL/providers/PROVIDER)", universe)
		}
	}
	if f.RevokeURL != nil {
		return nil, invalid("revoke_url", "only applies to %s files", TypeExternalAccountAuthorizedUser)
	}
	if f.CredentialSource == nil {
		return nil, invalid("credential_source", "must be set")
	}
	src, err := buildSource(f.CredentialSource, f.SubjectTokenType, o)
	if err != nil {
		return nil, err
	}
	if o.Terminal != nil && src.kind == "executable" && !check.WorkforceAudience(f.Audience, universe) {
		return nil, invalid("audience", "interactive executables are for workforce pools only, as gcloud runs them "+
			"(//iam.%s/locations/LOCATION/workforcePools/POOL/providers/PROVIDER)", universe)
	}
	if tokenURL == "" {
		if src.mtls {
			tokenURL = "https://sts.mtls." + universe + "/v1/token"
		} else {
			tokenURL = stsEndpoint(universe, "/v1/token")
		}
	}
	c := &Credentials{
		typ:          TypeExternalAccount,
		audience:     f.Audience,
		universe:     universe,
		tokenURL:     tokenURL,
		tokenInfoURL: tokenInfoURL,
		quotaProject: quota,
		clientID:     f.ClientID,
		clientSecret: hide(f.ClientSecret),
	}

	scopes := o.Scopes
	if scopes == nil {
		scopes = []string{sts.CloudPlatformScope}
	}
	userProject := f.WorkforcePoolUserProject
	if f.ClientID != "" {
		userProject = "" // STS expects it only from public clients
	}
	options, cerr := exchange.EncodeOptions("workforce_pool_user_project", nil, userProject, nil)
	if cerr != nil {
		return nil, verr(cerr)
	}
	var email string
	if imp != nil {
		email = imp.email
		c.serviceAccount = email
	}
	if src.x509 != nil {
		c.mtls = src.x509.ExchangeClient
	}
	if x := src.exe; x != nil && x.Terminal != nil {
		req := sts.SubjectRequest{Audience: f.Audience, SubjectTokenType: f.SubjectTokenType, ImpersonatedEmail: email}
		c.revoke = func(ctx context.Context) error { return x.Revoke(ctx, req) }
	}
	xc := exchange.Config{
		Subject: func(ctx context.Context, aud, typ string) (string, time.Time, error) {
			tok, err := src.token(ctx, sts.SubjectRequest{Audience: aud, SubjectTokenType: typ, ImpersonatedEmail: email})
			return tok, time.Time{}, err
		},
		SubjectTokenType: f.SubjectTokenType,
		Audience:         f.Audience,
		Scopes:           scopes,
		Options:          options,
		TokenURL:         tokenURL,
		ClientID:         f.ClientID,
		ClientSecret:     f.ClientSecret,
		Kind:             src.kind,
		HTTP: o.httpOptions(src.client,
			httpx.ExternalAccountAPIClient(src.kind, imp != nil, imp != nil && imp.lifetime != 0)),
	}
	impURL := ""
	if imp != nil {
		impURL = imp.url
	}
	c.locations = o.locationsCache(universe, f.Audience, impURL, email, src.client)
	if src.x509 != nil {
		// Agent identities' tokens are bound to their certificate.
		xc.Bind = src.x509.CertificateFingerprint
	}
	if imp != nil {
		// The exchange asks for cloud-platform; the caller's scopes go to
		// generateAccessToken.
		xc.Scopes = []string{sts.CloudPlatformScope}
	}
	x := exchange.New(xc)
	if imp == nil {
		c.ts, err = o.cached(x)
		return c, err
	}
	c.ts, err = o.cached(iam.NewAccessTokens(iam.Config{
		Source:   x.TokenContext,
		URL:      imp.url,
		Scopes:   scopes,
		Lifetime: imp.lifetime,
		// A certificate-bound exchanged token must be presented with its
		// certificate: the exchange's client (mTLS for certificate
		// sources) carries the IAM call too.
		HTTP: o.httpOptions(src.client, x.APIClient()),
	}))
	return c, err
}
