package certbind

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net/url"
	"regexp"
	"testing"
	"time"
)

// certWithURIs returns a self-signed certificate with the given URI SANs.
func certWithURIs(t *testing.T, uris ...string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "workload"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	for _, s := range uris {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, u)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestFingerprint: 43 characters of unpadded base64url of the DER's
// SHA-256.
func TestFingerprint(t *testing.T) {
	cert := certWithURIs(t)
	fp := Fingerprint(cert)
	sum := sha256.Sum256(cert.Raw)
	if len(fp) != 43 || fp != base64.RawURLEncoding.EncodeToString(sum[:]) {
		t.Errorf("Fingerprint = %q", fp)
	}
	for _, c := range fp {
		if c == '+' || c == '/' || c == '=' {
			t.Errorf("Fingerprint %q is not unpadded base64url", fp)
		}
	}
}

// TestAgentIdentity: only SPIFFE IDs in the agent trust domains count, and
// the switch opts out with "false" only.
func TestAgentIdentity(t *testing.T) {
	for _, tc := range []struct {
		uris  []string
		agent bool
	}{
		{[]string{"spiffe://agents.global.org-123456.system.id.goog/resources/aiplatform/agent"}, true},
		{[]string{"spiffe://agents.global.proj-42.system.id.goog/x"}, true},
		{[]string{"https://example.com", "SPIFFE://agents.global.proj-42.system.id.goog/x"}, true},
		{[]string{"spiffe://agents.global.proj-x42.system.id.goog/x"}, false},
		{[]string{"spiffe://agents.global.proj-42.system.id.goog.evil.example/x"}, false},
		{[]string{"spiffe://example.org/agent"}, false},
		{[]string{"https://agents.global.proj-42.system.id.goog/x"}, false},
		{nil, false},
	} {
		cert := certWithURIs(t, tc.uris...)
		if got := IsAgentIdentity(cert); got != tc.agent {
			t.Errorf("IsAgentIdentity(%v) = %t", tc.uris, got)
		}
		for env, bind := range map[string]bool{"": tc.agent, "true": tc.agent, "TRUE": tc.agent, "false": false, "False": false, "0": false} {
			if got := AgentDefault(cert, env); got != bind {
				t.Errorf("AgentDefault(%v, %q) = %t, want %t", tc.uris, env, got, bind)
			}
		}
	}
	if IsAgentIdentity(nil) {
		t.Error("nil certificate is an agent identity")
	}
}

// agentTrustDomainRE is the pattern agentTrustDomain implements without the
// regexp package.
var agentTrustDomainRE = regexp.MustCompile(`^agents\.global\.(org|proj)-[0-9]+\.system\.id\.goog$`)

// FuzzAgentTrustDomain: agentTrustDomain agrees with its pattern.
func FuzzAgentTrustDomain(f *testing.F) {
	for _, s := range []string{"agents.global.org-123456.system.id.goog", "agents.global.proj-42.system.id.goog", "agents.global.proj-.system.id.goog",
		"agents.global.proj-x42.system.id.goog", "agents.global.org-1.system.id.goog.evil", "agents.global.team-1.system.id.goog", "", "agents.global.org-1\n.system.id.goog"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		if got, want := agentTrustDomain(host), agentTrustDomainRE.MatchString(host); got != want {
			t.Errorf("agentTrustDomain(%q) = %t, want %t", host, got, want)
		}
	})
}
