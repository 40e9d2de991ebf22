package x509subject

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/ststest"
)

const (
	bindAud   = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/x509-pool/providers/corp-ca"
	bindPool  = "projects/123/locations/global/workloadIdentityPools/x509-pool"
	agentSPID = "spiffe://agents.global.proj-123.system.id.goog/resources/aiplatform/agent"
)

func fingerprintOf(der []byte) string {
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// bindingSetup returns an HTTPS emulator, a certificate fixture and a token
// source exchanging with s over mutual TLS.
func bindingSetup(t *testing.T, s *Subject, f *fixture.X509, getenv map[string]string) (*ststest.Server, *sts.CachedTokenSource) {
	t.Helper()
	emu := ststest.NewTLSServer(ststest.Options{})
	t.Cleanup(emu.Close)
	s.CertificateConfigFile = f.Config
	s.Getenv = fixture.EnvMap(getenv)
	ts, err := sts.NewTokenSource(sts.Config{
		Subject: s, SubjectTokenType: sts.TokenTypeMTLS, Audience: bindAud, TokenURL: emu.TokenURL(),
		HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client(), Retry: sts.RetryPolicy{MaxAttempts: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return emu, ts
}

// lookUp calls the emulator's allowedLocations lookup with tok over client
// and returns the status.
func lookUp(t *testing.T, emu *ststest.Server, client *http.Client, tok string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, emu.URL+"/v1/"+bindPool+"/allowedLocations", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestBindAlways: the token is bound to the leaf the exchange presented;
// Google APIs (here the emulator's lookup) accept it over a connection
// presenting that certificate and refuse it over one without; after a
// rotation the next token is bound to the new certificate.
func TestBindAlways(t *testing.T) {
	f := fixture.NewX509(t)
	s := &Subject{Binding: BindAlways}
	emu, ts := bindingSetup(t, s, f, nil)
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	info, _ := emu.Lookup(tok.AccessToken)
	if info.CertFingerprint != fingerprintOf(f.LeafDER) {
		t.Fatalf("token bound to %q, want the leaf's fingerprint", info.CertFingerprint)
	}
	mtls, err := s.ExchangeClient(emu.Client())
	if err != nil {
		t.Fatal(err)
	}
	if code := lookUp(t, emu, mtls, tok.AccessToken); code != http.StatusOK {
		t.Errorf("with the certificate: %d", code)
	}
	if code := lookUp(t, emu, emu.Client(), tok.AccessToken); code != http.StatusUnauthorized {
		t.Errorf("without the certificate: %d, want 401", code)
	}

	newLeaf := f.Rotate(t)
	ts.Invalidate(nil)
	tok, err = ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := emu.Lookup(tok.AccessToken); info.CertFingerprint != fingerprintOf(newLeaf) {
		t.Error("after rotation the token is not bound to the new certificate")
	}
	var last ststest.Request
	for _, r := range emu.Requests() {
		if r.Path == "/v1/token" {
			last = r
		}
	}
	if !strings.Contains(last.Form.Get("options"), `"bindCertFingerprint":"`+fingerprintOf(newLeaf)+`"`) {
		t.Errorf("options %s", last.Form.Get("options"))
	}
}

// TestBindAgentIdentities: by default, only an agent identity's token is
// bound, unless GOOGLE_API_PREVENT_AGENT_TOKEN_SHARING_FOR_GCP_SERVICES is
// "false"; BindNever binds none.
func TestBindAgentIdentities(t *testing.T) {
	for _, tc := range []struct {
		name    string
		binding Binding
		uris    []string
		env     map[string]string
		bound   bool
	}{
		{"workload certificate", BindAgentIdentities, nil, nil, false},
		{"agent identity", BindAgentIdentities, []string{agentSPID}, nil, true},
		{"agent identity, switch true", BindAgentIdentities, []string{agentSPID}, map[string]string{EnvPreventAgentTokenSharing: "TRUE"}, true},
		{"agent identity, opted out", BindAgentIdentities, []string{agentSPID}, map[string]string{EnvPreventAgentTokenSharing: "false"}, false},
		{"other SPIFFE domain", BindAgentIdentities, []string{"spiffe://example.org/agent"}, nil, false},
		{"agent identity, never", BindNever, []string{agentSPID}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fixture.NewX509(t)
			leaf := f.Rotate(t, tc.uris...)
			emu, ts := bindingSetup(t, &Subject{Binding: tc.binding}, f, tc.env)
			tok, err := ts.Token()
			if err != nil {
				t.Fatal(err)
			}
			info, _ := emu.Lookup(tok.AccessToken)
			if got := info.CertFingerprint != ""; got != tc.bound {
				t.Fatalf("bound %t, want %t", got, tc.bound)
			}
			if tc.bound && info.CertFingerprint != fingerprintOf(leaf) {
				t.Error("bound to another certificate")
			}
		})
	}
}

// TestBindingErrors: an unknown Binding fails validation; a caller setting
// bindCertFingerprint in Config.Options as well is refused;
// CertificateFingerprint gives the leaf's fingerprint, and an error for a
// configuration that cannot be read.
func TestBindingErrors(t *testing.T) {
	f := fixture.NewX509(t)
	var ve *sts.ValidationError
	if err := (&Subject{CertificateConfigFile: f.Config, Binding: 7}).Validate(); !errors.As(err, &ve) || ve.Field != "x509subject.Subject.Binding" {
		t.Errorf("unknown binding: %v", err)
	}
	_, err := sts.NewTokenSource(sts.Config{
		Subject: &Subject{CertificateConfigFile: f.Config}, SubjectTokenType: sts.TokenTypeMTLS, Audience: bindAud,
		Options: map[string]any{"bindCertFingerprint": "x"},
	})
	if !errors.As(err, &ve) || ve.Field != "Config.Options" {
		t.Errorf("options with the key: %v", err)
	}
	s := &Subject{CertificateConfigFile: f.Config, Binding: BindAlways}
	if fp, err := s.CertificateFingerprint(); err != nil || fp != fingerprintOf(f.LeafDER) {
		t.Errorf("CertificateFingerprint = %q, %v", fp, err)
	}
	if fp, err := (&Subject{CertificateConfigFile: f.Config + ".missing", Binding: BindAlways}).CertificateFingerprint(); err == nil || fp != "" {
		t.Errorf("missing configuration: %q, %v", fp, err)
	}
	if s := (&Subject{Binding: BindAlways}).String(); !strings.Contains(s, "BindAlways") {
		t.Errorf("String() = %s", s)
	}
	var nilSubject *Subject
	if _, err := nilSubject.CertificateFingerprint(); err == nil {
		t.Error("nil subject")
	}
}
