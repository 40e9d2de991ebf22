package x509subject

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/internal/public"
)

func TestCorpusCertificateConfig(t *testing.T) {
	type certCase struct {
		name   string
		config func(cert, key, dir string) string
		want   string
	}
	cfg := func(cert, key string) string {
		return `{"cert_configs":{"workload":{"cert_path":` + fixture.JSONQuote(cert) + `,"key_path":` + fixture.JSONQuote(key) + `}}}`
	}
	cases := []certCase{
		{"empty", func(c, k, d string) string { return `` }, "not valid JSON"},
		{"not json", func(c, k, d string) string { return `cert_path=` + c }, "not valid JSON"},
		{"array", func(c, k, d string) string { return `[]` }, "expected shape"},
		{"truncated", func(c, k, d string) string { return cfg(c, k)[:20] }, "certificate"},
		{"no cert_configs", func(c, k, d string) string { return `{}` }, "no cert_configs"},
		{"no workload", func(c, k, d string) string { return `{"cert_configs":{}}` }, "no cert_configs.workload"},
		{"workload null", func(c, k, d string) string { return `{"cert_configs":{"workload":null}}` }, "no cert_configs.workload"},
		{"no cert_path", func(c, k, d string) string {
			return `{"cert_configs":{"workload":{"key_path":` + fixture.JSONQuote(k) + `}}}`
		}, "cert_path"},
		{"no key_path", func(c, k, d string) string {
			return `{"cert_configs":{"workload":{"cert_path":` + fixture.JSONQuote(c) + `}}}`
		}, "key_path"},
		{"cert_path number", func(c, k, d string) string { return `{"cert_configs":{"workload":{"cert_path":1,"key_path":"k"}}}` }, "expected shape"},
		{"missing cert file", func(c, k, d string) string { return cfg(filepath.Join(d, "nope.pem"), k) }, "no such file"},
		{"missing key file", func(c, k, d string) string { return cfg(c, filepath.Join(d, "nope.pem")) }, "private key"},
		{"cert is a directory", func(c, k, d string) string { return cfg(d, k) }, "not a regular file"},
		{"cert and key swapped", func(c, k, d string) string { return cfg(k, c) }, "no PEM CERTIFICATE block"},
		{"key for another cert", func(c, k, d string) string {
			c2, _, _ := fixture.CertFiles(t, t.TempDir())
			return cfg(c2, k)
		}, "does not match"},
		{"cert not pem", func(c, k, d string) string {
			p := filepath.Join(d, "bad.pem")
			os.WriteFile(p, []byte("not a certificate"), 0o600)
			return cfg(p, k)
		}, "no PEM CERTIFICATE block"},
		{"key not pem", func(c, k, d string) string {
			p := filepath.Join(d, "badkey.pem")
			os.WriteFile(p, []byte("not a key"), 0o600)
			return cfg(c, p)
		}, "no PEM PRIVATE KEY block"},
		{"cert file too large", func(c, k, d string) string {
			p := filepath.Join(d, "huge.pem")
			os.WriteFile(p, make([]byte, 10<<20), 0o600)
			return cfg(p, k)
		}, "larger than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cert, key, keyPEM := fixture.CertFiles(t, dir)
			conf := filepath.Join(dir, "certificate_config.json")
			if err := os.WriteFile(conf, []byte(c.config(cert, key, dir)), 0o600); err != nil {
				t.Fatal(err)
			}
			s := &Subject{CertificateConfigFile: conf}
			tok, err := s.SubjectToken(context.Background(), sts.SubjectRequest{Audience: corpusAud, SubjectTokenType: sts.TokenTypeMTLS})
			if err == nil {
				t.Fatalf("accepted: token of %d bytes", len(tok))
			}
			fixture.CheckCorpusError(t, err, c.want, isPublic)
			body := strings.Join(strings.Split(string(keyPEM), "\n")[1:3], "")
			for _, txt := range []string{err.Error(), fmt.Sprintf("%+v", err), s.String(), fmt.Sprintf("%#v", s)} {
				if strings.Contains(txt, body[:32]) {
					t.Errorf("private key material shows: %q", txt)
				}
			}
		})
	}
	t.Logf("certificate configuration corpus: %d malformed configurations", len(cases))
}

const corpusAud = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/pool/providers/prov"

// isPublic reports whether err is, or wraps, an *sts.Error or an
// *sts.ValidationError.
var isPublic = public.Is
