package credfile

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/awssubject"
	awssub "github.com/stsgo/sts/internal/aws"
	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/executable"
	"github.com/stsgo/sts/internal/tty"
	"github.com/stsgo/sts/internal/x509cert"
	"github.com/stsgo/sts/x509subject"
)

// source is the subject-token provider a credential_source describes. It
// holds the provider's SubjectToken method rather than the provider as an
// interface: a provider value in an interface would link every method of
// every type its fields reach (such as http.Cookie's, through a client).
type source struct {
	token  func(context.Context, sts.SubjectRequest) (string, error)
	kind   string       // for the x-goog-api-client header and logs
	client *http.Client // the exchange's client (mTLS for certificates)
	mtls   bool         // the default token URL is sts.mtls.<universe>
	x509   *x509subject.Subject
	exe    *sts.ExecutableSubject // an executable source
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

// buildSource checks credential_source and builds its provider.
func buildSource(cs *credentialSource, tokenType string, o *Options) (*source, error) {
	srcs := presentSources(cs)
	switch len(srcs) {
	case 0:
		return nil, invalid("credential_source", "must name one source: file, url, executable, environment_id or certificate")
	case 1:
	default:
		return nil, invalid("credential_source."+srcs[1], "cannot be combined with credential_source.%s", srcs[0])
	}
	kind := srcs[0]
	// Fields that belong to other kinds of source (owner names them).
	const aws = "environment_id (AWS)"
	for _, x := range [...]struct {
		field, owner string
		set          bool
	}{
		{"format", "file and url", cs.Format != nil && kind != "file" && kind != "url"},
		{"headers", "url", cs.Headers != nil && kind != "url"},
		{"region_url", aws, cs.RegionURL != nil},
		{"regional_cred_verification_url", aws, cs.RegionalCredVerificationURL != nil},
		{"imdsv2_session_token_url", aws, cs.IMDSv2SessionTokenURL != nil},
	} {
		if x.set && (x.owner != aws || kind != "environment_id") {
			return nil, invalid("credential_source."+x.field, "only applies to %s sources", x.owner)
		}
	}
	// The subject token type must match the kind of source.
	switch {
	case tokenType == sts.TokenTypeAWS4Request && kind != "environment_id":
		return nil, invalid("subject_token_type", "%s needs an environment_id (AWS) source", sts.TokenTypeAWS4Request)
	case tokenType == sts.TokenTypeMTLS && kind != "certificate":
		return nil, invalid("subject_token_type", "%s needs a certificate source", sts.TokenTypeMTLS)
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
		return o.plain(sts.FileSubject{Path: *cs.File, Format: format}.SubjectToken, "file"), nil
	case "url":
		raw := *cs.URL
		if err := verr(check.SourceURL("credential_source.url", raw)); err != nil {
			return nil, err
		}
		if err := verr(check.Headers("credential_source.headers", cs.Headers)); err != nil {
			return nil, err
		}
		if err := verr(check.SourceHeaders("credential_source.url", raw, len(cs.Headers))); err != nil {
			return nil, err
		}
		format, err := fileFormat(cs.Format)
		if err != nil {
			return nil, err
		}
		return o.plain(sts.URLSubject{URL: raw, Headers: cs.Headers, Format: format, HTTPClient: o.HTTPClient}.SubjectToken, "url"), nil
	case "executable":
		return buildExecutable(cs.Executable, tokenType, o)
	case "environment_id":
		return buildAWS(cs, tokenType, o)
	default: // "certificate"
		return buildX509(cs.Certificate, tokenType, o)
	}
}

// plain is a source whose exchange goes over the caller's client.
func (o *Options) plain(token func(context.Context, sts.SubjectRequest) (string, error), kind string) *source {
	return &source{token: token, kind: kind, client: o.HTTPClient}
}

// fileFormat converts credential_source.format. A subject_token_field_name
// given with the text format is ignored, as Google's libraries do.
func fileFormat(f *credentialFormat) (sts.Format, error) {
	if f == nil {
		return sts.Format{}, nil
	}
	switch f.Type {
	case "", "text":
		return sts.Format{Type: "text"}, nil
	case "json":
		if f.SubjectTokenFieldName == "" {
			return sts.Format{}, invalid("credential_source.format.subject_token_field_name", "must be set for the json format")
		}
		return sts.Format{Type: "json", SubjectTokenField: f.SubjectTokenFieldName}, nil
	}
	return sts.Format{}, invalid("credential_source.format.type", "must be \"text\" or \"json\", got %q", truncate(f.Type, 32))
}

// millis reads an optional millisecond count, checked by bounds; def
// (unchecked) when it is absent.
func millis(field string, raw json.RawMessage, def int64, bounds func(string, time.Duration) *check.Error) (time.Duration, error) {
	if absent(raw) {
		return time.Duration(def) * time.Millisecond, nil
	}
	return duration(field, raw, time.Millisecond, bounds)
}

// buildExecutable checks credential_source.executable and builds its
// provider, interactive when Options.Terminal is set (then
// interactive_timeout_millis and output_file are required, as gcloud has
// them). Nothing runs at load time.
func buildExecutable(e *executableSource, tokenType string, o *Options) (*source, error) {
	const field = "credential_source.executable."
	if e.Command == nil || strings.TrimSpace(*e.Command) == "" {
		return nil, invalid(field+"command", "must not be empty")
	}
	switch tokenType {
	case sts.TokenTypeJWT, sts.TokenTypeIDToken, sts.TokenTypeSAML2:
	default:
		return nil, invalid("subject_token_type", "executable sources supply JWT, ID token or SAML 2 tokens, not %q", tokenType)
	}
	timeout, err := millis(field+"timeout_millis", e.TimeoutMillis, executable.DefaultTimeout.Milliseconds(), check.ExecutableTimeout)
	if err != nil {
		return nil, err
	}
	interactiveTimeout, err := millis(field+"interactive_timeout_millis", e.InteractiveTimeoutMillis, 0, check.InteractiveTimeout)
	if err != nil {
		return nil, err
	}
	argv, serr := executable.SplitCommand(*e.Command)
	if serr != nil {
		return nil, invalid(field+"command", "%s", strings.TrimPrefix(serr.Error(), "executable: "))
	}
	if err := check.Command(field+"command", argv); err != nil {
		return nil, verr(err)
	}
	if err := check.FileName(field+"output_file", e.OutputFile); err != nil {
		return nil, verr(err)
	}
	x := sts.ExecutableSubject{Command: argv, Timeout: timeout, OutputFile: e.OutputFile, Getenv: o.Getenv}
	if o.Terminal != nil {
		switch {
		case interactiveTimeout == 0:
			return nil, invalid(field+"interactive_timeout_millis", "must be set to run the executable interactively")
		case e.OutputFile == "":
			return nil, invalid(field+"output_file", "must be set to run the executable interactively: the command answers there, its standard output being the terminal")
		case !tty.IsTerminal(o.Terminal):
			return nil, invalid("credfile.Options.Terminal", "is not a terminal")
		}
		x.Terminal, x.InteractiveTimeout = o.Terminal, interactiveTimeout
	}
	s := o.plain(x.SubjectToken, "executable")
	s.exe = &x
	return s, nil
}

// awsFields names the AWS settings of credential_source.
var awsFields = awssub.Fields{
	RegionURL:       "credential_source.region_url",
	CredentialsURL:  "credential_source.url",
	IMDSv2TokenURL:  "credential_source.imdsv2_session_token_url",
	VerificationURL: "credential_source.regional_cred_verification_url",
}

// buildAWS checks the AWS fields of credential_source and builds its
// provider.
func buildAWS(cs *credentialSource, tokenType string, o *Options) (*source, error) {
	id := *cs.EnvironmentID
	if !strings.HasPrefix(id, "aws") {
		return nil, invalid("credential_source.environment_id", "unsupported environment %q (want \"aws1\")", truncate(id, 32))
	}
	if id != "aws1" {
		return nil, invalid("credential_source.environment_id", "unsupported AWS version %q (want \"aws1\")", truncate(id, 32))
	}
	if tokenType != sts.TokenTypeAWS4Request {
		return nil, invalid("subject_token_type", "an AWS source needs %s", sts.TokenTypeAWS4Request)
	}
	str := func(field string, p *string) (string, error) {
		if p == nil {
			return "", nil
		}
		if *p == "" {
			return "", invalid(field, "must not be empty")
		}
		return *p, nil
	}
	s := awssub.Settings{Getenv: o.Getenv}
	var err error
	for _, x := range []struct {
		v     *string
		to    *string
		field string
	}{
		{cs.RegionURL, &s.RegionURL, awsFields.RegionURL},
		{cs.URL, &s.CredentialsURL, awsFields.CredentialsURL},
		{cs.IMDSv2SessionTokenURL, &s.IMDSv2TokenURL, awsFields.IMDSv2TokenURL},
		{cs.RegionalCredVerificationURL, &s.VerificationURL, awsFields.VerificationURL},
	} {
		if *x.to, err = str(x.field, x.v); err != nil {
			return nil, err
		}
	}
	if err := verr(awssub.Check(s, awsFields)); err != nil {
		return nil, err
	}
	return o.plain((&awssubject.Subject{
		RegionURL:                   s.RegionURL,
		CredentialsURL:              s.CredentialsURL,
		IMDSv2TokenURL:              s.IMDSv2TokenURL,
		RegionalCredVerificationURL: s.VerificationURL,
		HTTPClient:                  o.HTTPClient,
		Getenv:                      o.Getenv,
	}).SubjectToken, "aws"), nil
}

// x509Fields names the certificate settings of credential_source.
var x509Fields = x509cert.Fields{
	ConfigFile: "credential_source.certificate.certificate_config_location",
	UseDefault: "credential_source.certificate.use_default_certificate_config",
	TrustChain: "credential_source.certificate.trust_chain_path",
}

// buildX509 checks credential_source.certificate, reading the files it
// names, and builds its provider and the mutual-TLS client of the exchange.
func buildX509(c *certificateSource, tokenType string, o *Options) (*source, error) {
	if c.CertificateConfigLocation != nil && *c.CertificateConfigLocation == "" {
		return nil, invalid(x509Fields.ConfigFile, "must not be empty")
	}
	if tokenType != sts.TokenTypeMTLS {
		return nil, invalid("subject_token_type", "a certificate source needs %s", sts.TokenTypeMTLS)
	}
	cfg := x509cert.Config{
		UseDefault:     c.UseDefaultCertificateConfig != nil && *c.UseDefaultCertificateConfig,
		TrustChainFile: c.TrustChainPath,
		Getenv:         o.Getenv,
	}
	if c.CertificateConfigLocation != nil {
		cfg.ConfigFile = *c.CertificateConfigLocation
	}
	// The configuration, key pair and chain are read now, so that a
	// missing or broken file fails the load.
	if err := verr(x509cert.Check(cfg, x509Fields, new(x509cert.Shared))); err != nil {
		return nil, err
	}
	if err := verr(x509cert.CheckClient(fieldClient, o.HTTPClient)); err != nil {
		return nil, err
	}
	x := &x509subject.Subject{
		CertificateConfigFile:       cfg.ConfigFile,
		UseDefaultCertificateConfig: cfg.UseDefault,
		TrustChainFile:              cfg.TrustChainFile,
		Getenv:                      o.Getenv,
	}
	client, err := x.ExchangeClient(o.HTTPClient)
	if err != nil {
		return nil, err
	}
	return &source{token: x.SubjectToken, kind: "x509", client: client, mtls: true, x509: x}, nil
}
