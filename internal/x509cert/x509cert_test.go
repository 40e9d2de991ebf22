package x509cert

import (
	"net/http"
	"runtime"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/stsgo/sts/internal/fixture"
)

// TestMain fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestDropsUnusedTransports checks that a State does not keep the
// transport of every exchange client ever built from it: clients that are
// dropped are collected.
func TestDropsUnusedTransports(t *testing.T) {
	f := fixture.NewX509(t)
	var sh Shared
	st := sh.Get(f.Config, "")
	for range 100 {
		if _, err := Client(st, nil, "client"); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.GC()
	keep, err := Client(st, nil, "client") // prunes the collected ones
	if err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	n := len(st.transports)
	st.mu.Unlock()
	if n > 10 {
		t.Errorf("%d transports tracked after 100 dropped clients, want about 1", n)
	}
	runtime.KeepAlive(keep)
	// A transport that cannot present a certificate is refused, naming
	// the caller's field.
	_, cerr := Client(st, &http.Client{Transport: http.NewFileTransport(http.Dir("."))}, "Options.HTTPClient")
	if cerr == nil || cerr.Field != "Options.HTTPClient" {
		t.Errorf("foreign transport: %v", cerr)
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
		c, k, err := ParseCertificateConfig(data)
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
	ca := fixture.NewCA(f, "fuzz-root", nil)
	leaf, _, _ := ca.Leaf(f, "fuzz-leaf")
	f.Add([]byte{})
	f.Add(fixture.PEM("CERTIFICATE", ca.DER))
	f.Add(append(fixture.PEM("CERTIFICATE", leaf), fixture.PEM("CERTIFICATE", ca.DER)...))
	f.Add(append(fixture.PEM("CERTIFICATE", ca.DER), fixture.PEM("CERTIFICATE", leaf)...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, chain []byte) {
		tok, err := SubjectTokenOf(leaf, chain)
		if err != nil {
			return
		}
		got := fixture.DecodeX509Token(t, tok)
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
