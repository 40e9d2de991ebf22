package credfile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/executable"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/internal/refreshgrant"
	"github.com/stsgo/sts/ststest"
)

// credFixture is the world a rewritten credential file points to: the
// emulator, a subject-token file, a subject-token URL and a fake IMDS.
type credFixture struct {
	t       *testing.T
	emu     *ststest.Server
	dir     string
	urlSrv  *httptest.Server
	urlHdr  chan http.Header
	imds    *fixture.IMDS
	subject string // the subject token every source serves
	getenv  func(string) string
	client  *http.Client // nil: the emulator's client
}

const testSubjectJWT = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJjaS1qb2ItNDIiLCJleHAiOjQxMDI0NDQ4MDB9.c2ln" // sub: ci-job-42, expires in 2100

func newCredFixture(t *testing.T) *credFixture {
	t.Helper()
	f := &credFixture{
		t:       t,
		emu:     ststest.NewServer(ststest.Options{}),
		dir:     t.TempDir(),
		urlHdr:  make(chan http.Header, 16),
		subject: testSubjectJWT,
		getenv:  fixture.EnvMap(nil),
	}
	t.Cleanup(f.emu.Close)
	f.urlSrv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case f.urlHdr <- r.Header.Clone():
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": f.subject, "expires_in": 3600})
	}))
	t.Cleanup(f.urlSrv.Close)
	return f
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "credentials", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeMap(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func encodeMap(t testing.TB, m map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rewrite points the endpoints and sources of a decoded credential file at
// the fixture.
func (f *credFixture) rewrite(m map[string]any) map[string]any {
	t := f.t
	t.Helper()
	swapHost := func(key string) {
		if v, ok := m[key].(string); ok {
			i := strings.Index(v, "/v1/")
			if i < 0 {
				t.Fatalf("%s %q has no /v1/", key, v)
			}
			m[key] = f.emu.URL + v[i:]
		}
	}
	for _, k := range []string{"token_url", "token_info_url", "revoke_url", "service_account_impersonation_url"} {
		swapHost(k)
	}
	cs, _ := m["credential_source"].(map[string]any)
	if cs == nil {
		return m
	}
	if _, ok := cs["file"]; ok {
		p := filepath.Join(f.dir, "subject-token")
		content := f.subject
		if format, _ := cs["format"].(map[string]any); format != nil && format["type"] == "json" {
			content = fmt.Sprintf(`{%q: %q, "other": 1}`, format["subject_token_field_name"], f.subject)
		}
		if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cs["file"] = p
	}
	if x, ok := cs["executable"].(map[string]any); ok {
		// The test binary prints a response for the configured token type
		// (see execCommandLine), caching it in an output file in f.dir.
		x["command"] = fixture.ExecCommandLine(t, m["subject_token_type"].(string), f.subject)
		x["output_file"] = filepath.Join(f.dir, "executable-output.json")
		f.getenv = fixture.EnvMap(map[string]string{"GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES": "1"})
	}
	if cs["environment_id"] != nil {
		if f.imds == nil {
			f.imds = fixture.NewIMDS(t, true)
			f.imds.SetExpiry(time.Now().Add(time.Hour))
		}
		base := f.imds.Srv.URL
		cs["region_url"] = base + "/latest/meta-data/placement/availability-zone"
		cs["url"] = base + "/latest/meta-data/iam/security-credentials"
		cs["imdsv2_session_token_url"] = base + "/latest/api/token"
	} else if u, ok := cs["url"].(string); ok {
		i := strings.Index(u[len("http://"):], "/")
		cs["url"] = f.urlSrv.URL + u[len("http://")+i:]
	}
	return m
}

func (f *credFixture) load(t *testing.T, m map[string]any, opts Options) (*Credentials, error) {
	t.Helper()
	if opts.HTTPClient == nil {
		opts.HTTPClient = f.client
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = f.emu.Client()
	}
	if opts.Getenv == nil {
		opts.Getenv = f.getenv
	}
	return Load(encodeMap(t, m), opts)
}

// TestLoadTestdataFiles loads every sample credential file, pointed at the
// emulator, and gets a token through it.
func TestLoadTestdataFiles(t *testing.T) {
	const sa = "deployer@example-project.iam.gserviceaccount.com"
	tests := []struct {
		file      string
		scopes    []string
		kind      string // Kind of the emulator's token
		subject   string
		userProj  string
		quota     string
		serviceAc string
		check     func(t *testing.T, f *credFixture, c *Credentials)
		// prepare adjusts the rewritten file and the fixture.
		prepare func(t *testing.T, f *credFixture, m map[string]any)
		// unchangedErr is the field of the error the unchanged file gives
		// (its certificate files do not exist here); "" means it loads.
		unchangedErr string
	}{
		{file: "oidc-file.json", kind: "exchange", subject: "ci-job-42"},
		{file: "oidc-file-json.json", kind: "exchange", subject: "ci-job-42"},
		{file: "azure-url.json", kind: "exchange", subject: "ci-job-42", check: func(t *testing.T, f *credFixture, c *Credentials) {
			select {
			case h := <-f.urlHdr:
				if h.Get("Metadata") != "True" {
					t.Errorf("URL source header Metadata = %q, want True", h.Get("Metadata"))
				}
			default:
				t.Error("URL source was not asked")
			}
		}},
		{file: "aws.json", kind: "impersonated", subject: "uploader@example-project.iam.gserviceaccount.com",
			serviceAc: "uploader@example-project.iam.gserviceaccount.com", check: func(t *testing.T, f *credFixture, c *Credentials) {
				if f.imds.Count("/latest/api/token") == 0 {
					t.Error("IMDSv2 session token was not fetched")
				}
				ex := fixture.LastRequest(t, f.emu, "/v1/token")
				if got := ex.Form.Get("subject_token_type"); got != sts.TokenTypeAWS4Request {
					t.Errorf("subject_token_type = %q", got)
				}
				if !strings.Contains(ex.Header.Get("X-Goog-Api-Client"), "source/aws") {
					t.Errorf("x-goog-api-client = %q, want source/aws", ex.Header.Get("X-Goog-Api-Client"))
				}
			}},
		{file: "executable.json", kind: "exchange", check: func(t *testing.T, f *credFixture, c *Credentials) {
			ex := fixture.LastRequest(t, f.emu, "/v1/token")
			if ex.Form.Get("subject_token_type") != sts.TokenTypeSAML2 || ex.Form.Get("subject_token") != f.subject {
				t.Errorf("exchange did not send the executable's SAML response")
			}
			if !strings.Contains(ex.Header.Get("X-Goog-Api-Client"), "source/executable") {
				t.Errorf("x-goog-api-client = %q, want source/executable", ex.Header.Get("X-Goog-Api-Client"))
			}
		}},
		{file: "impersonation.json", kind: "impersonated", subject: sa, quota: "example-project", serviceAc: sa,
			scopes: []string{"https://www.googleapis.com/auth/devstorage.read_write"},
			check: func(t *testing.T, f *credFixture, c *Credentials) {
				ex := fixture.LastRequest(t, f.emu, "/v1/token")
				if got := ex.Form.Get("scope"); got != sts.CloudPlatformScope {
					t.Errorf("exchange scope = %q, want cloud-platform", got)
				}
				api := ex.Header.Get("X-Goog-Api-Client")
				if !strings.Contains(api, "sa-impersonation/true") || !strings.Contains(api, "config-lifetime/true") || !strings.Contains(api, "source/file") {
					t.Errorf("x-goog-api-client = %q", api)
				}
				tok, _ := c.TokenSource().Token()
				info, _ := f.emu.Lookup(tok.AccessToken)
				if got := info.ExpiresAt.Sub(info.IssuedAt); got != 2400*time.Second {
					t.Errorf("impersonated lifetime = %v, want 40m", got)
				}
				if !slices.Equal(info.Scopes, []string{"https://www.googleapis.com/auth/devstorage.read_write"}) {
					t.Errorf("impersonated scopes = %q", info.Scopes)
				}
				imp := fixture.LastRequest(t, f.emu, "/v1/projects/-/serviceAccounts/"+sa+":generateAccessToken")
				if !strings.HasPrefix(imp.Header.Get("Authorization"), "Bearer ststest-at-") {
					t.Errorf("generateAccessToken was not called with the exchanged token")
				}
			}},
		{file: "workforce.json", kind: "exchange", userProj: "example-billing-project"},
		{file: "x509.json", kind: "exchange", unchangedErr: "credential_source.certificate.certificate_config_location",
			prepare: func(t *testing.T, f *credFixture, m map[string]any) {
				x := fixture.NewX509(t)
				fixture.WriteFile(t, x.Cert, append(fixture.PEM("CERTIFICATE", x.LeafDER), fixture.PEM("CERTIFICATE", x.Inter.DER)...))
				mt := fixture.NewMTLSSTS(t, x.Root)
				f.emu, f.client = mt.Emu, mt.Srv.Client()
				m["token_url"] = mt.Srv.URL + "/v1/token"
				cert := m["credential_source"].(map[string]any)["certificate"].(map[string]any)
				cert["certificate_config_location"] = x.Config
				cert["trust_chain_path"] = x.Chain
			}},
		{file: "authorized-user.json", kind: "refreshed", check: func(t *testing.T, f *credFixture, c *Credentials) {
			if c.RevokeURL() != f.emu.URL+"/v1/revoke" || c.TokenInfoURL() != f.emu.URL+"/v1/introspect" {
				t.Errorf("RevokeURL %q TokenInfoURL %q", c.RevokeURL(), c.TokenInfoURL())
			}
			r := fixture.LastRequest(t, f.emu, "/v1/oauthtoken")
			if id, secret, ok := basicAuthOf(r.Header); !ok || id != "placeholder-client-id" || secret != "placeholder-client-secret" {
				t.Errorf("Basic auth = %q, %q, %v", id, secret, ok)
			}
		}},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		seen[tc.file] = true
		t.Run(tc.file, func(t *testing.T) {
			raw := readTestdata(t, tc.file)
			// The file loads unchanged (no request is made at load time).
			orig, err := Load(raw, Options{Getenv: fixture.EnvMap(nil)})
			if tc.unchangedErr != "" {
				wantField(t, err, tc.unchangedErr)
			} else if err != nil {
				t.Fatalf("Load(unchanged): %v", err)
			} else if orig.ServiceAccount() != tc.serviceAc {
				t.Errorf("ServiceAccount = %q, want %q", orig.ServiceAccount(), tc.serviceAc)
			}
			f := newCredFixture(t)
			f.emu.AddRefreshToken("placeholder-refresh-token", "placeholder-client-id")
			m := f.rewrite(decodeMap(t, raw))
			if tc.prepare != nil {
				tc.prepare(t, f, m)
			}
			c, err := f.load(t, m, Options{Scopes: tc.scopes})
			if err != nil {
				t.Fatalf("Load(rewritten): %v", err)
			}
			tok, err := c.TokenSource().Token()
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			info, ok := f.emu.Lookup(tok.AccessToken)
			if !ok {
				t.Fatalf("token was not issued by the emulator")
			}
			if info.Kind != tc.kind {
				t.Errorf("Kind = %q, want %q", info.Kind, tc.kind)
			}
			if tc.subject != "" && info.Subject != tc.subject {
				t.Errorf("Subject = %q, want %q", info.Subject, tc.subject)
			}
			if tc.kind == "exchange" && info.Audience != m["audience"] {
				t.Errorf("Audience = %q, want %q", info.Audience, m["audience"])
			}
			if info.UserProject != tc.userProj {
				t.Errorf("UserProject = %q, want %q", info.UserProject, tc.userProj)
			}
			if c.QuotaProjectID() != tc.quota {
				t.Errorf("QuotaProjectID = %q, want %q", c.QuotaProjectID(), tc.quota)
			}
			if c.UniverseDomain() != sts.DefaultUniverseDomain {
				t.Errorf("UniverseDomain = %q", c.UniverseDomain())
			}
			if tok.Expiry.IsZero() || time.Until(tok.Expiry) < 10*time.Minute {
				t.Errorf("Expiry = %v", tok.Expiry)
			}
			// A second call is served from the cache.
			n := f.emu.Count("")
			if tok2, err := c.TokenSource().Token(); err != nil || tok2 != tok {
				t.Errorf("second Token = %v, %v; want the cached token", tok2, err)
			}
			if f.emu.Count("") != n {
				t.Errorf("second Token made a request")
			}
			if tc.check != nil {
				tc.check(t, f, c)
			}
		})
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "credentials", "*.json"))
	for _, p := range files {
		if !seen[filepath.Base(p)] {
			t.Errorf("testdata file %s has no test case", filepath.Base(p))
		}
	}
}

func basicAuthOf(h http.Header) (id, secret string, ok bool) {
	r := &http.Request{Header: h}
	return r.BasicAuth()
}

// TestLoadUniverseDomain checks endpoints follow universe_domain.
func TestLoadUniverseDomain(t *testing.T) {
	m := decodeMap(t, readTestdata(t, "oidc-file.json"))
	m["universe_domain"] = "example-universe.test"
	delete(m, "token_url")
	m["audience"] = "//iam.example-universe.test/locations/global/workforcePools/p/providers/q"
	m["workforce_pool_user_project"] = "proj"
	// The caller chooses the universe: a file alone cannot move there.
	_, err := Load(encodeMap(t, m), Options{})
	wantField(t, err, "universe_domain")
	c, err := Load(encodeMap(t, m), Options{UniverseDomain: "example-universe.test"})
	if err != nil {
		t.Fatal(err)
	}
	if c.TokenURL() != "https://sts.example-universe.test/v1/token" || c.UniverseDomain() != "example-universe.test" ||
		c.TokenInfoURL() != "https://sts.example-universe.test/v1/introspect" {
		t.Errorf("TokenURL %q UniverseDomain %q TokenInfoURL %q", c.TokenURL(), c.UniverseDomain(), c.TokenInfoURL())
	}
	// The workforce audience must follow the universe.
	m["audience"] = "//iam.googleapis.com/locations/global/workforcePools/p/providers/q"
	_, err = Load(encodeMap(t, m), Options{UniverseDomain: "example-universe.test"})
	wantField(t, err, "workforce_pool_user_project")
	// An explicit token_url in another universe is refused, unless the
	// caller allows its host; then it is used as written.
	m["audience"] = "//iam.example-universe.test/locations/global/workforcePools/p/providers/q"
	m["token_url"] = "https://sts.googleapis.com/v1/token"
	_, err = Load(encodeMap(t, m), Options{UniverseDomain: "example-universe.test"})
	wantField(t, err, "token_url")
	c, err = Load(encodeMap(t, m), Options{UniverseDomain: "example-universe.test", AllowedHosts: []string{"sts.googleapis.com"}})
	if err != nil || c.TokenURL() != "https://sts.googleapis.com/v1/token" {
		t.Errorf("explicit token_url: %v, %v", c, err)
	}
	// Authorized users derive /v1/oauthtoken.
	a := decodeMap(t, readTestdata(t, "authorized-user.json"))
	delete(a, "token_url")
	delete(a, "token_info_url")
	delete(a, "revoke_url")
	a["universe_domain"] = "example-universe.test"
	a["audience"] = "//iam.example-universe.test/locations/global/workforcePools/p/providers/q"
	c, err = Load(encodeMap(t, a), Options{UniverseDomain: "example-universe.test"})
	if err != nil || c.TokenURL() != "https://sts.example-universe.test/v1/oauthtoken" ||
		c.TokenInfoURL() != "https://sts.example-universe.test/v1/introspect" || c.RevokeURL() != "https://sts.example-universe.test/v1/revoke" {
		t.Errorf("authorized user token URL: %v, %v", c, err)
	}
	// x509 defaults to the mTLS endpoint.
	x := decodeMap(t, readTestdata(t, "x509.json"))
	delete(x, "token_url")
	if c, err := Load(encodeMap(t, x), Options{}); err == nil && c.TokenURL() != "https://sts.mtls.googleapis.com/v1/token" {
		t.Errorf("x509 TokenURL = %q", c.TokenURL())
	}
}

func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var ve *sts.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v (%T), want *sts.ValidationError for %s", err, err, field)
	}
	if ve.Field != field {
		t.Errorf("error field = %q, want %q (error: %v)", ve.Field, field, err)
	}
}

const (
	credSecretClient  = "SECRET-client-secret-77"
	credSecretRefresh = "SECRET-refresh-token-88"
)

// TestLoadCredentialsInvalid is the table of malformed configurations.
func TestLoadCredentialsInvalid(t *testing.T) {
	base := func(name string) func(*testing.T) map[string]any {
		return func(t *testing.T) map[string]any { return decodeMap(t, readTestdata(t, name)) }
	}
	oidc, url, exe, aws, imp, wf, x509, au := base("oidc-file.json"), base("azure-url.json"), base("executable.json"),
		base("aws.json"), base("impersonation.json"), base("workforce.json"), base("x509.json"), base("authorized-user.json")
	cs := func(m map[string]any) map[string]any { return m["credential_source"].(map[string]any) }
	tests := []struct {
		name  string
		base  func(*testing.T) map[string]any
		edit  func(m map[string]any)
		raw   string // used instead of base+edit when set
		field string
	}{
		{name: "empty", raw: "", field: "credentials JSON"},
		{name: "not object", raw: `["external_account"]`, field: "credentials JSON"},
		{name: "null", raw: `null`, field: "credentials JSON"},
		{name: "syntax", raw: "{\n  \"type\": \"external_account\",\n  \"client_secret\": \"" + credSecretClient + "\" \"x\"}", field: "credentials JSON"},
		{name: "truncated", raw: `{"type": "external_account", "client_secret": "` + credSecretClient, field: "credentials JSON"},
		{name: "trailing data", raw: `{"type": "external_account"} {}`, field: "credentials JSON"},
		{name: "audience not string", base: oidc, edit: func(m map[string]any) { m["audience"] = 42 }, field: "audience"},
		{name: "credential_source not object", base: oidc, edit: func(m map[string]any) { m["credential_source"] = "file" }, field: "credential_source"},
		{name: "timeout_millis not number", base: exe, edit: func(m map[string]any) { cs(m)["executable"].(map[string]any)["timeout_millis"] = true }, field: "credential_source.executable.timeout_millis"},
		{name: "headers not strings", base: url, edit: func(m map[string]any) { cs(m)["headers"] = map[string]any{"Metadata": 1} }, field: "credential_source.headers"},
		{name: "missing type", base: oidc, edit: func(m map[string]any) { delete(m, "type") }, field: "type"},
		{name: "unknown type", base: oidc, edit: func(m map[string]any) { m["type"] = "gdch_service_account" }, field: "type"},
		{name: "missing audience", base: oidc, edit: func(m map[string]any) { delete(m, "audience") }, field: "audience"},
		{name: "relative audience", base: oidc, edit: func(m map[string]any) { m["audience"] = "iam.googleapis.com/projects/1" }, field: "audience"},
		{name: "audience with space", base: oidc, edit: func(m map[string]any) { m["audience"] = "//iam.googleapis.com/a b" }, field: "audience"},
		{name: "missing subject_token_type", base: oidc, edit: func(m map[string]any) { delete(m, "subject_token_type") }, field: "subject_token_type"},
		{name: "unknown subject_token_type", base: oidc, edit: func(m map[string]any) { m["subject_token_type"] = "urn:x" }, field: "subject_token_type"},
		{name: "http token_url", base: oidc, edit: func(m map[string]any) { m["token_url"] = "http://sts.googleapis.com/v1/token" }, field: "token_url"},
		{name: "ftp token_url", base: oidc, edit: func(m map[string]any) { m["token_url"] = "ftp://sts.googleapis.com/v1/token" }, field: "token_url"},
		{name: "empty token_url", base: oidc, edit: func(m map[string]any) { m["token_url"] = "" }, field: "token_url"},
		{name: "token_url userinfo", base: oidc, edit: func(m map[string]any) { m["token_url"] = "https://u:p@sts.googleapis.com/v1/token" }, field: "token_url"},
		{name: "http token_info_url", base: oidc, edit: func(m map[string]any) { m["token_info_url"] = "http://sts.googleapis.com/v1/introspect" }, field: "token_info_url"},
		{name: "http impersonation url", base: imp, edit: func(m map[string]any) {
			m["service_account_impersonation_url"] = "http://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/a@b.com:generateAccessToken"
		}, field: "service_account_impersonation_url"},
		{name: "impersonation url wrong method", base: imp, edit: func(m map[string]any) {
			m["service_account_impersonation_url"] = "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/a@b.com:signJwt"
		}, field: "service_account_impersonation_url"},
		{name: "impersonation url no account", base: imp, edit: func(m map[string]any) {
			m["service_account_impersonation_url"] = "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/:generateAccessToken"
		}, field: "service_account_impersonation_url"},
		{name: "lifetime too short", base: imp, edit: func(m map[string]any) {
			m["service_account_impersonation"] = map[string]any{"token_lifetime_seconds": 599}
		}, field: "service_account_impersonation.token_lifetime_seconds"},
		{name: "lifetime too long", base: imp, edit: func(m map[string]any) {
			m["service_account_impersonation"] = map[string]any{"token_lifetime_seconds": 43201}
		}, field: "service_account_impersonation.token_lifetime_seconds"},
		{name: "lifetime fraction", base: imp, edit: func(m map[string]any) {
			m["service_account_impersonation"] = map[string]any{"token_lifetime_seconds": 1200.5}
		}, field: "service_account_impersonation.token_lifetime_seconds"},
		{name: "lifetime without impersonation", base: oidc, edit: func(m map[string]any) {
			m["service_account_impersonation"] = map[string]any{"token_lifetime_seconds": 1200}
		}, field: "service_account_impersonation.token_lifetime_seconds"},
		{name: "client_id without secret", base: oidc, edit: func(m map[string]any) { m["client_id"] = "id" }, field: "client_secret"},
		{name: "client_secret without id", base: oidc, edit: func(m map[string]any) { m["client_secret"] = credSecretClient }, field: "client_id"},
		{name: "quota project with space", base: imp, edit: func(m map[string]any) { m["quota_project_id"] = "a b" }, field: "quota_project_id"},
		{name: "user project on workload pool", base: oidc, edit: func(m map[string]any) { m["workforce_pool_user_project"] = "p" }, field: "workforce_pool_user_project"},
		{name: "user project bad chars", base: wf, edit: func(m map[string]any) { m["workforce_pool_user_project"] = "p\n" }, field: "workforce_pool_user_project"},
		{name: "bad universe", base: oidc, edit: func(m map[string]any) { m["universe_domain"] = "not a domain" }, field: "universe_domain"},
		{name: "empty universe", base: oidc, edit: func(m map[string]any) { m["universe_domain"] = "" }, field: "universe_domain"},
		{name: "refresh_token on external_account", base: oidc, edit: func(m map[string]any) { m["refresh_token"] = credSecretRefresh }, field: "refresh_token"},
		{name: "revoke_url on external_account", base: oidc, edit: func(m map[string]any) { m["revoke_url"] = "https://sts.googleapis.com/v1/revoke" }, field: "revoke_url"},
		{name: "missing credential_source", base: oidc, edit: func(m map[string]any) { delete(m, "credential_source") }, field: "credential_source"},
		{name: "empty credential_source", base: oidc, edit: func(m map[string]any) { m["credential_source"] = map[string]any{} }, field: "credential_source"},
		{name: "file and url", base: oidc, edit: func(m map[string]any) { cs(m)["url"] = "http://127.0.0.1/token" }, field: "credential_source.url"},
		{name: "file and executable", base: oidc, edit: func(m map[string]any) { cs(m)["executable"] = map[string]any{"command": "x"} }, field: "credential_source.executable"},
		{name: "url and certificate", base: url, edit: func(m map[string]any) { cs(m)["certificate"] = map[string]any{"use_default_certificate_config": true} }, field: "credential_source.certificate"},
		{name: "aws and file", base: aws, edit: func(m map[string]any) { cs(m)["file"] = "/x" }, field: "credential_source.environment_id"},
		{name: "empty file", base: oidc, edit: func(m map[string]any) { cs(m)["file"] = "" }, field: "credential_source.file"},
		{name: "bad format type", base: oidc, edit: func(m map[string]any) { cs(m)["format"] = map[string]any{"type": "xml"} }, field: "credential_source.format.type"},
		{name: "json format without field", base: url, edit: func(m map[string]any) { delete(cs(m)["format"].(map[string]any), "subject_token_field_name") }, field: "credential_source.format.subject_token_field_name"},
		{name: "headers on file", base: oidc, edit: func(m map[string]any) { cs(m)["headers"] = map[string]any{"A": "b"} }, field: "credential_source.headers"},
		{name: "bad header name", base: url, edit: func(m map[string]any) { cs(m)["headers"] = map[string]any{"Bad Name": "b"} }, field: "credential_source.headers"},
		{name: "header value newline", base: url, edit: func(m map[string]any) { cs(m)["headers"] = map[string]any{"A": "b\r\nX: y"} }, field: "credential_source.headers.A"},
		{name: "url scheme", base: url, edit: func(m map[string]any) { cs(m)["url"] = "file:///etc/passwd" }, field: "credential_source.url"},
		{name: "url no host", base: url, edit: func(m map[string]any) { cs(m)["url"] = "http:///x" }, field: "credential_source.url"},
		{name: "format on executable", base: exe, edit: func(m map[string]any) { cs(m)["format"] = map[string]any{"type": "text"} }, field: "credential_source.format"},
		{name: "region_url on file", base: oidc, edit: func(m map[string]any) { cs(m)["region_url"] = "http://169.254.169.254/x" }, field: "credential_source.region_url"},
		{name: "missing command", base: exe, edit: func(m map[string]any) { delete(cs(m)["executable"].(map[string]any), "command") }, field: "credential_source.executable.command"},
		{name: "blank command", base: exe, edit: func(m map[string]any) { cs(m)["executable"].(map[string]any)["command"] = "  " }, field: "credential_source.executable.command"},
		{name: "timeout too short", base: exe, edit: func(m map[string]any) { cs(m)["executable"].(map[string]any)["timeout_millis"] = 4999 }, field: "credential_source.executable.timeout_millis"},
		{name: "timeout too long", base: exe, edit: func(m map[string]any) { cs(m)["executable"].(map[string]any)["timeout_millis"] = 120001 }, field: "credential_source.executable.timeout_millis"},
		{name: "timeout not integer", base: exe, edit: func(m map[string]any) { cs(m)["executable"].(map[string]any)["timeout_millis"] = "soon" }, field: "credential_source.executable.timeout_millis"},
		{name: "interactive timeout too short", base: exe, edit: func(m map[string]any) {
			cs(m)["executable"].(map[string]any)["interactive_timeout_millis"] = 1000
		}, field: "credential_source.executable.interactive_timeout_millis"},
		{name: "executable with access token type", base: exe, edit: func(m map[string]any) { m["subject_token_type"] = sts.TokenTypeAccessToken }, field: "subject_token_type"},
		{name: "aws version 2", base: aws, edit: func(m map[string]any) { cs(m)["environment_id"] = "aws2" }, field: "credential_source.environment_id"},
		{name: "azure environment", base: aws, edit: func(m map[string]any) { cs(m)["environment_id"] = "azure1" }, field: "credential_source.environment_id"},
		{name: "aws with jwt type", base: aws, edit: func(m map[string]any) { m["subject_token_type"] = sts.TokenTypeJWT }, field: "subject_token_type"},
		{name: "aws4 type on file", base: oidc, edit: func(m map[string]any) { m["subject_token_type"] = sts.TokenTypeAWS4Request }, field: "subject_token_type"},
		{name: "aws http verification url", base: aws, edit: func(m map[string]any) {
			cs(m)["regional_cred_verification_url"] = "http://sts.{region}.amazonaws.com?Action=GetCallerIdentity"
		}, field: "credential_source.regional_cred_verification_url"},
		{name: "aws plain http region url", base: aws, edit: func(m map[string]any) { cs(m)["region_url"] = "http://metadata.example.com/zone" }, field: "credential_source.region_url"},
		{name: "aws no region source", base: aws, edit: func(m map[string]any) { delete(cs(m), "region_url") }, field: "credential_source.region_url"},
		{name: "certificate neither", base: x509, edit: func(m map[string]any) { cs(m)["certificate"] = map[string]any{"trust_chain_path": "/x"} }, field: "credential_source.certificate.certificate_config_location"},
		{name: "certificate both", base: x509, edit: func(m map[string]any) {
			cs(m)["certificate"].(map[string]any)["use_default_certificate_config"] = true
		}, field: "credential_source.certificate.use_default_certificate_config"},
		{name: "certificate with jwt type", base: x509, edit: func(m map[string]any) { m["subject_token_type"] = sts.TokenTypeJWT }, field: "subject_token_type"},
		{name: "mtls type on file", base: oidc, edit: func(m map[string]any) { m["subject_token_type"] = sts.TokenTypeMTLS }, field: "subject_token_type"},
		{name: "au missing refresh_token", base: au, edit: func(m map[string]any) { delete(m, "refresh_token") }, field: "refresh_token"},
		{name: "au missing client_id", base: au, edit: func(m map[string]any) { delete(m, "client_id") }, field: "client_id"},
		{name: "au missing client_secret", base: au, edit: func(m map[string]any) { delete(m, "client_secret") }, field: "client_secret"},
		{name: "au http token_url", base: au, edit: func(m map[string]any) { m["token_url"] = "http://sts.googleapis.com/v1/oauthtoken" }, field: "token_url"},
		{name: "au http revoke_url", base: au, edit: func(m map[string]any) { m["revoke_url"] = "http://sts.googleapis.com/v1/revoke" }, field: "revoke_url"},
		{name: "au workload audience", base: au, edit: func(m map[string]any) {
			m["audience"] = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q"
		}, field: "audience"},
		{name: "au with credential_source", base: au, edit: func(m map[string]any) { m["credential_source"] = map[string]any{"file": "/x"} }, field: "credential_source"},
		{name: "au with impersonation", base: au, edit: func(m map[string]any) {
			m["service_account_impersonation_url"] = "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/a@b.com:generateAccessToken"
		}, field: "service_account_impersonation_url"},
		{name: "au refresh_token number", base: au, edit: func(m map[string]any) { m["refresh_token"] = 12 }, field: "refresh_token"},
	}
	if len(tests) < 40 {
		t.Fatalf("only %d cases", len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.raw)
			if tc.base != nil {
				m := tc.base(t)
				// Every file carries secrets, to check none leaks.
				if m["type"] == TypeExternalAccountAuthorizedUser {
					if _, ok := m["refresh_token"].(string); ok {
						m["refresh_token"] = credSecretRefresh
					}
					if _, ok := m["client_secret"].(string); ok {
						m["client_secret"] = credSecretClient
					}
				}
				tc.edit(m)
				data = encodeMap(t, m)
			}
			c, err := Load(data, Options{Getenv: fixture.EnvMap(nil)})
			if err == nil {
				t.Fatalf("LoadCredentials succeeded: %v", c)
			}
			wantField(t, err, tc.field)
			if !strings.HasPrefix(err.Error(), "sts: ") {
				t.Errorf("error %q lacks the sts: prefix", err)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error leaks a secret: %v", err)
			}
		})
	}
}

func TestLoadCredentialsByteOrderMark(t *testing.T) {
	if _, err := Load(append([]byte("\ufeff"), readTestdata(t, "oidc-file.json")...), Options{}); err != nil {
		t.Errorf("file with a byte order mark: %v", err)
	}
}

func TestLoadCredentialsSyntaxPosition(t *testing.T) {
	_, err := Load([]byte("{\n  \"type\": \"external_account\",\n  \"audience\" \"x\"\n}"), Options{})
	var ve *sts.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(ve.Reason, "line 3, column 14") {
		t.Errorf("error = %v, want line 3, column 14", err)
	}
}

func TestLoadOptionsInvalid(t *testing.T) {
	raw := readTestdata(t, "oidc-file.json")
	for _, tc := range []struct {
		opts  Options
		field string
	}{
		{Options{Scopes: []string{""}}, "credfile.Options.Scopes[0]"},
		{Options{Scopes: []string{}}, "credfile.Options.Scopes"},
		{Options{HTTPOptions: sts.HTTPOptions{Timeout: -1}}, "credfile.Options.Timeout"},
		{Options{HTTPOptions: sts.HTTPOptions{Retry: sts.RetryPolicy{MaxAttempts: -1}}}, "credfile.Options.Retry.MaxAttempts"},
		{Options{Cache: sts.CacheOptions{StaleFraction: 2}}, "credfile.Options.Cache.StaleFraction"},
		{Options{Getenv: fixture.EnvMap(map[string]string{EnvQuotaProject: "a b"})}, EnvQuotaProject},
	} {
		_, err := Load(raw, tc.opts)
		wantField(t, err, tc.field)
	}
}

func TestLoadCredentialsFileAndEnv(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "creds.json")
	if err := os.WriteFile(p, readTestdata(t, "impersonation.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadFile(p, Options{})
	if err != nil || c.ServiceAccount() != "deployer@example-project.iam.gserviceaccount.com" {
		t.Fatalf("LoadCredentialsFile = %v, %v", c, err)
	}
	env := map[string]string{EnvCredentials: p, EnvQuotaProject: "env-quota"}
	c, err = Detect(context.Background(), Options{Getenv: fixture.EnvMap(env)})
	if err != nil || c.QuotaProjectID() != "env-quota" {
		t.Fatalf("LoadCredentialsFromEnv = %v, %v (want quota project from the environment)", c, err)
	}
	_, err = Detect(context.Background(), Options{Getenv: fixture.EnvMap(nil), MetadataProbe: -1})
	if !errors.Is(err, ErrNoCredentials) || !strings.Contains(err.Error(), EnvCredentials+" is not set") {
		t.Errorf("nothing to detect: %v", err)
	}
	_, err = LoadFile(filepath.Join(dir, "missing.json"), Options{})
	var se *sts.Error
	if !errors.As(err, &se) || se.Op != "load" || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	_, err = LoadFile("", Options{})
	wantField(t, err, "path")
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, make([]byte, maxFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(big, Options{}); !errors.As(err, &se) {
		t.Errorf("big file: %v", err)
	}
}

func TestCredentialsNoSecrets(t *testing.T) {
	a := decodeMap(t, readTestdata(t, "authorized-user.json"))
	a["refresh_token"] = credSecretRefresh
	a["client_secret"] = credSecretClient
	c, err := Load(encodeMap(t, a), Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := decodeMap(t, readTestdata(t, "workforce.json"))
	m["client_id"], m["client_secret"] = "id", credSecretClient
	delete(m, "workforce_pool_user_project")
	c2, err := Load(encodeMap(t, m), Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{OnRefreshTokenRotated: func(string) {}}
	r := refreshgrant.New(refreshgrant.Config{RefreshToken: credSecretRefresh, ClientID: "id", ClientSecret: credSecretClient})
	for _, s := range []string{
		c.String(), fmt.Sprintf("%v %+v %#v", c, c, c), c2.String(), fmt.Sprintf("%v %#v", c2, c2),
		fmt.Sprintf("%v %+v %#v", *c, *c, *c), fmt.Sprint((*Credentials)(nil)),
		fmt.Sprintf("%v %+v %#v", opts, opts, opts), fmt.Sprintf("%v %+v %#v", r, r, r),
		fmt.Sprint(c.TokenSource()),
	} {
		if strings.Contains(s, "SECRET") {
			t.Errorf("secret leaked: %s", s)
		}
	}
}

// TestJSON: JSON is a copy of the file as loaded; ProjectID is empty for
// files other than service account keys (package googlecreds tests the
// *google.Credentials built from both).
func TestJSON(t *testing.T) {
	raw := readTestdata(t, "impersonation.json")
	c, err := Load(raw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	j := c.JSON()
	if string(j) != string(raw) || c.ProjectID() != "" {
		t.Errorf("JSON %q, ProjectID %q", j, c.ProjectID())
	}
	j[0] = 'X'
	raw[0] = 'X'
	if c.JSON()[0] == 'X' {
		t.Error("JSON is shared")
	}
}

// TestCredentialsHTTPClient checks the Authorization and x-goog-user-project
// headers, and that a 401 drops the cached token.
func TestCredentialsHTTPClient(t *testing.T) {
	f := newCredFixture(t)
	m := f.rewrite(decodeMap(t, readTestdata(t, "impersonation.json")))
	c, err := f.load(t, m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var seen []http.Header
	status := http.StatusOK
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Clone())
		w.WriteHeader(status)
	}))
	defer api.Close()
	hc := c.HTTPClient(api.Client())
	get := func(hdr map[string]string) {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, api.URL, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get(nil)
	tok, _ := c.TokenSource().Token()
	if got := seen[0].Get("Authorization"); got != "Bearer "+tok.AccessToken {
		t.Errorf("Authorization = %q", got)
	}
	if got := seen[0].Get("X-Goog-User-Project"); got != "example-project" {
		t.Errorf("x-goog-user-project = %q", got)
	}
	get(map[string]string{"X-Goog-User-Project": "caller-choice"})
	if got := seen[1].Get("X-Goog-User-Project"); got != "caller-choice" {
		t.Errorf("explicit x-goog-user-project replaced: %q", got)
	}
	status = http.StatusUnauthorized
	get(nil)
	status = http.StatusOK
	get(nil)
	if seen[3].Get("Authorization") == seen[2].Get("Authorization") {
		t.Errorf("token not refreshed after a 401")
	}
	// A failing source fails the request with the source's error.
	failing, err := sts.NewCachedTokenSource(failingSource{}, sts.CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bad := (&Credentials{ts: failing}).HTTPClient(nil)
	var se *sts.Error
	if resp, err := bad.Get(api.URL); err == nil {
		resp.Body.Close()
		t.Error("a request with a failing source succeeded")
	} else if !errors.As(err, &se) || se.Op != "token" || !strings.Contains(err.Error(), "boom") {
		t.Errorf("failing source: %v", err)
	}
}

// TestCredentialsHTTPClientRedirect: the client of a credential file drops
// the token on a redirect to another origin too.
func TestCredentialsHTTPClientRedirect(t *testing.T) {
	f := newCredFixture(t)
	c, err := f.load(t, f.rewrite(decodeMap(t, readTestdata(t, "impersonation.json"))), Options{})
	if err != nil {
		t.Fatal(err)
	}
	type seen struct{ auth, quota string }
	var mu sync.Mutex
	var got []seen
	record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.Header.Get("Authorization"), r.Header.Get("X-Goog-User-Project")})
		mu.Unlock()
		if q := r.URL.Query(); q.Get("to") != "" {
			code := http.StatusFound
			fmt.Sscan(q.Get("code"), &code)
			http.Redirect(w, r, q.Get("to"), code)
		}
	})
	a := httptest.NewServer(record)
	defer a.Close()
	b := httptest.NewServer(record)
	defer b.Close()
	for _, code := range []int{302, 307, 308} {
		mu.Lock()
		got = nil
		mu.Unlock()
		resp, err := c.HTTPClient(nil).Get(fmt.Sprintf("%s/redirect?code=%d&to=%s", a.URL, code, b.URL+"/ok"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		mu.Lock()
		if len(got) != 2 || !strings.HasPrefix(got[0].auth, "Bearer ") || got[1].auth != "" {
			t.Errorf("%d: %+v", code, got)
		} else if got[1].quota != "example-project" {
			t.Errorf("%d: x-goog-user-project %q after the redirect", code, got[1].quota)
		}
		mu.Unlock()
	}
}

type failingSource struct{}

func (failingSource) Token() (*oauth2.Token, error) { return nil, errors.New("boom") }

// TestLoadWorkforceClientID checks that a workforce file with a client ID
// authenticates the exchange with Basic auth and sends no userProject.
func TestLoadWorkforceClientID(t *testing.T) {
	f := newCredFixture(t)
	f.emu = ststest.NewServer(ststest.Options{ClientID: "wf-client", ClientSecret: credSecretClient, RequireClientAuth: true})
	t.Cleanup(f.emu.Close)
	m := f.rewrite(decodeMap(t, readTestdata(t, "workforce.json")))
	m["client_id"], m["client_secret"] = "wf-client", credSecretClient
	c, err := f.load(t, m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.TokenSource().Token()
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := f.emu.Lookup(tok.AccessToken); info.UserProject != "" {
		t.Errorf("userProject %q sent with a client ID", info.UserProject)
	}
	ex := fixture.LastRequest(t, f.emu, "/v1/token")
	if id, secret, ok := basicAuthOf(ex.Header); !ok || id != "wf-client" || secret != credSecretClient {
		t.Error("exchange not authenticated with the file's client")
	}
}

// TestLoadImpersonatedEmailReachesProvider checks the subject provider is
// told which service account will be impersonated: the executable prints
// its token only when GOOGLE_EXTERNAL_ACCOUNT_IMPERSONATED_EMAIL names it.
func TestLoadImpersonatedEmailReachesProvider(t *testing.T) {
	const sa = "deployer@example-project.iam.gserviceaccount.com"
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	argv := fixture.ExecHelper(t, "check-env", sa)
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = executable.QuoteArg(a)
	}
	m := map[string]any{
		"type":                              "external_account",
		"audience":                          fixture.ExecAud,
		"subject_token_type":                sts.TokenTypeIDToken,
		"token_url":                         emu.TokenURL(),
		"service_account_impersonation_url": emu.ImpersonationURL(sa),
		"credential_source":                 map[string]any{"executable": map[string]any{"command": strings.Join(quoted, " ")}},
	}
	c, err := Load(encodeMap(t, m), Options{HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()}, Getenv: fixture.AllowExecutables})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.TokenSource().Token()
	if err != nil {
		t.Fatalf("the executable did not see the impersonated e-mail: %v", err)
	}
	if info, _ := emu.Lookup(tok.AccessToken); info.Kind != "impersonated" || info.Subject != sa {
		t.Errorf("token %+v", info)
	}
}

// TestCredentialLogsHoldNoSecrets runs impersonation and a rotating refresh
// with debug logging and checks no token or secret is logged.
func TestCredentialLogsHoldNoSecrets(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))

	f := newCredFixture(t)
	m := f.rewrite(decodeMap(t, readTestdata(t, "impersonation.json")))
	c, err := f.load(t, m, Options{HTTPOptions: sts.HTTPOptions{Logger: logger}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.TokenSource().Token()
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{tok.AccessToken, f.subject, "ststest-at-", "ststest-rt-"}

	emu := newOAuthEmulator(t)
	emu.SetRefreshTokenRotation(true)
	ac, err := Load(encodeMap(t, authorizedUserFile(t, emu)), Options{HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client(), Logger: logger}})
	if err != nil {
		t.Fatal(err)
	}
	atok, err := ac.TokenSource().Token()
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, atok.AccessToken, testRefreshToken, testClientSecret)
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "refresh token rotated") || !strings.Contains(out, "impersonate") {
		t.Errorf("expected rotation and impersonation events in the log:\n%s", out)
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("log holds a secret (%.12s…):\n%s", s, out)
		}
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestCredentialsAccessorsAndDetect: what a loaded file reports, and
// Detect's environment step.
func TestCredentialsAccessorsAndDetect(t *testing.T) {
	raw := readTestdata(t, "workforce.json")
	path := filepath.Join(t.TempDir(), "credentials.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	env := fixture.EnvMap(map[string]string{EnvCredentials: path})
	c, err := Detect(context.Background(), Options{Getenv: env})
	if err != nil {
		t.Fatal(err)
	}
	m := decodeMap(t, raw)
	if c.Type() != TypeExternalAccount || c.Audience() != m["audience"] || c.GoString() != c.String() || !strings.HasPrefix(c.String(), "credfile.Credentials{") {
		t.Errorf("accessors: %q %q %q", c.Type(), c.Audience(), c.GoString())
	}
	for _, verb := range []string{"%d", "%x", "%q", "%+v", "%#v", "%s", "%v"} {
		if got := fmt.Sprintf(verb, *c); got != c.String() {
			t.Errorf("%s prints %q", verb, got)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var se *sts.Error
	if _, err := Detect(ctx, Options{Getenv: env}); !errors.As(err, &se) || se.Op != "detect" || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Detect: %v", err)
	}
	_, err = Detect(context.Background(), Options{Getenv: fixture.EnvMap(nil), MetadataProbe: -1})
	if !errors.As(err, &se) || se.Op != "detect" || !errors.Is(err, ErrNoCredentials) {
		t.Errorf("nothing to detect: %v", err)
	}
}

// TestDecodePositions: trailing data after the object is refused, and
// positions stay within the document.
func TestDecodePositions(t *testing.T) {
	for _, doc := range []string{`{"type":"external_account"} ]`, `{"type":"external_account"}}`} {
		_, err := decodeFile([]byte(doc))
		var ve *sts.ValidationError
		if !errors.As(err, &ve) || ve.Field != "credentials JSON" || !strings.Contains(ve.Reason, "unexpected data after the object") {
			t.Errorf("%s: %v", doc, err)
		}
	}
	data := []byte("ab\ncd")
	for _, tc := range []struct {
		off       int64
		line, col int
	}{{-5, 1, 1}, {0, 1, 1}, {4, 2, 2}, {99, 2, 3}} {
		if line, col := textPosition(data, tc.off); line != tc.line || col != tc.col {
			t.Errorf("textPosition(%d) = %d:%d, want %d:%d", tc.off, line, col, tc.line, tc.col)
		}
	}
}
