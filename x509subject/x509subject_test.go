package x509subject

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/internal/x509cert"
)

func TestX509SubjectToken(t *testing.T) {
	f := fixture.NewX509(t)
	ctx := context.Background()

	s := &Subject{CertificateConfigFile: f.Config, TrustChainFile: f.Chain}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	tok, err := s.SubjectToken(ctx, sts.SubjectRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := fixture.DecodeX509Token(t, tok); !fixture.SameDERs(got, f.LeafDER, f.Inter.DER, f.Root.DER) {
		t.Errorf("token holds %d certificates, not leaf, intermediate, root", len(got))
	}

	// Without a trust chain: the leaf only.
	s2 := &Subject{CertificateConfigFile: f.Config}
	tok, err = s2.SubjectToken(ctx, sts.SubjectRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := fixture.DecodeX509Token(t, tok); !fixture.SameDERs(got, f.LeafDER) {
		t.Errorf("leaf-only token holds %d certificates", len(got))
	}

	// A chain that starts with the leaf: the repeat is dropped.
	withLeaf := filepath.Join(f.Dir, "chain-with-leaf.pem")
	fixture.WriteFile(t, withLeaf, append(fixture.PEM("CERTIFICATE", f.LeafDER), fixture.PEM("CERTIFICATE", f.Inter.DER)...))
	s3 := &Subject{CertificateConfigFile: f.Config, TrustChainFile: withLeaf}
	tok, err = s3.SubjectToken(ctx, sts.SubjectRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := fixture.DecodeX509Token(t, tok); !fixture.SameDERs(got, f.LeafDER, f.Inter.DER) {
		t.Errorf("leaf repeated: token holds %d certificates", len(got))
	}

	// The leaf later in the chain: an error, at construction and at use.
	middle := filepath.Join(f.Dir, "chain-leaf-middle.pem")
	fixture.WriteFile(t, middle, append(fixture.PEM("CERTIFICATE", f.Inter.DER), fixture.PEM("CERTIFICATE", f.LeafDER)...))
	s4 := &Subject{CertificateConfigFile: f.Config, TrustChainFile: middle}
	var ve *sts.ValidationError
	if err := s4.Validate(); !errors.As(err, &ve) || ve.Field != "x509subject.Subject.TrustChainFile" || !strings.Contains(err.Error(), "certificate 2 of the chain") {
		t.Errorf("validate = %v", err)
	}
	var e *sts.Error
	if _, err := s4.SubjectToken(ctx, sts.SubjectRequest{}); !errors.As(err, &e) || e.Op != "subject" {
		t.Errorf("SubjectToken = %v", err)
	}
	if s.SourceKind() != "x509" {
		t.Errorf("sourceKind = %q", s.SourceKind())
	}
}

func TestX509SubjectRelativePaths(t *testing.T) {
	f := fixture.NewX509(t)
	fixture.WriteFile(t, f.Config, []byte(`{"cert_configs":{"workload":{"cert_path":"cert.pem","key_path":"key.pem"}}}`))
	s := &Subject{CertificateConfigFile: f.Config}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestX509SubjectDefaultConfig(t *testing.T) {
	f := fixture.NewX509(t)
	ctx := context.Background()
	// From GOOGLE_API_CERTIFICATE_CONFIG.
	s := &Subject{UseDefaultCertificateConfig: true, Getenv: fixture.EnvMap(map[string]string{CertificateConfigEnv: f.Config, "HOME": "/nonexistent"})}
	if _, err := s.SubjectToken(ctx, sts.SubjectRequest{}); err != nil {
		t.Fatal(err)
	}
	// From gcloud's directory under HOME.
	home := t.TempDir()
	gdir := filepath.Join(home, ".config", "gcloud")
	if err := os.MkdirAll(gdir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg, _ := os.ReadFile(f.Config)
	fixture.WriteFile(t, filepath.Join(gdir, "certificate_config.json"), cfg)
	key, appdata := "HOME", home
	if filepath.Separator == '\\' {
		key, appdata = "APPDATA", filepath.Join(home, ".config")
	}
	s = &Subject{UseDefaultCertificateConfig: true, Getenv: fixture.EnvMap(map[string]string{key: appdata})}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	// Nothing there.
	s = &Subject{UseDefaultCertificateConfig: true, Getenv: fixture.EnvMap(map[string]string{"HOME": t.TempDir(), "APPDATA": t.TempDir()})}
	var ve *sts.ValidationError
	if err := s.Validate(); !errors.As(err, &ve) || ve.Field != "x509subject.Subject.UseDefaultCertificateConfig" {
		t.Errorf("validate = %v", err)
	}
	s = &Subject{UseDefaultCertificateConfig: true, Getenv: fixture.EnvMap(nil)}
	if err := s.Validate(); !errors.As(err, &ve) || ve.Field != "x509subject.Subject.UseDefaultCertificateConfig" {
		t.Errorf("validate without HOME = %v", err)
	}
}

func TestX509SubjectBadInputs(t *testing.T) {
	f := fixture.NewX509(t)
	p := func(name string) string { return filepath.Join(f.Dir, name) }
	cfg := func(cert, key string) []byte {
		return []byte(`{"cert_configs":{"workload":{"cert_path":"` + fixture.JSONEscape(cert) + `","key_path":"` + fixture.JSONEscape(key) + `"}}}`)
	}
	_, otherCert, otherKey := f.Inter.Leaf(t, "other")
	fixture.WriteFile(t, p("other-key.pem"), otherKey)
	fixture.WriteFile(t, p("other-cert.pem"), otherCert)
	fixture.WriteFile(t, p("garbage.pem"), []byte("not pem at all"))
	fixture.WriteFile(t, p("key-as-cert.pem"), f.KeyPEM)
	fixture.WriteFile(t, p("bad-der.pem"), fixture.PEM("CERTIFICATE", []byte("not DER")))
	fixture.WriteFile(t, p("rsa-key-type.pem"), fixture.PEM("RSA PRIVATE KEY", []byte("junk")))
	fixture.WriteFile(t, p("chain-with-key.pem"), append(fixture.PEM("CERTIFICATE", f.Inter.DER), f.KeyPEM...))
	fixture.WriteFile(t, p("chain-trailing.pem"), append(fixture.PEM("CERTIFICATE", f.Inter.DER), "trailing"...))
	fixture.WriteFile(t, p("chain-bad-der.pem"), fixture.PEM("CERTIFICATE", []byte{0x30, 0x03, 1, 2, 3}))
	fixture.WriteFile(t, p("big.pem"), make([]byte, 1<<20+10))

	for _, tc := range []struct {
		name    string
		config  []byte // written to a fresh config file; nil means f.Config
		cfgPath string // overrides the config path
		chain   string
		field   string
		reason  string
	}{
		{"missing config file", nil, p("nope.json"), "", "x509subject.Subject.CertificateConfigFile", "no such file"},
		{"config is a directory", nil, f.Dir, "", "x509subject.Subject.CertificateConfigFile", "certificate configuration"},
		{"bad JSON", []byte(`{"cert_configs":`), "", "", "x509subject.Subject.CertificateConfigFile", "not valid JSON"},
		{"wrong shape", []byte(`{"cert_configs":[]}`), "", "", "x509subject.Subject.CertificateConfigFile", "expected shape"},
		{"no cert_configs", []byte(`{}`), "", "", "x509subject.Subject.CertificateConfigFile", "no cert_configs"},
		{"no workload", []byte(`{"cert_configs":{"other":{}}}`), "", "", "x509subject.Subject.CertificateConfigFile", "no cert_configs.workload"},
		{"no cert_path", []byte(`{"cert_configs":{"workload":{"key_path":"k"}}}`), "", "", "x509subject.Subject.CertificateConfigFile", "cert_path"},
		{"no key_path", []byte(`{"cert_configs":{"workload":{"cert_path":"c"}}}`), "", "", "x509subject.Subject.CertificateConfigFile", "key_path"},
		{"missing cert", cfg(p("none.pem"), f.Key), "", "", "x509subject.Subject.CertificateConfigFile", "no such file"},
		{"missing key", cfg(f.Cert, p("none.pem")), "", "", "x509subject.Subject.CertificateConfigFile", "no such file"},
		{"cert not PEM", cfg(p("garbage.pem"), f.Key), "", "", "x509subject.Subject.CertificateConfigFile", "no PEM CERTIFICATE"},
		{"cert is a key", cfg(p("key-as-cert.pem"), f.Key), "", "", "x509subject.Subject.CertificateConfigFile", "no PEM CERTIFICATE"},
		{"cert bad DER", cfg(p("bad-der.pem"), f.Key), "", "", "x509subject.Subject.CertificateConfigFile", "key pair"},
		{"key not PEM", cfg(f.Cert, p("garbage.pem")), "", "", "x509subject.Subject.CertificateConfigFile", "no PEM PRIVATE KEY"},
		{"key is a cert", cfg(f.Cert, p("other-cert.pem")), "", "", "x509subject.Subject.CertificateConfigFile", "no PEM PRIVATE KEY"},
		{"key junk", cfg(f.Cert, p("rsa-key-type.pem")), "", "", "x509subject.Subject.CertificateConfigFile", "key pair"},
		{"key mismatch", cfg(f.Cert, p("other-key.pem")), "", "", "x509subject.Subject.CertificateConfigFile", "does not match"},
		{"cert too big", cfg(p("big.pem"), f.Key), "", "", "x509subject.Subject.CertificateConfigFile", "larger than"},
		{"missing chain", nil, "", p("none.pem"), "x509subject.Subject.TrustChainFile", "no such file"},
		{"chain not PEM", nil, "", p("garbage.pem"), "x509subject.Subject.TrustChainFile", "no PEM certificate"},
		{"chain holds a key", nil, "", p("chain-with-key.pem"), "x509subject.Subject.TrustChainFile", "not a CERTIFICATE"},
		{"chain trailing garbage", nil, "", p("chain-trailing.pem"), "x509subject.Subject.TrustChainFile", "not PEM"},
		{"chain bad DER", nil, "", p("chain-bad-der.pem"), "x509subject.Subject.TrustChainFile", "does not parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := f.Config
			if tc.cfgPath != "" {
				path = tc.cfgPath
			}
			if tc.config != nil {
				path = filepath.Join(t.TempDir(), "config.json")
				fixture.WriteFile(t, path, tc.config)
			}
			s := &Subject{CertificateConfigFile: path, TrustChainFile: tc.chain}
			err := s.Validate()
			var ve *sts.ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field || !strings.Contains(ve.Reason, tc.reason) {
				t.Fatalf("validate = %v, want field %s with %q", err, tc.field, tc.reason)
			}
			_, err = s.SubjectToken(context.Background(), sts.SubjectRequest{})
			var e *sts.Error
			if !errors.As(err, &e) || e.Op != "subject" {
				t.Errorf("SubjectToken = %v, want *sts.Error", err)
			}
			checkNoKeyMaterial(t, f, err)
			checkNoKeyMaterial(t, f, ve)
		})
	}

	for _, tc := range []struct {
		name  string
		s     Subject
		field string
	}{
		{"neither", Subject{}, "x509subject.Subject.CertificateConfigFile"},
		{"both", Subject{CertificateConfigFile: f.Config, UseDefaultCertificateConfig: true}, "x509subject.Subject.UseDefaultCertificateConfig"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ve *sts.ValidationError
			if err := tc.s.Validate(); !errors.As(err, &ve) || ve.Field != tc.field {
				t.Errorf("validate = %v, want field %s", err, tc.field)
			}
			if _, err := tc.s.SubjectToken(context.Background(), sts.SubjectRequest{}); !errors.As(err, &ve) {
				t.Errorf("SubjectToken = %v", err)
			}
		})
	}
	var nilSubject *Subject
	if nilSubject.Validate() == nil {
		t.Error("nil subject validated")
	}
}

func checkNoKeyMaterial(t *testing.T, f *fixture.X509, err error) {
	t.Helper()
	if err == nil {
		return
	}
	b, _ := pem.Decode(f.KeyPEM)
	keyB64 := base64.StdEncoding.EncodeToString(b.Bytes)
	for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		if strings.Contains(s, "BEGIN") || strings.Contains(s, keyB64[10:40]) {
			t.Errorf("error reveals key material: %s", s)
		}
	}
}

func TestX509SubjectExchangeOverMTLS(t *testing.T) {
	f := fixture.NewX509(t)
	// The server verifies the client chain itself: include the intermediate
	// in the presented certificate file.
	certPEM := append(fixture.PEM("CERTIFICATE", f.LeafDER), fixture.PEM("CERTIFICATE", f.Inter.DER)...)
	fixture.WriteFile(t, f.Cert, certPEM)
	m := fixture.NewMTLSSTS(t, f.Root)

	const aud = "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/x509-pool/providers/corp-ca"
	subject := &Subject{CertificateConfigFile: f.Config, TrustChainFile: f.Chain}
	base := m.Srv.Client()
	base.Timeout = 7 * time.Second
	cfg := sts.Config{Subject: subject, SubjectTokenType: sts.TokenTypeMTLS, Audience: aud, TokenURL: m.Srv.URL + "/v1/token", HTTPOptions: sts.HTTPOptions{HTTPClient: base}}
	x, err := sts.NewTokenSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := x.TokenContext(context.Background())
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if !tok.Valid() {
		t.Fatal("invalid token")
	}
	if p := m.LastPeer(); p == nil || string(p) != string(f.LeafDER) {
		t.Fatal("server did not see the workload certificate")
	}
	if base.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate != nil {
		t.Error("the caller's transport was modified")
	}

	// Rotation: the next exchange presents, and sends, the new certificate.
	newLeaf := f.Rotate(t)
	fixture.WriteFile(t, f.Cert, append(fixture.PEM("CERTIFICATE", newLeaf), fixture.PEM("CERTIFICATE", f.Inter.DER)...))
	fixture.Bump(t, f.Cert)
	x.Invalidate(nil) // the next call exchanges again
	if _, err := x.TokenContext(context.Background()); err != nil {
		t.Fatalf("exchange after rotation: %v", err)
	}
	if p := m.LastPeer(); p == nil || string(p) != string(newLeaf) {
		t.Fatal("server did not see the rotated certificate")
	}

	// The cached token source works too.
	ts, err := sts.NewTokenSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Token(); err != nil {
		t.Fatal(err)
	}

	// Without the provider's client the server refuses the connection.
	plain, err := sts.NewTokenSource(sts.Config{Subject: sts.StaticSubject("x"), SubjectTokenType: sts.TokenTypeMTLS, Audience: aud, TokenURL: m.Srv.URL + "/v1/token", HTTPOptions: sts.HTTPOptions{HTTPClient: m.Srv.Client(), Retry: sts.RetryPolicy{MaxAttempts: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.TokenContext(context.Background()); err == nil {
		t.Error("exchange without a client certificate succeeded")
	}
}

func TestX509SubjectRotationToBadPairKeepsLastGood(t *testing.T) {
	f := fixture.NewX509(t)
	s := &Subject{CertificateConfigFile: f.Config}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	st := s.shared.Get(f.Config, s.TrustChainFile)
	first, err := st.ClientCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	// Half-way through a rotation: a new certificate with the old key.
	_, certPEM, _ := f.Inter.Leaf(t, "half")
	fixture.WriteFile(t, f.Cert, certPEM)
	fixture.Bump(t, f.Cert)
	got, err := st.ClientCertificate(nil)
	if err != nil || got != first {
		t.Errorf("clientCertificate during a bad rotation = %v, %v; want the last good pair", got, err)
	}
	_, err = s.SubjectToken(context.Background(), sts.SubjectRequest{})
	var e *sts.Error
	if !errors.As(err, &e) || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("SubjectToken during a bad rotation = %v", err)
	}
	checkNoKeyMaterial(t, f, err)
	// Rotation completes.
	der := f.Rotate(t)
	tok, err := s.SubjectToken(context.Background(), sts.SubjectRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := fixture.DecodeX509Token(t, tok); !fixture.SameDERs(got, der) {
		t.Error("token does not hold the rotated leaf")
	}
	if c, _ := st.ClientCertificate(nil); c == first {
		t.Error("client certificate not rotated")
	}
	// Before any success there is nothing to fall back to.
	fresh := new(x509cert.Shared).Get(filepath.Join(f.Dir, "none.json"), "")
	if c, err := fresh.ClientCertificate(nil); c != nil || err == nil {
		t.Errorf("clientCertificate without files = %v, %v", c, err)
	}
}

func TestX509SubjectExchangeClient(t *testing.T) {
	f := fixture.NewX509(t)
	s := &Subject{CertificateConfigFile: f.Config}
	c, err := s.ExchangeClient(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := c.Transport.(*http.Transport)
	if tr == http.DefaultTransport || tr.TLSClientConfig.GetClientCertificate == nil {
		t.Error("default client not wired for mTLS")
	}
	pool := x509.NewCertPool()
	base := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{MaxIdleConns: 7, TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "sts.example"}}}
	c, err = s.ExchangeClient(base)
	if err != nil {
		t.Fatal(err)
	}
	tr = c.Transport.(*http.Transport)
	if c.Timeout != 3*time.Second || tr.MaxIdleConns != 7 || tr.TLSClientConfig.RootCAs != pool || tr.TLSClientConfig.ServerName != "sts.example" {
		t.Error("base client settings lost")
	}
	if base.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate != nil {
		t.Error("base transport modified")
	}
	_, err = s.ExchangeClient(&http.Client{Transport: fixture.RoundTrip(func(*http.Request) (*http.Response, error) { return nil, errors.New("x") })})
	var ve *sts.ValidationError
	if !errors.As(err, &ve) || ve.Field != "Config.HTTPClient" {
		t.Errorf("custom transport: %v", err)
	}
	// Through NewTokenSource the same error surfaces at construction.
	_, err = sts.NewTokenSource(sts.Config{Subject: s, SubjectTokenType: sts.TokenTypeMTLS, Audience: "aud", TokenURL: "https://sts.example/v1/token",
		HTTPOptions: sts.HTTPOptions{HTTPClient: &http.Client{Transport: fixture.RoundTrip(func(*http.Request) (*http.Response, error) { return nil, errors.New("x") })}}})
	if !errors.As(err, &ve) {
		t.Errorf("NewTokenSource with a custom transport: %v", err)
	}
}

func TestX509SubjectFormatting(t *testing.T) {
	f := fixture.NewX509(t)
	s := &Subject{CertificateConfigFile: f.Config, TrustChainFile: f.Chain}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(f.KeyPEM)
	keyB64 := base64.StdEncoding.EncodeToString(b.Bytes)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), fmt.Sprintf("%v", *s), fmt.Sprintf("%+v", *s)} {
		if strings.Contains(out, "PRIVATE") || strings.Contains(out, keyB64[10:40]) {
			t.Errorf("formatting reveals the key: %s", out)
		}
	}
	// Copies share the loaded pair.
	cp := *s
	if cp.shared.Get(f.Config, cp.TrustChainFile) != s.shared.Get(f.Config, s.TrustChainFile) {
		t.Error("copy does not share the state")
	}
}

func TestX509SubjectCancelledContext(t *testing.T) {
	f := fixture.NewX509(t)
	s := &Subject{CertificateConfigFile: f.Config}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.SubjectToken(ctx, sts.SubjectRequest{}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

func TestX509SubjectConcurrentRotation(t *testing.T) {
	f := fixture.NewX509(t)
	s := &Subject{CertificateConfigFile: f.Config, TrustChainFile: f.Chain}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	st := s.shared.Get(f.Config, s.TrustChainFile)
	done := make(chan struct{})
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				if c, err := st.ClientCertificate(nil); c == nil {
					errs <- fmt.Errorf("no client certificate: %v", err)
					return
				}
				// During a rotation the token may fail (files half
				// written); it must never panic or mix pairs silently.
				s.SubjectToken(context.Background(), sts.SubjectRequest{})
			}
		}()
	}
	for range 5 {
		f.Rotate(t)
	}
	close(done)
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	tok, err := s.SubjectToken(context.Background(), sts.SubjectRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := fixture.DecodeX509Token(t, tok); string(got[0]) != string(f.LeafDER) {
		t.Error("final token does not hold the last rotated leaf")
	}
}

// TestX509SubjectNilAndBadConfiguration: a nil Subject and a configuration
// without a file fail with *sts.ValidationError everywhere.
func TestX509SubjectNilAndBadConfiguration(t *testing.T) {
	var nilSubject *Subject
	if nilSubject.String() != "x509subject.Subject(nil)" {
		t.Error(nilSubject.String())
	}
	var ve *sts.ValidationError
	if _, err := nilSubject.SubjectToken(context.Background(), sts.SubjectRequest{}); !errors.As(err, &ve) || ve.Field != "x509subject.Subject" {
		t.Errorf("nil SubjectToken: %v", err)
	}
	if _, err := (&Subject{}).ExchangeClient(nil); !errors.As(err, &ve) || ve.Field != "x509subject.Subject.CertificateConfigFile" {
		t.Errorf("ExchangeClient without a configuration: %v", err)
	}
}
