package sts

import (
	"encoding/json"
	"errors"
	"github.com/stsgo/sts/internal/executable"
	"math"
	"net/url"
	"strings"
	"time"

	"context"
	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/iam"
	"github.com/stsgo/sts/internal/wire"
	"golang.org/x/oauth2"
)

// credentialsFile holds every field of both file types. Strings that must be
// told apart from absent are pointers; numbers are raw so that "600" and 600
// both read.
type credentialsFile struct {
	Type                           string                       `json:"type"`
	Audience                       string                       `json:"audience"`
	SubjectTokenType               string                       `json:"subject_token_type"`
	TokenURL                       *string                      `json:"token_url"`
	TokenInfoURL                   *string                      `json:"token_info_url"`
	ServiceAccountImpersonationURL *string                      `json:"service_account_impersonation_url"`
	ServiceAccountImpersonation    *serviceAccountImpersonation `json:"service_account_impersonation"`
	ClientID                       string                       `json:"client_id"`
	ClientSecret                   string                       `json:"client_secret"`
	QuotaProjectID                 string                       `json:"quota_project_id"`
	WorkforcePoolUserProject       string                       `json:"workforce_pool_user_project"`
	UniverseDomain                 *string                      `json:"universe_domain"`
	CredentialSource               *credentialSource            `json:"credential_source"`

	// external_account_authorized_user
	RefreshToken *string `json:"refresh_token"`
	RevokeURL    *string `json:"revoke_url"`
}

type serviceAccountImpersonation struct {
	TokenLifetimeSeconds json.RawMessage `json:"token_lifetime_seconds"`
}

type credentialSource struct {
	File                        *string            `json:"file"`
	URL                         *string            `json:"url"`
	Headers                     map[string]string  `json:"headers"`
	Format                      *credentialFormat  `json:"format"`
	Executable                  *executableSource  `json:"executable"`
	EnvironmentID               *string            `json:"environment_id"`
	RegionURL                   *string            `json:"region_url"`
	RegionalCredVerificationURL *string            `json:"regional_cred_verification_url"`
	IMDSv2SessionTokenURL       *string            `json:"imdsv2_session_token_url"`
	Certificate                 *certificateSource `json:"certificate"`
}

type credentialFormat struct {
	Type                  string `json:"type"`
	SubjectTokenFieldName string `json:"subject_token_field_name"`
}

type executableSource struct {
	Command                  *string         `json:"command"`
	TimeoutMillis            json.RawMessage `json:"timeout_millis"`
	OutputFile               string          `json:"output_file"`
	InteractiveTimeoutMillis json.RawMessage `json:"interactive_timeout_millis"`
}

type certificateSource struct {
	UseDefaultCertificateConfig *bool   `json:"use_default_certificate_config"`
	CertificateConfigLocation   *string `json:"certificate_config_location"`
	TrustChainPath              string  `json:"trust_chain_path"`
}

func fileUniverse(f *credentialsFile) (string, error) {
	if f.UniverseDomain == nil {
		return DefaultUniverseDomain, nil
	}
	u := *f.UniverseDomain
	if u == "" {
		return "", invalid("universe_domain", "must not be empty when present")
	}
	if err := verr(check.Universe("universe_domain", u)); err != nil {
		return "", err
	}
	return u, nil
}

// optionalEndpoint checks an optional endpoint field and returns it, or def
// when the field is absent; present but empty is an error.
func optionalEndpoint(field string, v *string, def string) (string, error) {
	if v == nil {
		return def, nil
	}
	if err := verr(check.Endpoint(field, *v)); err != nil {
		return "", err
	}
	return *v, nil
}

// quotaProject applies GOOGLE_CLOUD_QUOTA_PROJECT over the file's value.
func quotaProject(f *credentialsFile, o *LoadOptions) (string, error) {
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

// loadExternalAccount validates an external_account file and builds its
// token source.
func loadExternalAccount(f *credentialsFile, o *LoadOptions) (*Credentials, error) {
	universe, err := fileUniverse(f)
	if err != nil {
		return nil, err
	}
	if err := verr(check.Audience("audience", f.Audience)); err != nil {
		return nil, err
	}
	if f.SubjectTokenType == "" {
		return nil, invalid("subject_token_type", "must not be empty")
	}
	if !knownSubjectTypes[f.SubjectTokenType] {
		return nil, invalid("subject_token_type", "unknown token type %q", httpx.Truncate(f.SubjectTokenType, 100))
	}
	if f.RefreshToken != nil {
		return nil, invalid("refresh_token", "only applies to %s files", TypeExternalAccountAuthorizedUser)
	}
	tokenURL, err := optionalEndpoint("token_url", f.TokenURL, "") // the default depends on the source
	if err != nil {
		return nil, err
	}
	tokenInfoURL, err := optionalEndpoint("token_info_url", f.TokenInfoURL, stsEndpoint(universe, "/v1/introspect"))
	if err != nil {
		return nil, err
	}
	var impURL, email string
	if f.ServiceAccountImpersonationURL != nil {
		impURL = *f.ServiceAccountImpersonationURL
		var cerr *check.Error
		email, cerr = check.ImpersonationURL("service_account_impersonation_url", impURL)
		if cerr != nil {
			return nil, verr(cerr)
		}
	}
	var lifetime time.Duration
	if sai := f.ServiceAccountImpersonation; sai != nil && len(sai.TokenLifetimeSeconds) > 0 && string(sai.TokenLifetimeSeconds) != "null" {
		const field = "service_account_impersonation.token_lifetime_seconds"
		if impURL == "" {
			return nil, invalid(field, "only applies with service_account_impersonation_url")
		}
		n, err := wire.ParseJSONInt(sai.TokenLifetimeSeconds)
		if err != nil {
			return nil, invalid(field, "must be an integer number of seconds")
		}
		lifetime = time.Duration(math.MaxInt64)
		if n < math.MaxInt64/int64(time.Second) {
			lifetime = time.Duration(n) * time.Second
		}
		if err := check.ImpersonationLifetime(field, lifetime); err != nil {
			return nil, verr(err)
		}
	}
	if f.ClientID != "" && f.ClientSecret == "" {
		return nil, invalid("client_secret", "must be set when client_id is")
	}
	if f.ClientSecret != "" && f.ClientID == "" {
		return nil, invalid("client_id", "must be set when client_secret is")
	}
	if strings.ContainsAny(f.ClientID, "\r\n") {
		return nil, invalid("client_id", "must not contain line breaks")
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
	src, err := buildSubject(f.CredentialSource, f.SubjectTokenType, o)
	if err != nil {
		return nil, err
	}
	if tokenURL == "" {
		if src.mtls {
			tokenURL = "https://sts.mtls." + universe + "/v1/token"
		} else {
			tokenURL = stsEndpoint(universe, "/v1/token")
		}
	}

	cfg := Config{
		Subject:                  src.provider,
		SubjectTokenType:         f.SubjectTokenType,
		Audience:                 f.Audience,
		WorkforcePoolUserProject: f.WorkforcePoolUserProject,
		ClientID:                 f.ClientID,
		ClientSecret:             f.ClientSecret,
		TokenURL:                 tokenURL,
		UniverseDomain:           universe,
		HTTPOptions:              o.HTTPOptions,
		Cache:                    o.Cache,
	}
	c := &Credentials{
		typ:            TypeExternalAccount,
		audience:       f.Audience,
		universe:       universe,
		tokenURL:       tokenURL,
		tokenInfoURL:   tokenInfoURL,
		quotaProject:   quota,
		serviceAccount: email,
	}
	if impURL == "" {
		cfg.Scopes = o.Scopes
		c.ts, err = NewTokenSource(cfg)
		if err != nil {
			return nil, fileFieldError(err)
		}
		return c, nil
	}
	// The exchange asks for cloud-platform; the caller's scopes go to
	// generateAccessToken.
	x, err := newExchange(cfg, exchangeExtras{impersonating: true, lifetimeSet: lifetime != 0, impersonatedEmail: email})
	if err != nil {
		return nil, fileFieldError(err)
	}
	scopes := o.Scopes
	if scopes == nil {
		scopes = []string{CloudPlatformScope}
	}
	imp := iam.NewAccessTokens(iam.Config{
		Source:   func(ctx context.Context) (*oauth2.Token, error) { return sourceToken(ctx, x, "impersonate", "source") },
		URL:      impURL,
		Scopes:   scopes,
		Lifetime: lifetime,
		HTTP:     o.HTTPOptions.httpx(x.APIClient()),
	})
	c.ts, err = cacheWith(imp, o.Cache, o.Logger)
	if err != nil {
		return nil, fileFieldError(err)
	}
	return c, nil
}

// loadAuthorizedUser validates an external_account_authorized_user file and
// builds its token source.
func loadAuthorizedUser(f *credentialsFile, o *LoadOptions) (*Credentials, error) {
	universe, err := fileUniverse(f)
	if err != nil {
		return nil, err
	}
	if f.Audience != "" {
		if err := verr(check.Audience("audience", f.Audience)); err != nil {
			return nil, err
		}
		if !check.WorkforceAudience(f.Audience, universe) {
			return nil, invalid("audience", "must be a workforce pool provider (//iam.%s/locations/LOCATION/workforcePools/POOL/providers/PROVIDER)", universe)
		}
	}
	if f.RefreshToken == nil || *f.RefreshToken == "" {
		return nil, invalid("refresh_token", "must not be empty")
	}
	if f.ClientID == "" {
		return nil, invalid("client_id", "must not be empty")
	}
	if f.ClientSecret == "" {
		return nil, invalid("client_secret", "must not be empty")
	}
	if strings.ContainsAny(f.ClientID, "\r\n") {
		return nil, invalid("client_id", "must not contain line breaks")
	}
	tokenURL, err := optionalEndpoint("token_url", f.TokenURL, stsEndpoint(universe, "/v1/oauthtoken"))
	if err != nil {
		return nil, err
	}
	tokenInfoURL, err := optionalEndpoint("token_info_url", f.TokenInfoURL, stsEndpoint(universe, "/v1/introspect"))
	if err != nil {
		return nil, err
	}
	revokeURL, err := optionalEndpoint("revoke_url", f.RevokeURL, "")
	if err != nil {
		return nil, err
	}
	quota, err := quotaProject(f, o)
	if err != nil {
		return nil, err
	}
	for _, x := range []struct {
		field string
		set   bool
	}{
		{"credential_source", f.CredentialSource != nil},
		{"subject_token_type", f.SubjectTokenType != ""},
		{"service_account_impersonation_url", f.ServiceAccountImpersonationURL != nil},
		{"service_account_impersonation", f.ServiceAccountImpersonation != nil},
		{"workforce_pool_user_project", f.WorkforcePoolUserProject != ""},
	} {
		if x.set {
			return nil, invalid(x.field, "does not apply to %s files", TypeExternalAccountAuthorizedUser)
		}
	}
	ts, err := NewAuthorizedUserTokenSource(AuthorizedUserConfig{
		RefreshToken:          *f.RefreshToken,
		ClientID:              f.ClientID,
		ClientSecret:          f.ClientSecret,
		TokenURL:              tokenURL,
		UniverseDomain:        universe,
		OnRefreshTokenRotated: o.OnRefreshTokenRotated,
		HTTPOptions:           o.HTTPOptions,
		Cache:                 o.Cache,
	})
	if err != nil {
		return nil, fileFieldError(err)
	}
	return &Credentials{
		typ:          TypeExternalAccountAuthorizedUser,
		audience:     f.Audience,
		universe:     universe,
		tokenURL:     tokenURL,
		tokenInfoURL: tokenInfoURL,
		revokeURL:    revokeURL,
		quotaProject: quota,
		ts:           ts,
	}, nil
}

// builtSubject is the provider chosen from credential_source.
type builtSubject struct {
	provider SubjectTokenProvider
	mtls     bool // exchange over mTLS: default token URL is sts.mtls.<universe>
}

// presentSources lists the source selectors of credential_source, in the order
// their conflicts are reported.
func presentSources(cs *credentialSource) []string {
	var s []string
	if cs.File != nil {
		s = append(s, "file")
	}
	if cs.URL != nil && cs.EnvironmentID == nil {
		s = append(s, "url")
	}
	if cs.Executable != nil {
		s = append(s, "executable")
	}
	if cs.EnvironmentID != nil {
		s = append(s, "environment_id")
	}
	if cs.Certificate != nil {
		s = append(s, "certificate")
	}
	return s
}

// buildSubject validates credential_source and builds its provider.
func buildSubject(cs *credentialSource, tokenType string, o *LoadOptions) (*builtSubject, error) {
	srcs := presentSources(cs)
	switch len(srcs) {
	case 0:
		return nil, invalid("credential_source", "must name one source: file, url, executable, environment_id or certificate")
	case 1:
	default:
		return nil, invalid("credential_source."+srcs[1], "cannot be combined with credential_source.%s", srcs[0])
	}
	kind := srcs[0]
	// Fields that belong to other kinds of source.
	onlyFor := func(field, owner string, set bool) error {
		if set {
			return invalid("credential_source."+field, "only applies to %s sources", owner)
		}
		return nil
	}
	if kind != "file" && kind != "url" {
		if err := onlyFor("format", "file and url", cs.Format != nil); err != nil {
			return nil, err
		}
	}
	if kind != "url" {
		if err := onlyFor("headers", "url", cs.Headers != nil); err != nil {
			return nil, err
		}
	}
	if kind != "environment_id" {
		for _, x := range []struct {
			field string
			set   bool
		}{
			{"region_url", cs.RegionURL != nil},
			{"regional_cred_verification_url", cs.RegionalCredVerificationURL != nil},
			{"imdsv2_session_token_url", cs.IMDSv2SessionTokenURL != nil},
		} {
			if err := onlyFor(x.field, "environment_id (AWS)", x.set); err != nil {
				return nil, err
			}
		}
	}
	// The subject token type must match the kind of source.
	switch {
	case tokenType == TokenTypeAWS4Request && kind != "environment_id":
		return nil, invalid("subject_token_type", "%s needs an environment_id (AWS) source", TokenTypeAWS4Request)
	case tokenType == TokenTypeMTLS && kind != "certificate":
		return nil, invalid("subject_token_type", "%s needs a certificate source", TokenTypeMTLS)
	}

	switch kind {
	case "file":
		if *cs.File == "" {
			return nil, invalid("credential_source.file", "must not be empty")
		}
		format, err := fileFormat(cs.Format)
		if err != nil {
			return nil, err
		}
		return &builtSubject{provider: FileSubject{Path: *cs.File, Format: format}}, nil
	case "url":
		raw := *cs.URL
		if err := verr(check.SourceURL("credential_source.url", raw)); err != nil {
			return nil, err
		}
		if err := verr(check.Headers("credential_source.headers", cs.Headers)); err != nil {
			return nil, err
		}
		format, err := fileFormat(cs.Format)
		if err != nil {
			return nil, err
		}
		return &builtSubject{provider: URLSubject{URL: raw, Headers: cs.Headers, Format: format, HTTPClient: o.HTTPClient}}, nil
	case "executable":
		return buildExecutable(cs.Executable, tokenType, o)
	case "environment_id":
		return buildAWS(cs, tokenType, o)
	case "certificate":
		return buildX509(cs.Certificate, tokenType, o)
	}
	return nil, invalid("credential_source", "unsupported source")
}

// fileFormat converts credential_source.format. A subject_token_field_name
// given with the text format is ignored, as Google's libraries do.
func fileFormat(f *credentialFormat) (Format, error) {
	if f == nil {
		return Format{}, nil
	}
	switch f.Type {
	case "", "text":
		return Format{Type: "text"}, nil
	case "json":
		if f.SubjectTokenFieldName == "" {
			return Format{}, invalid("credential_source.format.subject_token_field_name", "must be set for the json format")
		}
		return Format{Type: "json", SubjectTokenField: f.SubjectTokenFieldName}, nil
	}
	return Format{}, invalid("credential_source.format.type", "must be \"text\" or \"json\", got %q", httpx.Truncate(f.Type, 32))
}

// millis reads an optional millisecond count.
func millis(field string, raw json.RawMessage, def int64, bounds func(string, time.Duration) *check.Error) (int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return def, nil
	}
	n, err := wire.ParseJSONInt(raw)
	if err != nil {
		return 0, invalid(field, "must be an integer number of milliseconds")
	}
	d := time.Duration(math.MaxInt64)
	if n < math.MaxInt64/int64(time.Millisecond) {
		d = time.Duration(n) * time.Millisecond
	}
	if err := bounds(field, d); err != nil {
		return 0, verr(err)
	}
	return n, nil
}

// checkExecutable validates credential_source.executable and returns its
// time-outs in milliseconds.
func checkExecutable(e *executableSource, tokenType string) (timeout, interactive int64, err error) {
	if e.Command == nil || strings.TrimSpace(*e.Command) == "" {
		return 0, 0, invalid("credential_source.executable.command", "must not be empty")
	}
	switch tokenType {
	case TokenTypeJWT, TokenTypeIDToken, TokenTypeSAML2:
	default:
		return 0, 0, invalid("subject_token_type", "executable sources supply JWT, ID token or SAML 2 tokens, not %q", tokenType)
	}
	timeout, err = millis("credential_source.executable.timeout_millis", e.TimeoutMillis,
		executable.DefaultTimeout.Milliseconds(), check.ExecutableTimeout)
	if err != nil {
		return 0, 0, err
	}
	interactive, err = millis("credential_source.executable.interactive_timeout_millis", e.InteractiveTimeoutMillis,
		0, check.InteractiveTimeout)
	if err != nil {
		return 0, 0, err
	}
	return timeout, interactive, nil
}

// checkAWSSource validates the AWS fields of credential_source.
func checkAWSSource(cs *credentialSource, tokenType string) error {
	id := *cs.EnvironmentID
	if !strings.HasPrefix(id, "aws") {
		return invalid("credential_source.environment_id", "unsupported environment %q (want \"aws1\")", httpx.Truncate(id, 32))
	}
	if id != "aws1" {
		return invalid("credential_source.environment_id", "unsupported AWS version %q (want \"aws1\")", httpx.Truncate(id, 32))
	}
	if tokenType != TokenTypeAWS4Request {
		return invalid("subject_token_type", "an AWS source needs %s", TokenTypeAWS4Request)
	}
	for _, x := range []struct {
		field string
		v     *string
	}{
		{"credential_source.region_url", cs.RegionURL},
		{"credential_source.url", cs.URL},
		{"credential_source.imdsv2_session_token_url", cs.IMDSv2SessionTokenURL},
	} {
		if x.v != nil {
			if err := verr(check.SourceURL(x.field, *x.v)); err != nil {
				return err
			}
		}
	}
	if v := cs.RegionalCredVerificationURL; v != nil {
		const field = "credential_source.regional_cred_verification_url"
		if *v == "" {
			return invalid(field, "must not be empty")
		}
		u, err := url.Parse(strings.ReplaceAll(*v, "{region}", "region"))
		if err != nil || u.Host == "" {
			return invalid(field, "not a valid URL")
		}
		if u.Scheme != "https" {
			return invalid(field, "scheme must be https, got %q", httpx.Truncate(u.Scheme, 16))
		}
	}
	return nil
}

// checkCertificate validates credential_source.certificate.
func checkCertificate(c *certificateSource, tokenType string) error {
	useDefault := c.UseDefaultCertificateConfig != nil && *c.UseDefaultCertificateConfig
	hasLocation := c.CertificateConfigLocation != nil
	switch {
	case useDefault && hasLocation:
		return invalid("credential_source.certificate.certificate_config_location", "cannot be combined with use_default_certificate_config")
	case !useDefault && !hasLocation:
		return invalid("credential_source.certificate", "must set use_default_certificate_config or certificate_config_location")
	case hasLocation && *c.CertificateConfigLocation == "":
		return invalid("credential_source.certificate.certificate_config_location", "must not be empty")
	}
	if tokenType != TokenTypeMTLS {
		return invalid("subject_token_type", "a certificate source needs %s", TokenTypeMTLS)
	}
	return nil
}

// fieldMap translates Go field names of provider and Config validation
// errors to JSON paths of the file.
var fieldMap = []struct{ goPrefix, jsonPath string }{
	{"Config.Audience", "audience"},
	{"Config.SubjectTokenType", "subject_token_type"},
	{"Config.TokenURL", "token_url"},
	{"Config.ClientID", "client_id"},
	{"Config.ClientSecret", "client_secret"},
	{"Config.WorkforcePoolUserProject", "workforce_pool_user_project"},
	{"Config.UniverseDomain", "universe_domain"},
	{"Config.Scopes", "LoadOptions.Scopes"},
	{"Config.Timeout", "LoadOptions.Timeout"},
	{"Config.Retry", "LoadOptions.Retry"},
	{"AuthorizedUserConfig.RefreshToken", "refresh_token"},
	{"AuthorizedUserConfig.ClientID", "client_id"},
	{"AuthorizedUserConfig.ClientSecret", "client_secret"},
	{"AuthorizedUserConfig.TokenURL", "token_url"},
	{"AuthorizedUserConfig.UniverseDomain", "universe_domain"},
	{"AuthorizedUserConfig.Timeout", "LoadOptions.Timeout"},
	{"AuthorizedUserConfig.Retry", "LoadOptions.Retry"},
	{"CacheOptions", "LoadOptions.Cache"},
	{"FileSubject.Path", "credential_source.file"},
	{"FileSubject.Format.SubjectTokenField", "credential_source.format.subject_token_field_name"},
	{"FileSubject.Format.Type", "credential_source.format.type"},
	{"URLSubject.URL", "credential_source.url"},
	{"URLSubject.Headers", "credential_source.headers"},
	{"URLSubject.Format.SubjectTokenField", "credential_source.format.subject_token_field_name"},
	{"URLSubject.Format.Type", "credential_source.format.type"},
	{"ExecutableSubject.Command", "credential_source.executable.command"},
	{"ExecutableSubject.Timeout", "credential_source.executable.timeout_millis"},
	{"ExecutableSubject.OutputFile", "credential_source.executable.output_file"},
	{"ExecutableSubject", "credential_source.executable"},
	{"AWSSubject.RegionURL", "credential_source.region_url"},
	{"AWSSubject.CredentialsURL", "credential_source.url"},
	{"AWSSubject.IMDSv2TokenURL", "credential_source.imdsv2_session_token_url"},
	{"AWSSubject.RegionalCredVerificationURL", "credential_source.regional_cred_verification_url"},
	{"AWSSubject", "credential_source"},
	{"X509Subject.CertificateConfigFile", "credential_source.certificate.certificate_config_location"},
	{"X509Subject.UseDefaultCertificateConfig", "credential_source.certificate.use_default_certificate_config"},
	{"X509Subject.TrustChainFile", "credential_source.certificate.trust_chain_path"},
	{"X509Subject", "credential_source.certificate"},
	{"Config.HTTPClient", "LoadOptions.HTTPClient"},
}

// fileFieldError renames the field of a *ValidationError raised by a
// constructor to the file's JSON path; other errors pass unchanged.
func fileFieldError(err error) error {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	for _, m := range fieldMap {
		if rest, ok := strings.CutPrefix(ve.Field, m.goPrefix); ok {
			return invalid(m.jsonPath+rest, "%s", ve.Reason)
		}
	}
	return err
}
