package sts

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stsgo/sts/ststest"
)

// testCA issues certificates for the tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

var testSerial atomic.Int64

func newTestCA(t testing.TB, name string, parent *testCA) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(testSerial.Add(1)),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, der: der}
}

// leaf issues a client certificate and returns its DER, cert PEM and key PEM.
func (ca *testCA) leaf(t testing.TB, name string) (der, certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(testSerial.Add(1)),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err = x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der, pemOf("CERTIFICATE", der), pemOf("PRIVATE KEY", kd)
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// x509Fixture is a directory with a certificate configuration, a key pair
// issued by an intermediate CA, and a trust chain.
type x509Fixture struct {
	dir, config, cert, key, chain string
	root, inter                   *testCA
	leafDER, keyPEM               []byte
}

func newX509Fixture(t testing.TB) *x509Fixture {
	t.Helper()
	dir := t.TempDir()
	f := &x509Fixture{dir: dir, config: filepath.Join(dir, "certificate_config.json"),
		cert: filepath.Join(dir, "cert.pem"), key: filepath.Join(dir, "key.pem"), chain: filepath.Join(dir, "chain.pem")}
	f.root = newTestCA(t, "root", nil)
	f.inter = newTestCA(t, "intermediate", f.root)
	var certPEM []byte
	f.leafDER, certPEM, f.keyPEM = f.inter.leaf(t, "workload")
	writeFile(t, f.cert, certPEM)
	writeFile(t, f.key, f.keyPEM)
	writeFile(t, f.chain, append(pemOf("CERTIFICATE", f.inter.der), pemOf("CERTIFICATE", f.root.der)...))
	writeFile(t, f.config, []byte(`{"version":1,"cert_configs":{"workload":{"cert_path":"`+jsonEscape(f.cert)+`","key_path":"`+jsonEscape(f.key)+`"}}}`))
	return f
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// rotate writes a new key pair from the same CA and marks the files changed.
func (f *x509Fixture) rotate(t testing.TB) []byte {
	t.Helper()
	der, certPEM, keyPEM := f.inter.leaf(t, "workload-rotated")
	writeFile(t, f.cert, certPEM)
	writeFile(t, f.key, keyPEM)
	bump(t, f.cert, f.key)
	f.leafDER, f.keyPEM = der, keyPEM
	return der
}

// bump moves the files' modification time forward, so that a change is
// visible even within the file system's time granularity.
func bump(t testing.TB, paths ...string) {
	t.Helper()
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		mt := fi.ModTime().Add(time.Duration(testSerial.Add(1)) * time.Second)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
}

func decodeX509Token(t testing.TB, tok string) [][]byte {
	t.Helper()
	var arr []string
	if err := json.Unmarshal([]byte(tok), &arr); err != nil {
		t.Fatalf("token is not a JSON array of strings: %v", err)
	}
	var out [][]byte
	for _, s := range arr {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("not standard base64: %v", err)
		}
		out = append(out, b)
	}
	return out
}

func sameDERs(got [][]byte, want ...[]byte) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if string(got[i]) != string(want[i]) {
			return false
		}
	}
	return true
}

func TestX509SubjectToken(t *testing.T) {
	f := newX509Fixture(t)
	ctx := context.Background()

	s := &X509Subject{CertificateConfigFile: f.config, TrustChainFile: f.chain}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	tok, err := s.SubjectToken(ctx, SubjectRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeX509Token(t, tok); !sameDERs(got, f.leafDER, f.inter.der, f.root.der) {
		t.Errorf("token holds %d certificates, not leaf, intermediate, root", len(got))
	}

	// Without a trust chain: the leaf only.
	s2 := &X509Subject{CertificateConfigFile: f.config}
	tok, err = s2.SubjectToken(ctx, SubjectRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeX509Token(t, tok); !sameDERs(got, f.leafDER) {
		t.Errorf("leaf-only token holds %d certificates", len(got))
	}

	// A chain that starts with the leaf: the repeat is dropped.
	withLeaf := filepath.Join(f.dir, "chain-with-leaf.pem")
	writeFile(t, withLeaf, append(pemOf("CERTIFICATE", f.leafDER), pemOf("CERTIFICATE", f.inter.der)...))
	s3 := &X509Subject{CertificateConfigFile: f.config, TrustChainFile: withLeaf}
	tok, err = s3.SubjectToken(ctx, SubjectRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeX509Token(t, tok); !sameDERs(got, f.leafDER, f.inter.der) {
		t.Errorf("leaf repeated: token holds %d certificates", len(got))
	}

	// The leaf later in the chain: an error, at construction and at use.
	middle := filepath.Join(f.dir, "chain-leaf-middle.pem")
	writeFile(t, middle, append(pemOf("CERTIFICATE", f.inter.der), pemOf("CERTIFICATE", f.leafDER)...))
	s4 := &X509Subject{CertificateConfigFile: f.config, TrustChainFile: middle}
	var ve *ValidationError
	if err := s4.Validate(); !errors.As(err, &ve) || ve.Field != "X509Subject.TrustChainFile" || !strings.Contains(err.Error(), "certificate 2 of the chain") {
		t.Errorf("validate = %v", err)
	}
	var e *Error
	if _, err := s4.SubjectToken(ctx, SubjectRequest{}); !errors.As(err, &e) || e.Op != "subject" {
		t.Errorf("SubjectToken = %v", err)
	}
	if s.SourceKind() != "x509" || subjectKind(s) != "x509" {
		t.Errorf("sourceKind = %q", s.SourceKind())
	}
}

func TestX509SubjectRelativePaths(t *testing.T) {
	f := newX509Fixture(t)
	writeFile(t, f.config, []byte(`{"cert_configs":{"workload":{"cert_path":"cert.pem","key_path":"key.pem"}}}`))
	s := &X509Subject{CertificateConfigFile: f.config}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestX509SubjectDefaultConfig(t *testing.T) {
	f := newX509Fixture(t)
	ctx := context.Background()
	// From GOOGLE_API_CERTIFICATE_CONFIG.
	s := &X509Subject{UseDefaultCertificateConfig: true, Getenv: envMap(map[string]string{CertificateConfigEnv: f.config, "HOME": "/nonexistent"})}
	if _, err := s.SubjectToken(ctx, SubjectRequest{}); err != nil {
		t.Fatal(err)
	}
	// From gcloud's directory under HOME.
	home := t.TempDir()
	gdir := filepath.Join(home, ".config", "gcloud")
	if err := os.MkdirAll(gdir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg, _ := os.ReadFile(f.config)
	writeFile(t, filepath.Join(gdir, "certificate_config.json"), cfg)
	key, appdata := "HOME", home
	if filepath.Separator == '\\' {
		key, appdata = "APPDATA", filepath.Join(home, ".config")
	}
	s = &X509Subject{UseDefaultCertificateConfig: true, Getenv: envMap(map[string]string{key: appdata})}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	// Nothing there.
	s = &X509Subject{UseDefaultCertificateConfig: true, Getenv: envMap(map[string]string{"HOME": t.TempDir(), "APPDATA": t.TempDir()})}
	var ve *ValidationError
	if err := s.Validate(); !errors.As(err, &ve) || ve.Field != "X509Subject.UseDefaultCertificateConfig" {
		t.Errorf("validate = %v", err)
	}
	s = &X509Subject{UseDefaultCertificateConfig: true, Getenv: envMap(nil)}
	if err := s.Validate(); !errors.As(err, &ve) || ve.Field != "X509Subject.UseDefaultCertificateConfig" {
		t.Errorf("validate without HOME = %v", err)
	}
}

func TestX509SubjectBadInputs(t *testing.T) {
	f := newX509Fixture(t)
	p := func(name string) string { return filepath.Join(f.dir, name) }
	cfg := func(cert, key string) []byte {
		return []byte(`{"cert_configs":{"workload":{"cert_path":"` + jsonEscape(cert) + `","key_path":"` + jsonEscape(key) + `"}}}`)
	}
	_, otherCert, otherKey := f.inter.leaf(t, "other")
	writeFile(t, p("other-key.pem"), otherKey)
	writeFile(t, p("other-cert.pem"), otherCert)
	writeFile(t, p("garbage.pem"), []byte("not pem at all"))
	writeFile(t, p("key-as-cert.pem"), f.keyPEM)
	writeFile(t, p("bad-der.pem"), pemOf("CERTIFICATE", []byte("not DER")))
	writeFile(t, p("rsa-key-type.pem"), pemOf("RSA PRIVATE KEY", []byte("junk")))
	writeFile(t, p("chain-with-key.pem"), append(pemOf("CERTIFICATE", f.inter.der), f.keyPEM...))
	writeFile(t, p("chain-trailing.pem"), append(pemOf("CERTIFICATE", f.inter.der), "trailing"...))
	writeFile(t, p("chain-bad-der.pem"), pemOf("CERTIFICATE", []byte{0x30, 0x03, 1, 2, 3}))
	writeFile(t, p("big.pem"), make([]byte, maxCertFileSize+10))

	for _, tc := range []struct {
		name    string
		config  []byte // written to a fresh config file; nil means f.config
		cfgPath string // overrides the config path
		chain   string
		field   string
		reason  string
	}{
		{"missing config file", nil, p("nope.json"), "", "X509Subject.CertificateConfigFile", "no such file"},
		{"config is a directory", nil, f.dir, "", "X509Subject.CertificateConfigFile", "certificate configuration"},
		{"bad JSON", []byte(`{"cert_configs":`), "", "", "X509Subject.CertificateConfigFile", "not valid JSON"},
		{"wrong shape", []byte(`{"cert_configs":[]}`), "", "", "X509Subject.CertificateConfigFile", "expected shape"},
		{"no cert_configs", []byte(`{}`), "", "", "X509Subject.CertificateConfigFile", "no cert_configs"},
		{"no workload", []byte(`{"cert_configs":{"other":{}}}`), "", "", "X509Subject.CertificateConfigFile", "no cert_configs.workload"},
		{"no cert_path", []byte(`{"cert_configs":{"workload":{"key_path":"k"}}}`), "", "", "X509Subject.CertificateConfigFile", "cert_path"},
		{"no key_path", []byte(`{"cert_configs":{"workload":{"cert_path":"c"}}}`), "", "", "X509Subject.CertificateConfigFile", "key_path"},
		{"missing cert", cfg(p("none.pem"), f.key), "", "", "X509Subject.CertificateConfigFile", "no such file"},
		{"missing key", cfg(f.cert, p("none.pem")), "", "", "X509Subject.CertificateConfigFile", "no such file"},
		{"cert not PEM", cfg(p("garbage.pem"), f.key), "", "", "X509Subject.CertificateConfigFile", "no PEM CERTIFICATE"},
		{"cert is a key", cfg(p("key-as-cert.pem"), f.key), "", "", "X509Subject.CertificateConfigFile", "no PEM CERTIFICATE"},
		{"cert bad DER", cfg(p("bad-der.pem"), f.key), "", "", "X509Subject.CertificateConfigFile", "key pair"},
		{"key not PEM", cfg(f.cert, p("garbage.pem")), "", "", "X509Subject.CertificateConfigFile", "no PEM PRIVATE KEY"},
		{"key is a cert", cfg(f.cert, p("other-cert.pem")), "", "", "X509Subject.CertificateConfigFile", "no PEM PRIVATE KEY"},
		{"key junk", cfg(f.cert, p("rsa-key-type.pem")), "", "", "X509Subject.CertificateConfigFile", "key pair"},
		{"key mismatch", cfg(f.cert, p("other-key.pem")), "", "", "X509Subject.CertificateConfigFile", "does not match"},
		{"cert too big", cfg(p("big.pem"), f.key), "", "", "X509Subject.CertificateConfigFile", "larger than"},
		{"missing chain", nil, "", p("none.pem"), "X509Subject.TrustChainFile", "no such file"},
		{"chain not PEM", nil, "", p("garbage.pem"), "X509Subject.TrustChainFile", "no PEM certificate"},
		{"chain holds a key", nil, "", p("chain-with-key.pem"), "X509Subject.TrustChainFile", "not a CERTIFICATE"},
		{"chain trailing garbage", nil, "", p("chain-trailing.pem"), "X509Subject.TrustChainFile", "not PEM"},
		{"chain bad DER", nil, "", p("chain-bad-der.pem"), "X509Subject.TrustChainFile", "does not parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := f.config
			if tc.cfgPath != "" {
				path = tc.cfgPath
			}
			if tc.config != nil {
				path = filepath.Join(t.TempDir(), "config.json")
				writeFile(t, path, tc.config)
			}
			s := &X509Subject{CertificateConfigFile: path, TrustChainFile: tc.chain}
			err := s.Validate()
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field || !strings.Contains(ve.Reason, tc.reason) {
				t.Fatalf("validate = %v, want field %s with %q", err, tc.field, tc.reason)
			}
			_, err = s.SubjectToken(context.Background(), SubjectRequest{})
			var e *Error
			if !errors.As(err, &e) || e.Op != "subject" {
				t.Errorf("SubjectToken = %v, want *Error", err)
			}
			checkNoKeyMaterial(t, f, err)
			checkNoKeyMaterial(t, f, ve)
		})
	}

	for _, tc := range []struct {
		name  string
		s     X509Subject
		field string
	}{
		{"neither", X509Subject{}, "X509Subject.CertificateConfigFile"},
		{"both", X509Subject{CertificateConfigFile: f.config, UseDefaultCertificateConfig: true}, "X509Subject.UseDefaultCertificateConfig"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ve *ValidationError
			if err := tc.s.Validate(); !errors.As(err, &ve) || ve.Field != tc.field {
				t.Errorf("validate = %v, want field %s", err, tc.field)
			}
			if _, err := tc.s.SubjectToken(context.Background(), SubjectRequest{}); !errors.As(err, &ve) {
				t.Errorf("SubjectToken = %v", err)
			}
		})
	}
	var nilSubject *X509Subject
	if nilSubject.Validate() == nil {
		t.Error("nil subject validated")
	}
}

func checkNoKeyMaterial(t *testing.T, f *x509Fixture, err error) {
	t.Helper()
	if err == nil {
		return
	}
	b, _ := pem.Decode(f.keyPEM)
	keyB64 := base64.StdEncoding.EncodeToString(b.Bytes)
	for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		if strings.Contains(s, "BEGIN") || strings.Contains(s, keyB64[10:40]) {
			t.Errorf("error reveals key material: %s", s)
		}
	}
}

// mtlsSTS serves the STS emulator over TLS, requiring a client certificate
// from root, and records the presented leaf.
type mtlsSTS struct {
	emu      *ststest.Server
	srv      *httptest.Server
	lastPeer atomic.Pointer[[]byte]
}

func newMTLSSTS(t *testing.T, root *testCA, inter *testCA) *mtlsSTS {
	m := &mtlsSTS{}
	m.emu = ststest.NewServer(ststest.Options{ValidateSubject: func(typ, tok string) error {
		if typ != TokenTypeMTLS {
			return fmt.Errorf("type %q", typ)
		}
		var arr []string
		if err := json.Unmarshal([]byte(tok), &arr); err != nil || len(arr) == 0 {
			return errors.New("not a JSON array of certificates")
		}
		leaf, err := base64.StdEncoding.DecodeString(arr[0])
		if err != nil {
			return errors.New("not base64")
		}
		if p := m.lastPeer.Load(); p == nil || string(*p) != string(leaf) {
			return errors.New("subject token leaf is not the TLS client certificate")
		}
		return nil
	}})
	t.Cleanup(m.emu.Close)
	m.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "no client certificate", http.StatusUnauthorized)
			return
		}
		raw := r.TLS.PeerCertificates[0].Raw
		m.lastPeer.Store(&raw)
		m.emu.ServeHTTP(w, r)
	}))
	pool := x509.NewCertPool()
	pool.AddCert(root.cert)
	m.srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	m.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused plain client
	m.srv.StartTLS()
	t.Cleanup(m.srv.Close)
	_ = inter
	return m
}

func TestX509SubjectExchangeOverMTLS(t *testing.T) {
	f := newX509Fixture(t)
	// The server verifies the client chain itself: include the intermediate
	// in the presented certificate file.
	certPEM := append(pemOf("CERTIFICATE", f.leafDER), pemOf("CERTIFICATE", f.inter.der)...)
	writeFile(t, f.cert, certPEM)
	m := newMTLSSTS(t, f.root, f.inter)

	const aud = "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/x509-pool/providers/corp-ca"
	subject := &X509Subject{CertificateConfigFile: f.config, TrustChainFile: f.chain}
	base := m.srv.Client()
	base.Timeout = 7 * time.Second
	cfg := Config{Subject: subject, SubjectTokenType: TokenTypeMTLS, Audience: aud, TokenURL: m.srv.URL + "/v1/token", HTTPOptions: HTTPOptions{HTTPClient: base}}
	x, err := newExchanger(cfg)
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
	if p := m.lastPeer.Load(); p == nil || string(*p) != string(f.leafDER) {
		t.Fatal("server did not see the workload certificate")
	}
	if base.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate != nil {
		t.Error("the caller's transport was modified")
	}

	// Rotation: the next exchange presents, and sends, the new certificate.
	newLeaf := f.rotate(t)
	writeFile(t, f.cert, append(pemOf("CERTIFICATE", newLeaf), pemOf("CERTIFICATE", f.inter.der)...))
	bump(t, f.cert)
	if _, err := x.TokenContext(context.Background()); err != nil {
		t.Fatalf("exchange after rotation: %v", err)
	}
	if p := m.lastPeer.Load(); p == nil || string(*p) != string(newLeaf) {
		t.Fatal("server did not see the rotated certificate")
	}

	// The cached token source works too.
	ts, err := NewTokenSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Token(); err != nil {
		t.Fatal(err)
	}

	// Without the provider's client the server refuses the connection.
	plain, err := newExchanger(Config{Subject: StaticSubject("x"), SubjectTokenType: TokenTypeMTLS, Audience: aud, TokenURL: m.srv.URL + "/v1/token", HTTPOptions: HTTPOptions{HTTPClient: m.srv.Client(), Retry: RetryPolicy{MaxAttempts: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.TokenContext(context.Background()); err == nil {
		t.Error("exchange without a client certificate succeeded")
	}
}

func TestX509SubjectRotationToBadPairKeepsLastGood(t *testing.T) {
	f := newX509Fixture(t)
	s := &X509Subject{CertificateConfigFile: f.config}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	st := s.shared(f.config)
	first, err := st.clientCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	// Half-way through a rotation: a new certificate with the old key.
	_, certPEM, _ := f.inter.leaf(t, "half")
	writeFile(t, f.cert, certPEM)
	bump(t, f.cert)
	got, err := st.clientCertificate(nil)
	if err != nil || got != first {
		t.Errorf("clientCertificate during a bad rotation = %v, %v; want the last good pair", got, err)
	}
	_, err = s.SubjectToken(context.Background(), SubjectRequest{})
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("SubjectToken during a bad rotation = %v", err)
	}
	checkNoKeyMaterial(t, f, err)
	// Rotation completes.
	der := f.rotate(t)
	tok, err := s.SubjectToken(context.Background(), SubjectRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeX509Token(t, tok); !sameDERs(got, der) {
		t.Error("token does not hold the rotated leaf")
	}
	if c, _ := st.clientCertificate(nil); c == first {
		t.Error("client certificate not rotated")
	}
	// Before any success there is nothing to fall back to.
	fresh := &x509State{key: x509Key{configPath: filepath.Join(f.dir, "none.json")}}
	if c, err := fresh.clientCertificate(nil); c != nil || err == nil {
		t.Errorf("clientCertificate without files = %v, %v", c, err)
	}
}

func TestX509SubjectExchangeClient(t *testing.T) {
	f := newX509Fixture(t)
	s := &X509Subject{CertificateConfigFile: f.config}
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
	_, err = s.ExchangeClient(&http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("x") })})
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Field != "Config.HTTPClient" {
		t.Errorf("custom transport: %v", err)
	}
	// Through NewTokenSource the same error surfaces at construction.
	_, err = NewTokenSource(Config{Subject: s, SubjectTokenType: TokenTypeMTLS, Audience: "aud", TokenURL: "https://sts.example/v1/token",
		HTTPOptions: HTTPOptions{HTTPClient: &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("x") })}}})
	if !errors.As(err, &ve) {
		t.Errorf("NewTokenSource with a custom transport: %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestX509SubjectFormatting(t *testing.T) {
	f := newX509Fixture(t)
	s := &X509Subject{CertificateConfigFile: f.config, TrustChainFile: f.chain}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(f.keyPEM)
	keyB64 := base64.StdEncoding.EncodeToString(b.Bytes)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), fmt.Sprintf("%v", *s), fmt.Sprintf("%+v", *s)} {
		if strings.Contains(out, "PRIVATE") || strings.Contains(out, keyB64[10:40]) {
			t.Errorf("formatting reveals the key: %s", out)
		}
	}
	// Copies share the loaded pair.
	cp := *s
	if cp.shared(f.config) != s.shared(f.config) {
		t.Error("copy does not share the state")
	}
}

func TestX509SubjectCancelledContext(t *testing.T) {
	f := newX509Fixture(t)
	s := &X509Subject{CertificateConfigFile: f.config}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.SubjectToken(ctx, SubjectRequest{}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

func FuzzParseCertificateConfig(f *testing.F) {
	f.Add([]byte(`{"cert_configs":{"workload":{"cert_path":"/c.pem","key_path":"/k.pem"}}}`))
	f.Add([]byte(`{"version":1,"cert_configs":{"workload":{"cert_path":"c","key_path":"k"},"other":{}}}`))
	f.Add([]byte(`{"cert_configs":{}}`))
	f.Add([]byte(`{"cert_configs":null}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"cert_configs":{"workload":{"cert_path":1}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, k, err := parseCertificateConfig(data)
		if err != nil {
			if c != "" || k != "" {
				t.Fatal("paths with an error")
			}
			if strings.Contains(err.Error(), string(data)) && len(data) > 8 {
				t.Fatalf("error quotes the input: %v", err)
			}
			return
		}
		if c == "" || k == "" {
			t.Fatal("empty path accepted")
		}
	})
}

func FuzzX509SubjectToken(f *testing.F) {
	ca := newTestCA(f, "fuzz-root", nil)
	leaf, _, _ := ca.leaf(f, "fuzz-leaf")
	f.Add([]byte{})
	f.Add(pemOf("CERTIFICATE", ca.der))
	f.Add(append(pemOf("CERTIFICATE", leaf), pemOf("CERTIFICATE", ca.der)...))
	f.Add(append(pemOf("CERTIFICATE", ca.der), pemOf("CERTIFICATE", leaf)...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, chain []byte) {
		tok, err := x509SubjectToken(leaf, chain)
		if err != nil {
			return
		}
		got := decodeX509Token(t, tok)
		if len(got) == 0 || string(got[0]) != string(leaf) {
			t.Fatal("token does not start with the leaf")
		}
		for _, c := range got[1:] {
			if string(c) == string(leaf) {
				t.Fatal("leaf repeated in the token")
			}
		}
	})
}

func TestX509SubjectConcurrentRotation(t *testing.T) {
	f := newX509Fixture(t)
	s := &X509Subject{CertificateConfigFile: f.config, TrustChainFile: f.chain}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	st := s.shared(f.config)
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
				if c, err := st.clientCertificate(nil); c == nil {
					errs <- fmt.Errorf("no client certificate: %v", err)
					return
				}
				// During a rotation the token may fail (files half
				// written); it must never panic or mix pairs silently.
				s.SubjectToken(context.Background(), SubjectRequest{})
			}
		}()
	}
	for range 5 {
		f.rotate(t)
	}
	close(done)
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	tok, err := s.SubjectToken(context.Background(), SubjectRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeX509Token(t, tok); string(got[0]) != string(f.leafDER) {
		t.Error("final token does not hold the last rotated leaf")
	}
}
