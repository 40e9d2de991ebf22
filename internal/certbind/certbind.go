// Package certbind decides and computes the binding of exchanged tokens to
// an X.509 client certificate (STS's options.bindCertFingerprint): a bound
// token is accepted only over connections that present that certificate.
package certbind

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"strings"
)

// EnvPreventSharing is the switch Google's client libraries read for agent
// identities: unset or "true" (any case) binds their tokens, "false" opts
// out; any other value binds nothing.
const EnvPreventSharing = "GOOGLE_API_PREVENT_AGENT_TOKEN_SHARING_FOR_GCP_SERVICES"

// OptionKey is the member of the exchange's options JSON that carries the
// fingerprint.
const OptionKey = "bindCertFingerprint"

// agentTrustDomain reports whether host is a SPIFFE trust domain of
// Google's agent identities: agents.global.org-NUMBER.system.id.goog or
// agents.global.proj-NUMBER.system.id.goog.
func agentTrustDomain(host string) bool {
	rest, ok := strings.CutPrefix(host, "agents.global.")
	if !ok {
		return false
	}
	if r, ok := strings.CutPrefix(rest, "org-"); ok {
		rest = r
	} else if r, ok := strings.CutPrefix(rest, "proj-"); ok {
		rest = r
	} else {
		return false
	}
	number, ok := strings.CutSuffix(rest, ".system.id.goog")
	if !ok || number == "" {
		return false
	}
	for i := 0; i < len(number); i++ {
		if number[i] < '0' || number[i] > '9' {
			return false
		}
	}
	return true
}

// Fingerprint returns the value of bindCertFingerprint for a certificate:
// the unpadded base64url encoding of the SHA-256 of its DER form (43
// characters).
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// IsAgentIdentity reports whether cert names an agent identity: one of its
// URI subject alternative names is a SPIFFE ID ("spiffe://TRUST-DOMAIN/…")
// in an agent identity trust domain.
func IsAgentIdentity(cert *x509.Certificate) bool {
	if cert == nil {
		return false
	}
	for _, u := range cert.URIs {
		if u != nil && strings.EqualFold(u.Scheme, "spiffe") && agentTrustDomain(u.Host) {
			return true
		}
	}
	return false
}

// AgentDefault reports whether a token exchanged with cert is bound when
// the caller neither asks for binding nor refuses it, as Google's libraries
// decide it: cert names an agent identity and env, the value of
// EnvPreventSharing, is empty or "true".
func AgentDefault(cert *x509.Certificate, env string) bool {
	env = strings.ToLower(strings.TrimSpace(env))
	return (env == "" || env == "true") && IsAgentIdentity(cert)
}
