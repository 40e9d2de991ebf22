package x509cert

import (
	"net/http"
	"runtime"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"crypto/tls"
	"errors"
	"github.com/stsgo/sts/internal/fixture"
	"path/filepath"
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

var testFields = Fields{ConfigFile: "S.ConfigFile", UseDefault: "S.UseDefault", TrustChain: "S.TrustChain"}

// TestConfigPath: exactly one of the two settings, the default from the
// environment or the home directory.
func TestConfigPath(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		c     Config
		path  string
		field string
	}{
		{Config{ConfigFile: "/c.json"}, "/c.json", ""},
		{Config{ConfigFile: "/c.json", UseDefault: true}, "", "S.UseDefault"},
		{Config{}, "", "S.ConfigFile"},
		{Config{UseDefault: true, Getenv: env(map[string]string{ConfigEnv: "/env.json", "HOME": "/home/u"})}, "/env.json", ""},
		{Config{UseDefault: true, Getenv: env(map[string]string{"HOME": "/home/u", "APPDATA": `C:\AppData`})}, defaultPath(), ""},
		{Config{UseDefault: true, Getenv: env(nil)}, "", "S.UseDefault"},
	} {
		path, err := tc.c.ConfigPath(testFields)
		switch {
		case tc.field == "" && (err != nil || path != tc.path):
			t.Errorf("%+v: %q, %v; want %q", tc.c, path, err, tc.path)
		case tc.field != "" && (err == nil || err.Field != tc.field):
			t.Errorf("%+v: %v, want an error for %s", tc.c, err, tc.field)
		}
	}
	t.Setenv(ConfigEnv, "/process.json")
	if p, err := (&Config{UseDefault: true}).ConfigPath(testFields); err != nil || p != "/process.json" {
		t.Errorf("process environment: %q, %v", p, err)
	}
}

func defaultPath() string {
	if runtime.GOOS == "windows" {
		return filepath.Join(`C:\AppData`, "gcloud", "certificate_config.json")
	}
	return filepath.Join("/home/u", ".config", "gcloud", "certificate_config.json")
}

// TestCheckNamesTheField: a problem with the files is reported under the
// field that leads to them.
func TestCheckNamesTheField(t *testing.T) {
	f := fixture.NewX509(t)
	if err := Check(Config{ConfigFile: f.Config, TrustChainFile: f.Chain}, testFields, new(Shared)); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(f.Dir, "bad.pem")
	fixture.WriteFile(t, bad, []byte("not PEM"))
	for _, tc := range []struct {
		c     Config
		field string
		says  string
	}{
		{Config{ConfigFile: filepath.Join(f.Dir, "none.json")}, "S.ConfigFile", "certificate configuration"},
		{Config{ConfigFile: f.Config, TrustChainFile: bad}, "S.TrustChain", "no PEM certificate"},
		{Config{ConfigFile: f.Config, TrustChainFile: filepath.Join(f.Dir, "none.pem")}, "S.TrustChain", "trust chain"},
		{Config{UseDefault: true, Getenv: func(k string) string {
			if k == ConfigEnv {
				return bad
			}
			return ""
		}}, "S.UseDefault", "not valid JSON"},
		{Config{}, "S.ConfigFile", "must be set"},
	} {
		err := Check(tc.c, testFields, new(Shared))
		if err == nil || err.Field != tc.field || !strings.Contains(err.Reason, tc.says) {
			t.Errorf("%+v: %v, want %s: …%s…", tc.c, err, tc.field, tc.says)
		}
	}
	// The key never shows.
	fixture.WriteFile(t, f.Cert, fixture.PEM("CERTIFICATE", f.Root.DER))
	fixture.Bump(t, f.Cert)
	err := Check(Config{ConfigFile: f.Config}, testFields, new(Shared))
	if err == nil || strings.Contains(err.Error(), string(f.KeyPEM[30:60])) {
		t.Errorf("mismatched pair: %v", err)
	}
}

// TestStateFollowsRotation: the subject token and the client certificate
// follow the files; a State shared by copies is one.
func TestStateFollowsRotation(t *testing.T) {
	f := fixture.NewX509(t)
	var sh Shared
	st := sh.Get(f.Config, f.Chain)
	if sh.Get(f.Config, f.Chain) != st || sh.Get(f.Config, "") == st {
		t.Error("Get does not keep one State per set of files")
	}
	st = sh.Get(f.Config, f.Chain)
	tok, xerr := st.SubjectToken()
	if xerr != nil {
		t.Fatal(xerr)
	}
	if got := fixture.DecodeX509Token(t, tok); !fixture.SameDERs(got, f.LeafDER, f.Inter.DER, f.Root.DER) {
		t.Error("token is not leaf, intermediate, root")
	}
	first, err := st.ClientCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	der := f.Rotate(t)
	tok, xerr = st.SubjectToken()
	if xerr != nil || !fixture.SameDERs(fixture.DecodeX509Token(t, tok)[:1], der) {
		t.Fatalf("after rotation: %v", xerr)
	}
	if c, _ := st.ClientCertificate(nil); c == first {
		t.Error("client certificate not rotated")
	}
	// A config rewritten to name missing files keeps the last good pair
	// for the handshake, and reports the error for the token.
	fixture.WriteFile(t, f.Config, []byte(`{"cert_configs":{"workload":{"cert_path":"nope.pem","key_path":"nope.key"}}}`))
	fixture.Bump(t, f.Config)
	if c, err := st.ClientCertificate(nil); c == nil || err != nil {
		t.Errorf("handshake after a bad rewrite: %v, %v", c, err)
	}
	if _, xerr := st.SubjectToken(); xerr == nil || xerr.Part != PartCert || errors.Unwrap(xerr) == nil {
		t.Errorf("token after a bad rewrite: %v", xerr)
	}
}

// TestSubjectTokenOfChains: the leaf first, repeated only at the head of
// the chain.
func TestSubjectTokenOfChains(t *testing.T) {
	ca := fixture.NewCA(t, "root", nil)
	leaf, _, _ := ca.Leaf(t, "leaf")
	for _, tc := range []struct {
		chain []byte
		want  [][]byte
		fails string
	}{
		{nil, [][]byte{leaf}, ""},
		{fixture.PEM("CERTIFICATE", ca.DER), [][]byte{leaf, ca.DER}, ""},
		{append(fixture.PEM("CERTIFICATE", leaf), fixture.PEM("CERTIFICATE", ca.DER)...), [][]byte{leaf, ca.DER}, ""},
		{append(fixture.PEM("CERTIFICATE", ca.DER), fixture.PEM("CERTIFICATE", leaf)...), nil, "certificate 2 of the chain"},
		{fixture.PEM("PRIVATE KEY", []byte("x")), nil, "not a CERTIFICATE"},
		{fixture.PEM("CERTIFICATE", []byte("x")), nil, "does not parse"},
		{append(fixture.PEM("CERTIFICATE", ca.DER), "tail"...), nil, "after the last PEM"},
	} {
		tok, err := SubjectTokenOf(leaf, tc.chain)
		if tc.fails != "" {
			if err == nil || !strings.Contains(err.Error(), tc.fails) {
				t.Errorf("chain %q: %v, want …%s…", tc.chain, err, tc.fails)
			}
			continue
		}
		if err != nil || !fixture.SameDERs(fixture.DecodeX509Token(t, tok), tc.want...) {
			t.Errorf("chain %q: %v", tc.chain, err)
		}
	}
}

// TestClientAndKeyPairFiles: the exchange client keeps its base's settings
// and closes idle connections on rotation; each broken key-pair file is
// named, the key never quoted.
func TestClientAndKeyPairFiles(t *testing.T) {
	f := fixture.NewX509(t)
	var sh Shared
	st := sh.Get(f.Config, "")
	base := &http.Client{Transport: &http.Transport{MaxIdleConns: 3, TLSClientConfig: &tls.Config{ServerName: "sts.example", MinVersion: tls.VersionTLS13}}}
	c, cerr := Client(st, base, "client")
	if cerr != nil {
		t.Fatal(cerr)
	}
	tr := c.Transport.(*http.Transport)
	if tr.MaxIdleConns != 3 || tr.TLSClientConfig.ServerName != "sts.example" || tr.TLSClientConfig.GetClientCertificate == nil {
		t.Error("base settings lost or no client certificate")
	}
	if c2, cerr := Client(st, &http.Client{}, "client"); cerr != nil || c2.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate == nil {
		t.Errorf("default transport: %v", cerr)
	}
	if _, err := st.ClientCertificate(nil); err != nil {
		t.Fatal(err)
	}
	f.Rotate(t) // closes the tracked transports' idle connections
	if _, err := st.ClientCertificate(nil); err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(c)

	cfg := func(cert, key string) string {
		p := filepath.Join(t.TempDir(), "config.json")
		fixture.WriteFile(t, p, []byte(`{"cert_configs":{"workload":{"cert_path":`+fixture.JSONQuote(cert)+`,"key_path":`+fixture.JSONQuote(key)+`}}}`))
		return p
	}
	notPEM := filepath.Join(f.Dir, "not.pem")
	fixture.WriteFile(t, notPEM, []byte("text"))
	for _, tc := range []struct {
		config string
		part   string
		says   string
	}{
		{cfg(filepath.Join(f.Dir, "none.pem"), f.Key), PartCert, "certificate"},
		{cfg(f.Cert, filepath.Join(f.Dir, "none.pem")), PartKey, "private key"},
		{cfg(notPEM, f.Key), PartCert, "no PEM CERTIFICATE block"},
		{cfg(f.Cert, notPEM), PartKey, "no PEM PRIVATE KEY block"},
		{cfg(f.Cert, f.Cert), PartKey, "no PEM PRIVATE KEY block"},
	} {
		_, xerr := new(Shared).Get(tc.config, "").SubjectToken()
		if xerr == nil || xerr.Part != tc.part || !strings.Contains(xerr.Msg, tc.says) || strings.Contains(xerr.Error(), string(f.KeyPEM[40:70])) {
			t.Errorf("%s: %v, want %s …%s…", tc.config, xerr, tc.part, tc.says)
		}
	}
}
