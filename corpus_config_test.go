package sts

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"github.com/stsgo/sts/internal/fixture"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// The configuration half of the corpus: credential files, access boundary
// JSON, executable responses, AWS metadata answers and certificate
// configurations, each malformed in one way.

// relDel marks a member to delete in relMutate.
type relDel = fixture.Del

// relMutate returns base (a JSON object) with the member at the dotted path
// set to v (or deleted).
func relMutate(t testing.TB, base, path string, v any) []byte {
	return fixture.Mutate(t, base, path, v)
}

const relAud = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/pool/providers/prov"

type relConfigCase struct {
	name string
	data []byte
	want string // what the error must say, usually the field
}

func TestCorpusAccessBoundaries(t *testing.T) {
	rule := func(res, perm, cond string) string {
		r := `{"availableResource":` + res + `,"availablePermissions":` + perm
		if cond != "" {
			r += `,"availabilityCondition":` + cond
		}
		return r + `}`
	}
	ok := rule(`"//storage.googleapis.com/projects/_/buckets/b"`, `["inRole:roles/storage.objectViewer"]`, "")
	wrap := func(rules ...string) string {
		return `{"accessBoundary":{"accessBoundaryRules":[` + strings.Join(rules, ",") + `]}}`
	}
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = ok
	}
	cases := []relConfigCase{
		{"empty", []byte(``), "accessBoundary"},
		{"null", []byte(`null`), "accessBoundary"},
		{"array", []byte(`[]`), "accessBoundary"},
		{"empty object", []byte(`{}`), "missing"},
		{"truncated", []byte(wrap(ok)[:30]), "accessBoundary"},
		{"syntax error", []byte(`{"accessBoundary":{,}}`), "not valid JSON"},
		{"trailing data", []byte(wrap(ok) + `{}`), "unexpected data"},
		{"unknown top-level field", []byte(`{"accessBoundary":{"accessBoundaryRules":[` + ok + `]},"extra":1}`), "extra"},
		{"unknown rule field", []byte(wrap(`{"availableResource":"//x","availablePermissions":["inRole:roles/x"],"foo":1}`)), "foo"},
		{"rules beside wrapper", []byte(`{"accessBoundary":{"accessBoundaryRules":[` + ok + `]},"accessBoundaryRules":[` + ok + `]}`), "accessBoundaryRules"},
		{"no rules", []byte(wrap()), "accessBoundaryRules"},
		{"eleven rules", []byte(wrap(eleven...)), "accessBoundaryRules"},
		{"rules not an array", []byte(`{"accessBoundary":{"accessBoundaryRules":{}}}`), "accessBoundaryRules"},
		{"rule not an object", []byte(wrap(`"rule"`)), "accessBoundaryRules"},
		{"empty resource", []byte(wrap(rule(`""`, `["inRole:roles/x"]`, ""))), "availableResource"},
		{"resource number", []byte(wrap(rule(`5`, `["inRole:roles/x"]`, ""))), "availableResource"},
		{"no permissions", []byte(wrap(rule(`"//x"`, `[]`, ""))), "availablePermissions"},
		{"permissions string", []byte(wrap(rule(`"//x"`, `"inRole:roles/x"`, ""))), "availablePermissions"},
		{"permission without inRole", []byte(wrap(rule(`"//x"`, `["roles/storage.objectViewer"]`, ""))), "availablePermissions[0]"},
		{"empty permission", []byte(wrap(rule(`"//x"`, `["inRole:roles/x",""]`, ""))), "availablePermissions[1]"},
		{"permission with space", []byte(wrap(rule(`"//x"`, `["inRole:roles/a b"]`, ""))), "availablePermissions[0]"},
		{"condition without expression", []byte(wrap(rule(`"//x"`, `["inRole:roles/x"]`, `{"title":"t"}`))), "expression"},
		{"condition not an object", []byte(wrap(rule(`"//x"`, `["inRole:roles/x"]`, `"true"`))), "availabilityCondition"},
		{"condition expression number", []byte(wrap(rule(`"//x"`, `["inRole:roles/x"]`, `{"expression":1}`))), "expression"},
		{"huge file", []byte(wrap(rule(`"//x`+strings.Repeat("x", 3<<20)+`"`, `["inRole:roles/x"]`, ""))), "larger than"},
		{"resource with space", []byte(wrap(rule(`"//storage.googleapis.com/projects/_/buckets/a b"`, `["inRole:roles/x"]`, ""))), "availableResource"},
		{"bucket with object path", []byte(wrap(rule(`"//storage.googleapis.com/projects/_/buckets/b/objects/o"`, `["inRole:roles/x"]`, ""))), "must name one bucket"},
		{"relative resource", []byte(wrap(rule(`"projects/_/buckets/b"`, `["inRole:roles/x"]`, ""))), "full resource name"},
		{"role without name", []byte(wrap(rule(`"//x"`, `["inRole:roles/"]`, ""))), "availablePermissions[0]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := ParseAccessBoundary(c.data)
			if err == nil {
				t.Fatalf("accepted: %+v", b)
			}
			var ve *ValidationError
			if !asValidation(err, &ve) {
				t.Errorf("error %T is not a *ValidationError", err)
			}
			relCheckCorpusError(t, err, c.want)
		})
	}
	t.Logf("access boundary corpus: %d malformed boundaries", len(cases))
}

func asValidation(err error, ve **ValidationError) bool {
	v, ok := err.(*ValidationError)
	*ve = v
	return ok
}

// relExecResponses are malformed executable responses, with what the error
// must say. They carry the subject token, which must not leak.
func relExecResponses() []relConfigCase {
	exp := fmt.Sprint(time.Now().Add(time.Hour).Unix())
	ok := func(fields string) []byte {
		return []byte(`{"version":1,"success":true,"token_type":"urn:ietf:params:oauth:token-type:saml2","saml_response":"` + relSubjectToken + `"` + fields + `}`)
	}
	return []relConfigCase{
		{"empty output", []byte(``), "empty output"},
		{"not json", []byte(relSubjectToken), "not a JSON object"},
		{"json array", []byte(`[` + string(ok(``)) + `]`), "not a JSON object"},
		{"truncated", ok(`,"expiration_time":` + exp)[:50], "malformed JSON"},
		{"trailing garbage", append(ok(`,"expiration_time":`+exp), '}'), "malformed JSON"},
		{"no version", []byte(`{"success":true,"token_type":"urn:ietf:params:oauth:token-type:saml2","saml_response":"` + relSubjectToken + `","expiration_time":` + exp + `}`), "missing version"},
		{"version 2", []byte(`{"version":2,"success":true,"token_type":"urn:ietf:params:oauth:token-type:saml2","saml_response":"` + relSubjectToken + `","expiration_time":` + exp + `}`), "unsupported version"},
		{"version string", []byte(`{"version":"one","success":true}`), "version"},
		{"version fraction", []byte(`{"version":1.5,"success":true}`), "version"},
		{"no success", []byte(`{"version":1,"token_type":"urn:ietf:params:oauth:token-type:saml2","saml_response":"` + relSubjectToken + `","expiration_time":` + exp + `}`), "missing success"},
		{"success string", []byte(`{"version":1,"success":"true"}`), "success"},
		{"no token_type", []byte(`{"version":1,"success":true,"saml_response":"` + relSubjectToken + `","expiration_time":` + exp + `}`), "missing token_type"},
		{"unknown token_type", []byte(`{"version":1,"success":true,"token_type":"urn:x:` + relSubjectToken + `","saml_response":"` + relSubjectToken + `","expiration_time":` + exp + `}`), "unsupported token_type"},
		{"wrong token_type", []byte(`{"version":1,"success":true,"token_type":"urn:ietf:params:oauth:token-type:id_token","id_token":"` + relSubjectToken + `","expiration_time":` + exp + `}`), "does not match"},
		{"token_type number", []byte(`{"version":1,"success":true,"token_type":3}`), "token_type"},
		{"no saml_response", []byte(`{"version":1,"success":true,"token_type":"urn:ietf:params:oauth:token-type:saml2","id_token":"` + relSubjectToken + `","expiration_time":` + exp + `}`), "missing saml_response"},
		{"empty saml_response", []byte(`{"version":1,"success":true,"token_type":"urn:ietf:params:oauth:token-type:saml2","saml_response":"","expiration_time":` + exp + `}`), "missing saml_response"},
		{"saml_response number", []byte(`{"version":1,"success":true,"token_type":"urn:ietf:params:oauth:token-type:saml2","saml_response":7}`), "saml_response"},
		{"expiration string", ok(`,"expiration_time":"tomorrow"`), "expiration_time"},
		{"expiration fraction", ok(`,"expiration_time":1.5`), "expiration_time"},
		{"expiration object", ok(`,"expiration_time":{}`), "expiration_time"},
		{"failure response", []byte(`{"version":1,"success":false,"code":"401","message":"Caller not authorized: ` + relSubjectToken + `"}`), "401"},
		{"failure without code", []byte(`{"version":1,"success":false}`), "executable"},
		{"expired", ok(`,"expiration_time":1`), "expired"},
		{"message number", []byte(`{"version":1,"success":false,"code":"1","message":5}`), "message"},
	}
}

func TestCorpusExecutableResponses(t *testing.T) {
	if _, err := exec.LookPath("cat"); err != nil {
		t.Skip("no cat command to print the responses")
	}
	cases := relExecResponses()
	allow := func(k string) string {
		if k == "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES" {
			return "1"
		}
		return ""
	}
	runs := 0
	for _, c := range cases {
		// As the command's standard output (printed by cat).
		runs++
		t.Run("stdout/"+c.name, func(t *testing.T) {
			dir := t.TempDir()
			resp := filepath.Join(dir, "response.json")
			if err := os.WriteFile(resp, c.data, 0o600); err != nil {
				t.Fatal(err)
			}
			s := ExecutableSubject{Command: []string{"cat", resp}, Getenv: allow}
			tok, err := s.SubjectToken(context.Background(), SubjectRequest{Audience: relAud, SubjectTokenType: TokenTypeSAML2})
			if err == nil {
				t.Fatalf("accepted a token of %d bytes", len(tok))
			}
			relCheckCorpusError(t, err, c.want)
			relCheckErrorSecrets(t, "executable", err, "")
		})
	}
	t.Logf("executable corpus: %d malformed responses, %d runs", len(cases), runs)
}

func TestCorpusExecutableOutputFile(t *testing.T) {
	// A corrupt output file fails before the command runs; "false" would
	// fail differently, so the message shows which path was taken.
	allow := func(k string) string {
		if k == "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES" {
			return "1"
		}
		return ""
	}
	var cases []relConfigCase
	for _, c := range relExecResponses() {
		switch c.name {
		case "empty output", "failure response", "failure without code", "expired", "message number":
			continue // the runner treats these as "run the command"
		}
		cases = append(cases, c)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.json")
			if err := os.WriteFile(out, c.data, 0o600); err != nil {
				t.Fatal(err)
			}
			s := ExecutableSubject{Command: []string{"false"}, OutputFile: out, Getenv: allow}
			_, err := s.SubjectToken(context.Background(), SubjectRequest{Audience: relAud, SubjectTokenType: TokenTypeSAML2})
			relCheckCorpusError(t, err, "corrupt")
			relCheckCorpusError(t, err, c.want)
			relCheckErrorSecrets(t, "output file", err, "")
		})
	}
	t.Logf("executable output file corpus: %d corrupt files", len(cases))
}

func TestCorpusAWSMetadata(t *testing.T) {
	creds := func(s string) map[string]string { return map[string]string{"role": s} }
	goodCreds := `{"Code":"Success","AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"` + relClientSecret + `","Token":"` + relAccessToken + `","Expiration":"2999-01-01T00:00:00Z"}`
	type awsCase struct {
		name   string
		zone   string // body of the availability zone answer
		role   string // body of the role name answer
		cred   map[string]string
		status int // status of the credentials answer (0: 200)
		want   string
	}
	_ = creds
	cases := []awsCase{
		{name: "empty zone", zone: "", role: "r", want: "availability zone"},
		{name: "zone without letter", zone: "us-east-1", role: "r", want: "availability zone"},
		{name: "zone html", zone: "<html>404</html>", role: "r", want: "availability zone"},
		{name: "zone with slash", zone: "evil.com/a", role: "r", want: "availability zone"},
		{name: "zone 10 MB", zone: strings.Repeat("a", 10<<20), role: "r", want: "availability zone"},
		{name: "empty role", zone: "us-east-1a", role: "", want: "role"},
		{name: "role with slash", zone: "us-east-1a", role: "../../etc", want: "role"},
		{name: "credentials not json", zone: "us-east-1a", role: "r", cred: map[string]string{"r": "AccessKeyId=A"}, want: "credentials"},
		{name: "credentials empty", zone: "us-east-1a", role: "r", cred: map[string]string{"r": ""}, want: "credentials"},
		{name: "credentials no secret", zone: "us-east-1a", role: "r", cred: map[string]string{"r": `{"Code":"Success","AccessKeyId":"A"}`}, want: "credentials"},
		{name: "credentials no key id", zone: "us-east-1a", role: "r", cred: map[string]string{"r": `{"Code":"Success","SecretAccessKey":"` + relClientSecret + `"}`}, want: "credentials"},
		{name: "credentials failure code", zone: "us-east-1a", role: "r", cred: map[string]string{"r": `{"Code":"AssumeRoleUnauthorizedAccess","Message":"denied"}`}, want: "credentials"},
		{name: "credentials expired", zone: "us-east-1a", role: "r", cred: map[string]string{"r": strings.Replace(goodCreds, "2999", "1999", 1)}, want: "expire"},
		{name: "credentials bad expiration", zone: "us-east-1a", role: "r", cred: map[string]string{"r": strings.Replace(goodCreds, "2999-01-01T00:00:00Z", "soon", 1)}, want: "expiration"},
		{name: "credentials wrong types", zone: "us-east-1a", role: "r", cred: map[string]string{"r": `{"AccessKeyId":1,"SecretAccessKey":2}`}, want: "credentials"},
		{name: "credentials 404", zone: "us-east-1a", role: "r", cred: map[string]string{"r": goodCreds}, status: 404, want: "404"},
		{name: "credentials 500", zone: "us-east-1a", role: "r", cred: map[string]string{"r": goodCreds}, status: 500, want: "500"},
		{name: "credentials redirect", zone: "us-east-1a", role: "r", cred: map[string]string{"r": goodCreds}, status: 302, want: "302"},
		{name: "zone never answers", zone: "hang", role: "r", want: "deadline exceeded"},
		{name: "zone body never ends", zone: "stall", role: "r", want: "deadline exceeded"},
		{name: "role never answers", zone: "us-east-1a", role: "hang", want: "deadline exceeded"},
		{name: "credentials never answer", zone: "us-east-1a", role: "r", cred: map[string]string{"r": "hang"}, want: "deadline exceeded"},
	}
	// hangs reports whether the answer to path is configured as "hang".
	hangs := func(path, zone, role string, cred map[string]string) bool {
		switch {
		case path == "/latest/meta-data/placement/availability-zone":
			return zone == "hang"
		case strings.TrimSuffix(path, "/") == "/latest/meta-data/iam/security-credentials":
			return role == "hang"
		}
		name := strings.TrimPrefix(path, "/latest/meta-data/iam/security-credentials/")
		return cred[name] == "hang"
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				client := &http.Client{Transport: relRoundTrip(func(r *http.Request) (*http.Response, error) {
					if hangs(r.URL.Path, c.zone, c.role, c.cred) {
						<-r.Context().Done()
						return nil, r.Context().Err()
					}
					switch p := r.URL.Path; {
					case p == "/latest/meta-data/placement/availability-zone" && c.zone == "stall":
						return relResponse(r, 200, "text/plain", &relStall{prefix: []byte("us-ea"), ctx: r.Context()}), nil
					case p == "/latest/meta-data/placement/availability-zone":
						return relResponse(r, 200, "text/plain", strings.NewReader(c.zone)), nil
					case p == "/latest/meta-data/iam/security-credentials" || p == "/latest/meta-data/iam/security-credentials/":
						return relResponse(r, 200, "text/plain", strings.NewReader(c.role)), nil
					case strings.HasPrefix(p, "/latest/meta-data/iam/security-credentials/"):
						name := strings.TrimPrefix(p, "/latest/meta-data/iam/security-credentials/")
						body, ok := c.cred[name]
						if !ok {
							return relResponse(r, 404, "text/plain", strings.NewReader("not found")), nil
						}
						st := c.status
						if st == 0 {
							st = 200
						}
						return relResponse(r, st, "text/plain", strings.NewReader(body), "Location", "http://evil.example/"), nil
					}
					return relResponse(r, 404, "text/plain", strings.NewReader("not found")), nil
				})}
				s := &AWSSubject{
					RegionURL:      "http://169.254.169.254/latest/meta-data/placement/availability-zone",
					CredentialsURL: "http://169.254.169.254/latest/meta-data/iam/security-credentials",
					HTTPClient:     client,
					Getenv:         func(string) string { return "" },
				}
				start := time.Now()
				tok, err := s.SubjectToken(context.Background(), SubjectRequest{Audience: relAud, SubjectTokenType: TokenTypeAWS4Request})
				if err == nil {
					t.Fatalf("accepted: token of %d bytes", len(tok))
				}
				if d := time.Since(start); d > 10*time.Second {
					t.Errorf("took %v, past the 10 s metadata deadline", d)
				}
				relCheckCorpusError(t, err, c.want)
				relCheckErrorSecrets(t, "aws", err, "")
			})
		})
	}
	t.Logf("AWS metadata corpus: %d malformed answers", len(cases))
}

// relCertFiles writes a valid certificate and key, and returns their paths
// and the key's PEM.
func relCertFiles(t *testing.T, dir string) (certPath, keyPath string, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "workload"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath, keyPEM
}

func TestCorpusCertificateConfig(t *testing.T) {
	type certCase struct {
		name   string
		config func(cert, key, dir string) string
		want   string
	}
	cfg := func(cert, key string) string {
		return `{"cert_configs":{"workload":{"cert_path":` + relJSONQuote(cert) + `,"key_path":` + relJSONQuote(key) + `}}}`
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
			return `{"cert_configs":{"workload":{"key_path":` + relJSONQuote(k) + `}}}`
		}, "cert_path"},
		{"no key_path", func(c, k, d string) string {
			return `{"cert_configs":{"workload":{"cert_path":` + relJSONQuote(c) + `}}}`
		}, "key_path"},
		{"cert_path number", func(c, k, d string) string { return `{"cert_configs":{"workload":{"cert_path":1,"key_path":"k"}}}` }, "expected shape"},
		{"missing cert file", func(c, k, d string) string { return cfg(filepath.Join(d, "nope.pem"), k) }, "no such file"},
		{"missing key file", func(c, k, d string) string { return cfg(c, filepath.Join(d, "nope.pem")) }, "private key"},
		{"cert is a directory", func(c, k, d string) string { return cfg(d, k) }, "not a regular file"},
		{"cert and key swapped", func(c, k, d string) string { return cfg(k, c) }, "no PEM CERTIFICATE block"},
		{"key for another cert", func(c, k, d string) string {
			c2, _, _ := relCertFiles(t, t.TempDir())
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
			cert, key, keyPEM := relCertFiles(t, dir)
			conf := filepath.Join(dir, "certificate_config.json")
			if err := os.WriteFile(conf, []byte(c.config(cert, key, dir)), 0o600); err != nil {
				t.Fatal(err)
			}
			s := &X509Subject{CertificateConfigFile: conf}
			tok, err := s.SubjectToken(context.Background(), SubjectRequest{Audience: relAud, SubjectTokenType: TokenTypeMTLS})
			if err == nil {
				t.Fatalf("accepted: token of %d bytes", len(tok))
			}
			relCheckCorpusError(t, err, c.want)
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

// relJSONQuote returns s as a JSON string, quotes included.
func relJSONQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
