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
	"io"
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
type relDel struct{}

// relMutate returns base (a JSON object) with the member at the dotted path
// set to v (or deleted).
func relMutate(t testing.TB, base, path string, v any) []byte {
	if t != nil {
		t.Helper()
	}
	fatal := func(err error) {
		if t == nil {
			panic(err)
		}
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(base), &m); err != nil {
		fatal(err)
	}
	parts := strings.Split(path, ".")
	cur := m
	for _, p := range parts[:len(parts)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	last := parts[len(parts)-1]
	if _, ok := v.(relDel); ok {
		delete(cur, last)
	} else {
		cur[last] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		fatal(err)
	}
	return b
}

const (
	relAud       = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/pool/providers/prov"
	relWfAud     = "//iam.googleapis.com/locations/global/workforcePools/pool/providers/prov"
	relBaseFile  = `{"type":"external_account","audience":"` + relAud + `","subject_token_type":"urn:ietf:params:oauth:token-type:jwt","token_url":"https://sts.googleapis.com/v1/token","client_id":"` + relClientID + `","client_secret":"` + relClientSecret + `","credential_source":{"file":"/var/run/token","format":{"type":"text"}}}`
	relBaseURL   = `{"type":"external_account","audience":"` + relAud + `","subject_token_type":"urn:ietf:params:oauth:token-type:id_token","credential_source":{"url":"http://169.254.169.254/token","headers":{"Authorization":"Bearer ` + relAccessToken + `"},"format":{"type":"json","subject_token_field_name":"id_token"}}}`
	relBaseExec  = `{"type":"external_account","audience":"` + relAud + `","subject_token_type":"urn:ietf:params:oauth:token-type:saml2","credential_source":{"executable":{"command":"/opt/idp/fetch --aud gcp","timeout_millis":10000,"output_file":"/tmp/out.json"}}}`
	relBaseAWS   = `{"type":"external_account","audience":"` + relAud + `","subject_token_type":"urn:ietf:params:aws:token-type:aws4_request","credential_source":{"environment_id":"aws1","region_url":"http://169.254.169.254/latest/meta-data/placement/availability-zone","url":"http://169.254.169.254/latest/meta-data/iam/security-credentials","regional_cred_verification_url":"https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"}}`
	relBaseCert  = `{"type":"external_account","audience":"` + relAud + `","subject_token_type":"urn:ietf:params:oauth:token-type:mtls","credential_source":{"certificate":{"certificate_config_location":"/nonexistent/certificate_config.json"}}}`
	relBaseUser  = `{"type":"external_account_authorized_user","audience":"` + relWfAud + `","refresh_token":"` + relRefreshToken + `","client_id":"` + relClientID + `","client_secret":"` + relClientSecret + `","token_url":"https://sts.googleapis.com/v1/oauthtoken"}`
	relBaseImpUR = "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken"
)

type relConfigCase struct {
	name string
	data []byte
	want string // what the error must say, usually the field
}

func relCredentialCorpus(t *testing.T) []relConfigCase {
	mut := func(name, base, path string, v any, want string) relConfigCase {
		return relConfigCase{name, relMutate(t, base, path, v), want}
	}
	raw := func(name, s, want string) relConfigCase { return relConfigCase{name, []byte(s), want} }
	return []relConfigCase{
		raw("empty", ``, "credentials JSON"),
		raw("blank", "  \n", "credentials JSON"),
		raw("array", `[]`, "must be a JSON object"),
		raw("null", `null`, "must be a JSON object"),
		raw("string", `"external_account"`, "must be a JSON object"),
		raw("truncated", relBaseFile[:len(relBaseFile)/2], "truncated"),
		raw("syntax error", `{"type":"external_account",}`, "syntax error at line 1"),
		raw("trailing data", relBaseFile+`{}`, "unexpected data after the object"),
		raw("trailing garbage", relBaseFile+` x`, "credentials JSON"),
		raw("byte order mark then array", "\ufeff[]", "must be a JSON object"),
		raw("html", `<html><body>login</body></html>`, "must be a JSON object"),
		mut("no type", relBaseFile, "type", relDel{}, "type"),
		mut("service account type", relBaseFile, "type", "service_account", "unsupported credential type"),
		mut("numeric type", relBaseFile, "type", 1, "type"),
		mut("no audience", relBaseFile, "audience", relDel{}, "audience"),
		mut("audience without slashes", relBaseFile, "audience", "iam.googleapis.com/projects/1", "audience"),
		mut("audience with space", relBaseFile, "audience", relAud+" x", "audience"),
		mut("audience number", relBaseFile, "audience", 5, "audience"),
		mut("no subject_token_type", relBaseFile, "subject_token_type", relDel{}, "subject_token_type"),
		mut("unknown subject_token_type", relBaseFile, "subject_token_type", "urn:example:jwt", "subject_token_type"),
		mut("token_url plain http", relBaseFile, "token_url", "http://sts.example.com/v1/token", "token_url"),
		mut("token_url ftp", relBaseFile, "token_url", "ftp://sts.googleapis.com/v1/token", "token_url"),
		mut("token_url no host", relBaseFile, "token_url", "https:///v1/token", "token_url"),
		mut("token_url user info", relBaseFile, "token_url", "https://u:"+relClientSecret+"@sts.googleapis.com/v1/token", "token_url"),
		mut("token_url not a URL", relBaseFile, "token_url", "://%zz", "token_url"),
		mut("token_info_url plain http", relBaseFile, "token_info_url", "http://sts.example.com/v1/introspect", "token_info_url"),
		mut("impersonation url plain http", relBaseFile, "service_account_impersonation_url", "http://iam.example.com/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken", "service_account_impersonation_url"),
		mut("impersonation url wrong path", relBaseFile, "service_account_impersonation_url", "https://iamcredentials.googleapis.com/v1/whatever", "service_account_impersonation_url"),
		mut("lifetime without impersonation", relBaseFile, "service_account_impersonation.token_lifetime_seconds", 3600, "service_account_impersonation"),
		mut("lifetime string", relMutateS(t, relBaseFile, "service_account_impersonation_url", relBaseImpUR), "service_account_impersonation.token_lifetime_seconds", "an hour", "token_lifetime_seconds"),
		mut("lifetime too long", relMutateS(t, relBaseFile, "service_account_impersonation_url", relBaseImpUR), "service_account_impersonation.token_lifetime_seconds", 43201, "token_lifetime_seconds"),
		mut("lifetime too short", relMutateS(t, relBaseFile, "service_account_impersonation_url", relBaseImpUR), "service_account_impersonation.token_lifetime_seconds", 1, "token_lifetime_seconds"),
		mut("lifetime exponent", relMutateS(t, relBaseFile, "service_account_impersonation_url", relBaseImpUR), "service_account_impersonation.token_lifetime_seconds", json.Number("3.6e3"), "token_lifetime_seconds: must be an integer"),
		mut("lifetime zero fraction", relMutateS(t, relBaseFile, "service_account_impersonation_url", relBaseImpUR), "service_account_impersonation.token_lifetime_seconds", json.Number("3600.0"), "token_lifetime_seconds: must be an integer"),
		mut("lifetime hex", relMutateS(t, relBaseFile, "service_account_impersonation_url", relBaseImpUR), "service_account_impersonation.token_lifetime_seconds", "0xe10", "token_lifetime_seconds: must be an integer"),
		mut("lifetime hex float", relMutateS(t, relBaseFile, "service_account_impersonation_url", relBaseImpUR), "service_account_impersonation.token_lifetime_seconds", "0x1.c2p11", "token_lifetime_seconds: must be an integer"),
		mut("lifetime underscores", relMutateS(t, relBaseFile, "service_account_impersonation_url", relBaseImpUR), "service_account_impersonation.token_lifetime_seconds", "3_600", "token_lifetime_seconds: must be an integer"),
		mut("lifetime plus", relMutateS(t, relBaseFile, "service_account_impersonation_url", relBaseImpUR), "service_account_impersonation.token_lifetime_seconds", "+3600", "token_lifetime_seconds: must be an integer"),
		mut("lifetime leading zero", relMutateS(t, relBaseFile, "service_account_impersonation_url", relBaseImpUR), "service_account_impersonation.token_lifetime_seconds", "03600", "token_lifetime_seconds: must be an integer"),
		mut("lifetime padded", relMutateS(t, relBaseFile, "service_account_impersonation_url", relBaseImpUR), "service_account_impersonation.token_lifetime_seconds", " 3600", "token_lifetime_seconds: must be an integer"),
		mut("client_secret without client_id", relBaseFile, "client_id", relDel{}, "client_id"),
		mut("client_id without client_secret", relBaseFile, "client_secret", relDel{}, "client_secret"),
		mut("client_id with newline", relBaseFile, "client_id", "a\nb", "client_id"),
		mut("client_secret number", relBaseFile, "client_secret", 7, "client_secret"),
		mut("user project on workload pool", relBaseFile, "workforce_pool_user_project", "proj", "workforce_pool_user_project"),
		mut("refresh_token in external_account", relBaseFile, "refresh_token", relRefreshToken, "refresh_token"),
		mut("revoke_url in external_account", relBaseFile, "revoke_url", "https://sts.googleapis.com/v1/revoke", "revoke_url"),
		mut("no credential_source", relBaseFile, "credential_source", relDel{}, "credential_source"),
		mut("empty credential_source", relBaseFile, "credential_source", map[string]any{}, "credential_source"),
		mut("credential_source string", relBaseFile, "credential_source", "/var/run/token", "credential_source"),
		mut("two sources", relBaseFile, "credential_source.url", "https://example.com/token", "credential_source"),
		mut("empty file", relBaseFile, "credential_source.file", "", "credential_source"),
		mut("file number", relBaseFile, "credential_source.file", 3, "credential_source.file"),
		mut("format type xml", relBaseFile, "credential_source.format.type", "xml", "credential_source.format.type"),
		mut("json format without field", relBaseFile, "credential_source.format.type", "json", "credential_source.format.subject_token_field_name"),
		mut("format not an object", relBaseFile, "credential_source.format", "text", "credential_source.format"),
		mut("headers on a file source", relBaseFile, "credential_source.headers", map[string]any{"a": "b"}, "credential_source.headers"),
		mut("url not http", relBaseURL, "credential_source.url", "file:///etc/passwd", "credential_source.url"),
		mut("url no host", relBaseURL, "credential_source.url", "http://", "credential_source.url"),
		mut("url with user info", relBaseURL, "credential_source.url", "http://user:"+relClientSecret+"@169.254.169.254/token", "credential_source.url"),
		mut("bad header name", relBaseURL, "credential_source.headers", map[string]any{"Bad Header": "x", "Authorization": "Bearer " + relAccessToken}, "credential_source.headers"),
		mut("header value with newline", relBaseURL, "credential_source.headers", map[string]any{"X-A": "a\r\nInjected: " + relAccessToken}, "credential_source.headers"),
		mut("header value number", relBaseURL, "credential_source.headers", map[string]any{"X-A": 1}, "credential_source.headers"),
		mut("empty command", relBaseExec, "credential_source.executable.command", "", "credential_source.executable.command"),
		mut("unbalanced quote", relBaseExec, "credential_source.executable.command", `/opt/idp/fetch "--aud`, "credential_source.executable.command"),
		mut("trailing backslash", relBaseExec, "credential_source.executable.command", `/opt/idp/fetch \`, "credential_source.executable.command"),
		mut("timeout too short", relBaseExec, "credential_source.executable.timeout_millis", 1000, "credential_source.executable.timeout_millis"),
		mut("timeout too long", relBaseExec, "credential_source.executable.timeout_millis", 600000, "credential_source.executable.timeout_millis"),
		mut("timeout string", relBaseExec, "credential_source.executable.timeout_millis", "10s", "credential_source.executable.timeout_millis"),
		mut("timeout fraction", relBaseExec, "credential_source.executable.timeout_millis", 10000.5, "credential_source.executable.timeout_millis"),
		mut("timeout exponent", relBaseExec, "credential_source.executable.timeout_millis", json.Number("1e4"), "timeout_millis: must be an integer"),
		mut("timeout zero fraction", relBaseExec, "credential_source.executable.timeout_millis", json.Number("10000.0"), "timeout_millis: must be an integer"),
		mut("timeout hex", relBaseExec, "credential_source.executable.timeout_millis", "0x2710", "timeout_millis: must be an integer"),
		mut("timeout underscores", relBaseExec, "credential_source.executable.timeout_millis", "10_000", "timeout_millis: must be an integer"),
		mut("timeout plus", relBaseExec, "credential_source.executable.timeout_millis", "+10000", "timeout_millis: must be an integer"),
		mut("timeout leading zero", relBaseExec, "credential_source.executable.timeout_millis", "010000", "timeout_millis: must be an integer"),
		mut("executable with access token type", relBaseExec, "subject_token_type", TokenTypeAccessToken, "subject_token_type"),
		mut("executable not an object", relBaseExec, "credential_source.executable", "/opt/idp/fetch", "credential_source.executable"),
		mut("aws environment v2", relBaseAWS, "credential_source.environment_id", "aws2", "credential_source.environment_id"),
		mut("azure environment", relBaseAWS, "credential_source.environment_id", "azure1", "credential_source.environment_id"),
		mut("aws with jwt type", relBaseAWS, "subject_token_type", TokenTypeJWT, "subject_token_type"),
		mut("aws verification plain http", relBaseAWS, "credential_source.regional_cred_verification_url", "http://sts.{region}.amazonaws.com?Action=GetCallerIdentity", "regional_cred_verification_url"),
		mut("aws region url ftp", relBaseAWS, "credential_source.region_url", "ftp://169.254.169.254/zone", "credential_source.region_url"),
		mut("aws url not a URL", relBaseAWS, "credential_source.url", "::", "credential_source.url"),
		mut("aws imdsv2 no host", relBaseAWS, "credential_source.imdsv2_session_token_url", "http://", "credential_source.imdsv2_session_token_url"),
		mut("jwt type with aws source", relBaseFile, "subject_token_type", TokenTypeAWS4Request, "subject_token_type"),
		mut("mtls type with file source", relBaseFile, "subject_token_type", TokenTypeMTLS, "subject_token_type"),
		mut("certificate both locations", relBaseCert, "credential_source.certificate.use_default_certificate_config", true, "credential_source.certificate"),
		mut("certificate neither location", relBaseCert, "credential_source.certificate.certificate_config_location", relDel{}, "credential_source.certificate"),
		mut("certificate empty location", relBaseCert, "credential_source.certificate.certificate_config_location", "", "credential_source.certificate"),
		mut("certificate with jwt type", relBaseCert, "subject_token_type", TokenTypeJWT, "subject_token_type"),
		mut("certificate default flag string", relBaseCert, "credential_source.certificate.use_default_certificate_config", "yes", "use_default_certificate_config"),
		mut("universe empty", relBaseFile, "universe_domain", "", "universe_domain"),
		mut("universe with slash", relBaseFile, "universe_domain", "evil.com/x", "universe_domain"),
		mut("universe no dot", relBaseFile, "universe_domain", "localhost", "universe_domain"),
		mut("quota project with space", relBaseFile, "quota_project_id", "my project", "quota_project_id"),
		mut("quota project too long", relBaseFile, "quota_project_id", strings.Repeat("p", 200), "quota_project_id"),
		mut("user: no refresh_token", relBaseUser, "refresh_token", relDel{}, "refresh_token"),
		mut("user: empty refresh_token", relBaseUser, "refresh_token", "", "refresh_token"),
		mut("user: no client_id", relBaseUser, "client_id", relDel{}, "client_id"),
		mut("user: no client_secret", relBaseUser, "client_secret", relDel{}, "client_secret"),
		mut("user: workload audience", relBaseUser, "audience", relAud, "audience"),
		mut("user: token_url plain http", relBaseUser, "token_url", "http://sts.example.com/v1/oauthtoken", "token_url"),
		mut("user: credential_source", relBaseUser, "credential_source", map[string]any{"file": "/x"}, "credential_source"),
		mut("user: subject_token_type", relBaseUser, "subject_token_type", TokenTypeJWT, "subject_token_type"),
		mut("user: impersonation", relBaseUser, "service_account_impersonation_url", relBaseImpUR, "service_account_impersonation_url"),
		mut("user: refresh_token number", relBaseUser, "refresh_token", 12345, "refresh_token"),
	}
}

// relMutateS is relMutate returning a string, for chained mutations.
func relMutateS(t *testing.T, base, path string, v any) string {
	return string(relMutate(t, base, path, v))
}

func TestCorpusCredentialFiles(t *testing.T) {
	cases := relCredentialCorpus(t)
	noNet := &http.Client{Transport: relRoundTrip(func(r *http.Request) (*http.Response, error) {
		t.Errorf("loading made a request to %s", r.URL.Host)
		return nil, io.EOF
	})}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			log, buf := newRelLogger()
			creds, err := LoadCredentials(c.data, LoadOptions{Getenv: func(string) string { return "" }, HTTPOptions: HTTPOptions{HTTPClient: noNet, Logger: log}})
			if err == nil {
				t.Fatalf("accepted: %v", creds)
			}
			relCheckCorpusError(t, err, c.want)
			relCheckErrorSecrets(t, "credentials", err, buf.String())
		})
	}
	t.Logf("credential file corpus: %d malformed files", len(cases))
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
