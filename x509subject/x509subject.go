// Package x509subject is the subject-token provider of certificate-based
// workload identity federation: the workload's X.509 certificate chain is the
// subject token, and the token exchange goes over mutual TLS with that
// certificate.
//
//	ts, err := sts.NewTokenSource(sts.Config{
//		Subject:          &x509subject.Subject{UseDefaultCertificateConfig: true},
//		SubjectTokenType: sts.TokenTypeMTLS,
//		Audience:         "//iam.googleapis.com/projects/…/providers/corp-ca",
//		TokenURL:         "https://sts.mtls.googleapis.com/v1/token",
//	})
//
// sts.NewTokenSource sends the exchange through Subject.ExchangeClient, which
// presents the current certificate; the same client serves any other call
// that must present it. Credential files whose credential_source has a
// certificate are loaded by package credfile with this provider.
package x509subject

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/certbind"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/public"
	"github.com/stsgo/sts/internal/x509cert"
)

// CertificateConfigEnv names the environment variable that holds the path of
// the certificate configuration when Subject.UseDefaultCertificateConfig is
// set.
const CertificateConfigEnv = "GOOGLE_API_CERTIFICATE_CONFIG"

// Subject is the subject-token provider of certificate-based workload
// identity federation (subject token type sts.TokenTypeMTLS). The workload
// holds an X.509 certificate and its private key; the subject token is the
// JSON array of the standard-base64 DER certificates (the leaf, then the
// optional trust chain), and the token exchange itself goes over mutual TLS
// with that certificate: sts.NewTokenSource, given a Subject, sends the
// exchange with the client of ExchangeClient, which presents it. Google serves
// mutual TLS at the mTLS host, so set sts.Config.TokenURL to
// "https://sts.mtls.googleapis.com/v1/token" (the token_url gcloud writes for
// such pools).
//
// The certificate and key file names come from a certificate configuration
// file, as gcloud writes it:
//
//	{"cert_configs": {"workload": {"cert_path": "/path/cert.pem", "key_path": "/path/key.pem"}}}
//
// Relative paths in it are relative to the configuration file's directory.
// Exactly one of CertificateConfigFile and UseDefaultCertificateConfig must
// be set. The configuration, the certificate and the key are checked when the
// token source is built; afterwards they are read again whenever the files
// change (by modification time or size), so a rotated key pair is picked up
// by the next subject token and the next TLS handshake. While a rotation
// leaves a certificate and key that do not match, the last good pair is
// presented.
//
// Use a Subject through a pointer. Copying one is safe: copies share the
// loaded key pair when made after first use. The exported fields must not be
// changed while the provider is in use. The private key never appears in an
// error or in String's output.
type Subject struct {
	// CertificateConfigFile is the path of the certificate configuration
	// (the credential file's "certificate_config_location").
	CertificateConfigFile string
	// UseDefaultCertificateConfig selects the configuration named by the
	// GOOGLE_API_CERTIFICATE_CONFIG environment variable, or else gcloud's
	// default, ~/.config/gcloud/certificate_config.json
	// (%APPDATA%\gcloud\certificate_config.json on Windows) (the file's
	// "use_default_certificate_config").
	UseDefaultCertificateConfig bool
	// TrustChainFile is an optional PEM file of the certificates that chain
	// the leaf to a trust anchor configured in the pool (the file's
	// "trust_chain_path"). Empty means the subject token holds the leaf only.
	// A leaf repeated as its first certificate is dropped; the leaf anywhere
	// else in it is an error.
	TrustChainFile string
	// Getenv reads the environment (for UseDefaultCertificateConfig and
	// GOOGLE_API_PREVENT_AGENT_TOKEN_SHARING_FOR_GCP_SERVICES). Nil means
	// os.Getenv.
	Getenv func(string) string
	// Binding says when exchanged tokens are bound to the certificate;
	// the zero value binds those of agent identities (see Binding).
	Binding Binding

	shared x509cert.Shared // the loaded files, shared by copies
}

var _ sts.SubjectTokenProvider = (*Subject)(nil)

// Binding says when a token exchanged with a Subject is bound to its
// certificate: STS is asked (options.bindCertFingerprint, the unpadded
// base64url SHA-256 of the leaf's DER) to issue a token that Google accepts
// only over connections presenting that certificate, so that a stolen token
// is useless without the key. API calls must then present the certificate
// too: use ExchangeClient's client (or credfile's HTTPClient) for them, and
// for an impersonation that follows the exchange.
type Binding int

const (
	// BindAgentIdentities binds the tokens of agent identities, as
	// Google's client libraries decide it: the leaf's URI subject
	// alternative names hold a SPIFFE ID in the trust domain
	// agents.global.org-NUMBER.system.id.goog or
	// agents.global.proj-NUMBER.system.id.goog, and the environment's
	// GOOGLE_API_PREVENT_AGENT_TOKEN_SHARING_FOR_GCP_SERVICES is unset or
	// "true" ("false" opts out). Other certificates' tokens are not bound.
	// It is the zero value.
	BindAgentIdentities Binding = iota
	// BindAlways binds every token.
	BindAlways
	// BindNever binds no token.
	BindNever
)

// EnvPreventAgentTokenSharing is the environment switch of
// BindAgentIdentities.
const EnvPreventAgentTokenSharing = certbind.EnvPreventSharing

// String names the binding.
func (b Binding) String() string {
	switch b {
	case BindAgentIdentities:
		return "BindAgentIdentities"
	case BindAlways:
		return "BindAlways"
	case BindNever:
		return "BindNever"
	}
	return fmt.Sprintf("Binding(%d)", int(b))
}

// SourceKind returns "x509".
func (s *Subject) SourceKind() string { return "x509" }

// SubjectTokenTypes returns sts.TokenTypeMTLS.
func (s *Subject) SubjectTokenTypes() []string { return []string{sts.TokenTypeMTLS} }

// String describes the provider without any key material.
func (s *Subject) String() string {
	if s == nil {
		return "x509subject.Subject(nil)"
	}
	return fmt.Sprintf("x509subject.Subject{CertificateConfigFile:%q UseDefaultCertificateConfig:%t TrustChainFile:%q Binding:%v}",
		s.CertificateConfigFile, s.UseDefaultCertificateConfig, s.TrustChainFile, s.Binding)
}

// GoString is String, so %#v shows no key material either.
func (s *Subject) GoString() string { return s.String() }

// x509Fields names a Subject's fields in its validation errors.
var x509Fields = x509cert.Fields{
	ConfigFile: "x509subject.Subject.CertificateConfigFile",
	UseDefault: "x509subject.Subject.UseDefaultCertificateConfig",
	TrustChain: "x509subject.Subject.TrustChainFile",
}

func (s *Subject) config() x509cert.Config {
	return x509cert.Config{ConfigFile: s.CertificateConfigFile, UseDefault: s.UseDefaultCertificateConfig,
		TrustChainFile: s.TrustChainFile, Getenv: s.Getenv}
}

// state returns the shared state of the files the configuration names.
func (s *Subject) state() (*x509cert.State, error) {
	c := s.config()
	path, err := c.ConfigPath(x509Fields)
	if err != nil {
		return nil, public.Invalid(err)
	}
	return s.shared.Get(path, s.TrustChainFile), nil
}

// Validate checks the configuration and that the files it names hold a
// usable key pair and chain, naming the offending field.
func (s *Subject) Validate() error {
	if s == nil {
		return &sts.ValidationError{Field: "x509subject.Subject", Reason: "must not be nil"}
	}
	if s.Binding < BindAgentIdentities || s.Binding > BindNever {
		return &sts.ValidationError{Field: "x509subject.Subject.Binding", Reason: fmt.Sprintf("unknown binding %d", int(s.Binding))}
	}
	return public.Invalid(x509cert.Check(s.config(), x509Fields, &s.shared))
}

// CertificateFingerprint returns the fingerprint the token of the next
// exchange is bound to (the current leaf's, which the exchange presents), or
// "" when Binding leaves it unbound; sts.NewTokenSource calls it at each
// exchange. File problems are *sts.Error values with Op "subject".
func (s *Subject) CertificateFingerprint() (string, error) {
	if s == nil {
		return "", &sts.ValidationError{Field: "x509subject.Subject", Reason: "must not be nil"}
	}
	if s.Binding == BindNever {
		return "", nil
	}
	st, err := s.state()
	if err != nil {
		return "", err
	}
	leaf, xerr := st.Leaf()
	if xerr != nil {
		return "", &sts.Error{Op: "subject", Err: xerr}
	}
	if s.Binding == BindAgentIdentities {
		getenv := s.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		if !certbind.AgentDefault(leaf, getenv(certbind.EnvPreventSharing)) {
			return "", nil
		}
	}
	return certbind.Fingerprint(leaf), nil
}

// SubjectToken returns the JSON array of base64 DER certificates: the leaf of
// the current key pair, then the trust chain. File and format problems are
// *sts.Error values with Op "subject".
func (s *Subject) SubjectToken(ctx context.Context, _ sts.SubjectRequest) (string, error) {
	if s == nil {
		return "", &sts.ValidationError{Field: "x509subject.Subject", Reason: "must not be nil"}
	}
	st, err := s.state()
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", &sts.Error{Op: "subject", Err: httpx.Transient(err)}
	}
	tok, xerr := st.SubjectToken()
	if xerr != nil {
		return "", &sts.Error{Op: "subject", Err: xerr}
	}
	return tok, nil
}

// ExchangeClient returns a copy of base (or of http.DefaultClient) whose
// transport presents the current key pair as its TLS client certificate,
// following rotations: sts.NewTokenSource sends the exchange with it, and it
// serves any other call that must present the certificate (an API that
// checks certificate-bound tokens). The base transport must be an
// *http.Transport (or nil); its settings are kept. An error is an
// *sts.ValidationError naming the configuration, or "Config.HTTPClient" for
// base.
func (s *Subject) ExchangeClient(base *http.Client) (*http.Client, error) {
	st, err := s.state()
	if err != nil {
		return nil, err
	}
	c, cerr := x509cert.Client(st, base, "Config.HTTPClient")
	if cerr != nil {
		return nil, public.Invalid(cerr)
	}
	return c, nil
}
