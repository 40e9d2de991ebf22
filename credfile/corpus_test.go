package credfile

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/internal/public"
)

// The credential-file half of the corpus: files malformed in one way each,
// refused with a typed error naming the culprit, without a request or a
// secret in the error or the log.

const (
	relAud       = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/pool/providers/prov"
	relWfAud     = "//iam.googleapis.com/locations/global/workforcePools/pool/providers/prov"
	relBaseFile  = `{"type":"external_account","audience":"` + relAud + `","subject_token_type":"urn:ietf:params:oauth:token-type:jwt","token_url":"https://sts.googleapis.com/v1/token","client_id":"` + fixture.ClientID + `","client_secret":"` + fixture.ClientSecret + `","credential_source":{"file":"/var/run/token","format":{"type":"text"}}}`
	relBaseURL   = `{"type":"external_account","audience":"` + relAud + `","subject_token_type":"urn:ietf:params:oauth:token-type:id_token","credential_source":{"url":"http://169.254.169.254/token","headers":{"Authorization":"Bearer ` + fixture.AccessToken + `"},"format":{"type":"json","subject_token_field_name":"id_token"}}}`
	relBaseExec  = `{"type":"external_account","audience":"` + relAud + `","subject_token_type":"urn:ietf:params:oauth:token-type:saml2","credential_source":{"executable":{"command":"/opt/idp/fetch --aud gcp","timeout_millis":10000,"output_file":"/tmp/out.json"}}}`
	relBaseAWS   = `{"type":"external_account","audience":"` + relAud + `","subject_token_type":"urn:ietf:params:aws:token-type:aws4_request","credential_source":{"environment_id":"aws1","region_url":"http://169.254.169.254/latest/meta-data/placement/availability-zone","url":"http://169.254.169.254/latest/meta-data/iam/security-credentials","regional_cred_verification_url":"https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"}}`
	relBaseCert  = `{"type":"external_account","audience":"` + relAud + `","subject_token_type":"urn:ietf:params:oauth:token-type:mtls","credential_source":{"certificate":{"certificate_config_location":"/nonexistent/certificate_config.json"}}}`
	relBaseUser  = `{"type":"external_account_authorized_user","audience":"` + relWfAud + `","refresh_token":"` + fixture.RefreshToken + `","client_id":"` + fixture.ClientID + `","client_secret":"` + fixture.ClientSecret + `","token_url":"https://sts.googleapis.com/v1/oauthtoken"}`
	relBaseImpUR = "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken"
)

type configCase struct {
	name string
	data []byte
	want string // what the error must say, usually the field
}

func relCredentialCorpus(t *testing.T) []configCase {
	mut := func(name, base, path string, v any, want string) configCase {
		return configCase{name, fixture.Mutate(t, base, path, v), want}
	}
	raw := func(name, s, want string) configCase { return configCase{name, []byte(s), want} }
	return []configCase{
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
		mut("no type", relBaseFile, "type", fixture.Del{}, "type"),
		mut("unsupported type", relBaseFile, "type", "gdch_service_account", "is not supported; supported types: external_account, external_account_authorized_user, impersonated_service_account, service_account, authorized_user"),
		mut("numeric type", relBaseFile, "type", 1, "type"),
		mut("no audience", relBaseFile, "audience", fixture.Del{}, "audience"),
		mut("audience without slashes", relBaseFile, "audience", "iam.googleapis.com/projects/1", "audience"),
		mut("audience with space", relBaseFile, "audience", relAud+" x", "audience"),
		mut("audience number", relBaseFile, "audience", 5, "audience"),
		mut("no subject_token_type", relBaseFile, "subject_token_type", fixture.Del{}, "subject_token_type"),
		mut("unknown subject_token_type", relBaseFile, "subject_token_type", "urn:example:jwt", "subject_token_type"),
		mut("token_url plain http", relBaseFile, "token_url", "http://sts.example.com/v1/token", "token_url"),
		mut("token_url ftp", relBaseFile, "token_url", "ftp://sts.googleapis.com/v1/token", "token_url"),
		mut("token_url no host", relBaseFile, "token_url", "https:///v1/token", "token_url"),
		mut("token_url user info", relBaseFile, "token_url", "https://u:"+fixture.ClientSecret+"@sts.googleapis.com/v1/token", "token_url"),
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
		mut("client_secret without client_id", relBaseFile, "client_id", fixture.Del{}, "client_id"),
		mut("client_id without client_secret", relBaseFile, "client_secret", fixture.Del{}, "client_secret"),
		mut("client_id with newline", relBaseFile, "client_id", "a\nb", "client_id"),
		mut("client_secret number", relBaseFile, "client_secret", 7, "client_secret"),
		mut("user project on workload pool", relBaseFile, "workforce_pool_user_project", "proj", "workforce_pool_user_project"),
		mut("refresh_token in external_account", relBaseFile, "refresh_token", fixture.RefreshToken, "refresh_token"),
		mut("revoke_url in external_account", relBaseFile, "revoke_url", "https://sts.googleapis.com/v1/revoke", "revoke_url"),
		mut("no credential_source", relBaseFile, "credential_source", fixture.Del{}, "credential_source"),
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
		mut("url with user info", relBaseURL, "credential_source.url", "http://user:"+fixture.ClientSecret+"@169.254.169.254/token", "credential_source.url"),
		mut("bad header name", relBaseURL, "credential_source.headers", map[string]any{"Bad Header": "x", "Authorization": "Bearer " + fixture.AccessToken}, "credential_source.headers"),
		mut("header value with newline", relBaseURL, "credential_source.headers", map[string]any{"X-A": "a\r\nInjected: " + fixture.AccessToken}, "credential_source.headers"),
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
		mut("executable with access token type", relBaseExec, "subject_token_type", sts.TokenTypeAccessToken, "subject_token_type"),
		mut("executable not an object", relBaseExec, "credential_source.executable", "/opt/idp/fetch", "credential_source.executable"),
		mut("aws environment v2", relBaseAWS, "credential_source.environment_id", "aws2", "credential_source.environment_id"),
		mut("azure environment", relBaseAWS, "credential_source.environment_id", "azure1", "credential_source.environment_id"),
		mut("aws with jwt type", relBaseAWS, "subject_token_type", sts.TokenTypeJWT, "subject_token_type"),
		mut("aws verification plain http", relBaseAWS, "credential_source.regional_cred_verification_url", "http://sts.{region}.amazonaws.com?Action=GetCallerIdentity", "regional_cred_verification_url"),
		mut("aws region url ftp", relBaseAWS, "credential_source.region_url", "ftp://169.254.169.254/zone", "credential_source.region_url"),
		mut("aws url not a URL", relBaseAWS, "credential_source.url", "::", "credential_source.url"),
		mut("aws imdsv2 no host", relBaseAWS, "credential_source.imdsv2_session_token_url", "http://", "credential_source.imdsv2_session_token_url"),
		mut("jwt type with aws source", relBaseFile, "subject_token_type", sts.TokenTypeAWS4Request, "subject_token_type"),
		mut("mtls type with file source", relBaseFile, "subject_token_type", sts.TokenTypeMTLS, "subject_token_type"),
		mut("certificate both locations", relBaseCert, "credential_source.certificate.use_default_certificate_config", true, "credential_source.certificate"),
		mut("certificate neither location", relBaseCert, "credential_source.certificate.certificate_config_location", fixture.Del{}, "credential_source.certificate"),
		mut("certificate empty location", relBaseCert, "credential_source.certificate.certificate_config_location", "", "credential_source.certificate"),
		mut("certificate with jwt type", relBaseCert, "subject_token_type", sts.TokenTypeJWT, "subject_token_type"),
		mut("certificate default flag string", relBaseCert, "credential_source.certificate.use_default_certificate_config", "yes", "use_default_certificate_config"),
		mut("universe empty", relBaseFile, "universe_domain", "", "universe_domain"),
		mut("universe with slash", relBaseFile, "universe_domain", "evil.com/x", "universe_domain"),
		mut("universe no dot", relBaseFile, "universe_domain", "localhost", "universe_domain"),
		mut("quota project with space", relBaseFile, "quota_project_id", "my project", "quota_project_id"),
		mut("quota project too long", relBaseFile, "quota_project_id", strings.Repeat("p", 200), "quota_project_id"),
		mut("user: no refresh_token", relBaseUser, "refresh_token", fixture.Del{}, "refresh_token"),
		mut("user: empty refresh_token", relBaseUser, "refresh_token", "", "refresh_token"),
		mut("user: no client_id", relBaseUser, "client_id", fixture.Del{}, "client_id"),
		mut("user: no client_secret", relBaseUser, "client_secret", fixture.Del{}, "client_secret"),
		mut("user: workload audience", relBaseUser, "audience", relAud, "audience"),
		mut("user: token_url plain http", relBaseUser, "token_url", "http://sts.example.com/v1/oauthtoken", "token_url"),
		mut("user: credential_source", relBaseUser, "credential_source", map[string]any{"file": "/x"}, "credential_source"),
		mut("user: subject_token_type", relBaseUser, "subject_token_type", sts.TokenTypeJWT, "subject_token_type"),
		mut("user: impersonation", relBaseUser, "service_account_impersonation_url", relBaseImpUR, "service_account_impersonation_url"),
		mut("user: refresh_token number", relBaseUser, "refresh_token", 12345, "refresh_token"),
	}
}

// relMutateS is relMutate returning a string, for chained mutations.
func relMutateS(t *testing.T, base, path string, v any) string {
	return string(fixture.Mutate(t, base, path, v))
}

func TestCorpusCredentialFiles(t *testing.T) {
	cases := relCredentialCorpus(t)
	noNet := &http.Client{Transport: fixture.RoundTrip(func(r *http.Request) (*http.Response, error) {
		t.Errorf("loading made a request to %s", r.URL.Host)
		return nil, io.EOF
	})}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			log, buf := fixture.NewLogger()
			creds, err := Load(c.data, Options{Getenv: func(string) string { return "" }, HTTPOptions: sts.HTTPOptions{HTTPClient: noNet, Logger: log}})
			if err == nil {
				t.Fatalf("accepted: %v", creds)
			}
			fixture.CheckCorpusError(t, err, c.want, isPublic)
			fixture.CheckErrorSecrets(t, "credentials", err, buf.String())
		})
	}
	t.Logf("credential file corpus: %d malformed files", len(cases))
}

// isPublic reports whether err is, or wraps, an *sts.Error or an
// *sts.ValidationError.
var isPublic = public.Is

// TestCorpusFileHeaders: credential_source.headers that HTTP forbids fail
// at load, naming the header map (or the header, for a bad value) and never
// quoting a value, through the check URLSubject uses.
func TestCorpusFileHeaders(t *testing.T) {
	const base = `{"type":"external_account","audience":"//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/pool/providers/prov","subject_token_type":"urn:ietf:params:oauth:token-type:id_token","credential_source":{"url":"http://169.254.169.254/token","format":{"type":"json","subject_token_field_name":"id_token"}}}`
	noNet := &http.Client{Transport: fixture.RoundTrip(func(r *http.Request) (*http.Response, error) {
		t.Errorf("a request went to %s", r.URL.Host)
		return nil, io.EOF
	})}
	cases := fixture.HeaderCorpus()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			h := map[string]any{}
			for k, v := range c.Headers {
				h[k] = v
			}
			_, err := Load(fixture.Mutate(t, base, "credential_source.headers", h), Options{HTTPOptions: sts.HTTPOptions{HTTPClient: noNet}})
			field := "credential_source.headers" + c.Field
			var ve *sts.ValidationError
			if !errors.As(err, &ve) || ve.Field != field {
				t.Fatalf("err = %v, want a *sts.ValidationError for %s", err, field)
			}
			fixture.CheckCorpusError(t, err, field, isPublic)
			fixture.CheckErrorSecrets(t, "headers", err, "")
			for _, v := range c.Headers {
				if len(v) > 4 && strings.Contains(err.Error(), v) {
					t.Errorf("error quotes a header value: %v", err)
				}
			}
		})
	}
}
