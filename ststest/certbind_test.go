package ststest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stsgo/sts/ststest"
)

// clientCert returns a self-signed client certificate and its
// bindCertFingerprint.
func clientCert(t *testing.T, name string) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, base64.RawURLEncoding.EncodeToString(sum[:])
}

// tlsClient returns a client that trusts root and presents cert.
func tlsClient(t *testing.T, root *x509.Certificate, cert tls.Certificate) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(root)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func boundForm(fp string) url.Values {
	form := exchangeForm()
	form.Set("options", `{"bindCertFingerprint":"`+fp+`"}`)
	return form
}

func TestTLSServer(t *testing.T) {
	s := ststest.NewTLSServer(ststest.Options{})
	defer s.Close()
	if !strings.HasPrefix(s.URL, "https://127.0.0.1:") || s.Certificate() == nil {
		t.Fatalf("URL %q, certificate %v", s.URL, s.Certificate())
	}
	if status, tr := postForm(t, s.Client(), s.TokenURL(), exchangeForm()); status != 200 || tr.AccessToken == "" {
		t.Fatalf("exchange over TLS: %d %+v", status, tr)
	}
	plain := ststest.NewServer(ststest.Options{})
	defer plain.Close()
	mem := ststest.NewInMemoryServer(ststest.Options{})
	defer mem.Close()
	if plain.Certificate() != nil || mem.Certificate() != nil {
		t.Error("a server without TLS has a certificate")
	}
}

func TestBindCertFingerprintValidation(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{})
	defer s.Close()
	_, fp := clientCert(t, "a")
	for _, bad := range []string{"", "abc", fp + "=", strings.Repeat("A", 44), "+" + fp[1:], strings.Repeat("_", 43)} {
		if status, tr := postForm(t, s.Client(), s.TokenURL(), boundForm(bad)); status != 400 || tr.Error != "invalid_request" {
			t.Errorf("%q: %d %+v", bad, status, tr)
		}
	}
	form := exchangeForm()
	form.Set("options", `{"bindCertFingerprint":42}`)
	if status, tr := postForm(t, s.Client(), s.TokenURL(), form); status != 400 || tr.Error != "invalid_request" {
		t.Errorf("number: %d %+v", status, tr)
	}
	// Over a connection without a certificate, the binding is recorded.
	status, tr := postForm(t, s.Client(), s.TokenURL(), boundForm(fp))
	if info, _ := s.Lookup(tr.AccessToken); status != 200 || info.CertFingerprint != fp {
		t.Errorf("bound exchange: %d %+v %v", status, tr, info)
	}
}

func TestCertificateBoundTokens(t *testing.T) {
	s := ststest.NewTLSServer(ststest.Options{})
	defer s.Close()
	certA, fpA := clientCert(t, "a")
	certB, _ := clientCert(t, "b")
	withA, withB, without := tlsClient(t, s.Certificate(), certA), tlsClient(t, s.Certificate(), certB), s.Client()

	// The binding must name the connection's certificate.
	if status, tr := postForm(t, withB, s.TokenURL(), boundForm(fpA)); status != 400 || tr.Error != "invalid_request" {
		t.Fatalf("binding another certificate: %d %+v", status, tr)
	}
	status, tr := postForm(t, withA, s.TokenURL(), boundForm(fpA))
	if status != 200 {
		t.Fatalf("bound exchange: %d %+v", status, tr)
	}
	bound := tr.AccessToken
	if info, _ := s.Lookup(bound); info.CertFingerprint != fpA {
		t.Fatalf("recorded %v", info)
	}

	// Introspection: active only over a connection with the certificate.
	introspect := func(c *http.Client) map[string]any {
		resp, err := c.PostForm(s.IntrospectURL(), url.Values{"token": {bound}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return m
	}
	if m := introspect(withA); m["active"] != true || m["cnf"].(map[string]any)["x5t#S256"] != fpA {
		t.Errorf("introspection with the certificate: %v", m)
	}
	for name, c := range map[string]*http.Client{"without": without, "another": withB} {
		if m := introspect(c); m["active"] != false || len(m) != 1 {
			t.Errorf("introspection %s a certificate: %v", name, m)
		}
	}

	// IAM and the allowedLocations lookup.
	iam := func(c *http.Client, method, u, body string) int {
		req, _ := http.NewRequest(method, u, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+bound)
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, ep := range []struct{ method, u, body string }{
		{http.MethodPost, s.ImpersonationURL(testSA), `{"scope":["` + cloudScope + `"]}`},
		{http.MethodPost, strings.Replace(s.ImpersonationURL(testSA), "AccessToken", "IdToken", 1), `{"audience":"a"}`},
		{http.MethodGet, s.AllowedLocationsURL(workloadPool), ""},
	} {
		if st := iam(without, ep.method, ep.u, ep.body); st != 401 {
			t.Errorf("%s without the certificate: %d", ep.u, st)
		}
		if st := iam(withB, ep.method, ep.u, ep.body); st != 401 {
			t.Errorf("%s with another certificate: %d", ep.u, st)
		}
		if st := iam(withA, ep.method, ep.u, ep.body); st != 200 {
			t.Errorf("%s with the certificate: %d", ep.u, st)
		}
	}

	// A token exchanged from a bound token: only with the certificate, and
	// bound in turn.
	down := url.Values{"grant_type": {grantTE}, "subject_token": {bound}, "subject_token_type": {ttAccess},
		"options": {`{"accessBoundary":{"accessBoundaryRules":[{"availableResource":"//storage.googleapis.com/projects/_/buckets/b","availablePermissions":["inRole:roles/storage.objectViewer"]}]}}`}}
	if status, tr := postForm(t, without, s.TokenURL(), down); status != 400 || tr.Error != "invalid_grant" {
		t.Errorf("downscoping without the certificate: %d %+v", status, tr)
	}
	status, tr = postForm(t, withA, s.TokenURL(), down)
	if info, _ := s.Lookup(tr.AccessToken); status != 200 || info.CertFingerprint != fpA {
		t.Errorf("downscoping with the certificate: %d %+v %v", status, tr, info)
	}
	downscoped := tr.AccessToken

	// Allows has no connection: a bound token needs AllowsRequest.
	obj := "//storage.googleapis.com/projects/_/buckets/b/objects/o"
	if _, err := s.Allows(downscoped, "storage.objects.get", obj, ""); !errors.Is(err, ststest.ErrCertificateRequired) {
		t.Errorf("Allows: %v", err)
	}
	type verdict struct {
		ok  bool
		err error
	}
	got := make(chan verdict, 1)
	api := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, err := s.AllowsRequest(r, "storage.objects.get", obj, "")
		got <- verdict{ok, err}
	}))
	api.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	api.StartTLS()
	defer api.Close()
	for _, tc := range []struct {
		name string
		cert *tls.Certificate
		want error
	}{{"with the certificate", &certA, nil}, {"without", nil, ststest.ErrCertificateRequired}, {"another", &certB, ststest.ErrCertificateRequired}} {
		c := api.Client()
		if tc.cert != nil {
			c = tlsClient(t, api.Certificate(), *tc.cert)
		}
		req, _ := http.NewRequest(http.MethodGet, api.URL, nil)
		req.Header.Set("Authorization", "Bearer "+downscoped)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		v := <-got
		if !errors.Is(v.err, tc.want) || (tc.want == nil && !v.ok) {
			t.Errorf("AllowsRequest %s: %v %v", tc.name, v.ok, v.err)
		}
	}
	if _, err := s.AllowsRequest(httptest.NewRequest(http.MethodGet, "/", nil), "storage.objects.get", obj, ""); err == nil {
		t.Error("AllowsRequest without a Bearer token: no error")
	}

	// Unbound tokens work over any connection.
	plain := mustToken(t, s)
	if ok, err := s.Allows(plain, "storage.objects.get", obj, ""); !ok || err != nil {
		t.Errorf("unbound token: %v %v", ok, err)
	}
}
