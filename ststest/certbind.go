package ststest

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
)

// descCertRequired explains the refusal of a certificate-bound token
// presented without its certificate.
const descCertRequired = "the token is bound to a client certificate the connection did not present"

// errCertificateRequired is returned by Server.Allows and
// Server.AllowsRequest for a token bound to a client certificate (see
// TokenInfo.CertFingerprint) presented without that certificate.
var errCertificateRequired = errors.New("ststest: " + descCertRequired)

// NewTLSServer starts an emulator on a loopback port with HTTPS, like
// httptest.NewTLSServer: Server.URL is "https://127.0.0.1:PORT",
// Server.Client trusts its certificate (Server.Certificate) and presents
// none. The server asks every client for a certificate and accepts any, or
// none: the certificate a connection presents is what certificate-bound
// tokens (TokenInfo.CertFingerprint) are checked against. Close it when
// done.
func NewTLSServer(opts Options) *Server {
	s := newServer(opts)
	s.ts = httptest.NewUnstartedServer(s)
	s.ts.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	s.ts.StartTLS()
	s.URL = s.ts.URL
	s.client = s.ts.Client()
	return s
}

// Certificate returns the certificate of a server started with
// NewTLSServer, to add to a client's root CAs; nil for other servers.
func (s *Server) Certificate() *x509.Certificate {
	if s.ts == nil || s.ts.TLS == nil {
		return nil
	}
	return s.ts.Certificate()
}

// fingerprint returns the value of options.bindCertFingerprint for a
// certificate: the unpadded base64url SHA-256 of its DER encoding.
func fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// peerFingerprint returns the fingerprint of the client certificate r's
// connection presented, or "".
func peerFingerprint(r *http.Request) string {
	if r == nil || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return ""
	}
	return fingerprint(r.TLS.PeerCertificates[0])
}

// validFingerprint reports whether fp has the form of a bindCertFingerprint:
// 43 characters of unpadded base64url encoding 32 bytes.
func validFingerprint(fp string) bool {
	if len(fp) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(fp)
	return err == nil && len(b) == sha256.Size
}

// presentedWith reports whether a token may be used over a connection that
// presented the certificate with fingerprint presented ("" for none).
func presentedWith(info TokenInfo, presented string) bool {
	return info.CertFingerprint == "" || info.CertFingerprint == presented
}
