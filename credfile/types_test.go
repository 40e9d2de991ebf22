package credfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/ststest"
)

const (
	googleRefresh = "1//SECRET-google-refresh-5d1"
	googleSecret  = "SECRET-google-client-secret-3a"
	robotEmail    = "robot@demo-project.iam.gserviceaccount.com"
)

// serviceAccountDoc returns a service_account key file whose grants go to
// tokenURI ("" leaves token_uri out).
func serviceAccountDoc(t *testing.T, tokenURI string) string {
	t.Helper()
	m := map[string]string{
		"type": "service_account", "project_id": "demo-project", "private_key_id": "kid-1",
		"private_key":  fixture.RSAKeyPEM(),
		"client_email": robotEmail, "client_id": "1234567890",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"client_x509_cert_url":        "https://www.googleapis.com/robot/v1/metadata/x509/robot",
		"universe_domain":             "googleapis.com",
	}
	if tokenURI != "" {
		m["token_uri"] = tokenURI
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// googleOAuth plays oauth2.googleapis.com/token: the refresh_token grant of
// the test client, and JWT-bearer grants signed with the test key.
type googleOAuth struct {
	*httptest.Server
	grants atomic.Int32
	scope  atomic.Value // string: the last JWT's scope claim
	fail   atomic.Bool  // answer invalid_grant
}

func newGoogleOAuth(t *testing.T) *googleOAuth {
	g := &googleOAuth{}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/token" || r.ParseForm() != nil {
			w.WriteHeader(404)
			return
		}
		n := g.grants.Add(1)
		ok := false
		switch r.PostForm.Get("grant_type") {
		case "refresh_token":
			ok = r.PostForm.Get("refresh_token") == googleRefresh && r.PostForm.Get("client_id") == "user-client" && r.PostForm.Get("client_secret") == googleSecret
		case "urn:ietf:params:oauth:grant-type:jwt-bearer":
			claims, err := verifyAssertion(r.PostForm.Get("assertion"))
			ok = err == nil && claims["iss"] == robotEmail && claims["aud"] == g.URL+"/token"
			if ok {
				g.scope.Store(fmt.Sprint(claims["scope"]))
			}
		}
		if !ok || g.fail.Load() {
			w.WriteHeader(400)
			io.WriteString(w, `{"error":"invalid_grant","error_description":"Invalid grant: account not found"}`)
			return
		}
		fmt.Fprintf(w, `{"access_token":"ya29.google-%d","expires_in":3599,"token_type":"Bearer"}`, n)
	}))
	t.Cleanup(g.Close)
	return g
}

func verifyAssertion(a string) (map[string]any, error) { return fixture.VerifyAssertion(a) }

func userDoc(tokenURI string) string {
	m := map[string]string{"type": "authorized_user", "client_id": "user-client", "client_secret": googleSecret,
		"refresh_token": googleRefresh, "account": "", "quota_project_id": "user-quota", "universe_domain": "googleapis.com"}
	if tokenURI != "" {
		m["token_uri"] = tokenURI
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// TestServiceAccountFile: a service account key gets tokens through a
// JWT-bearer grant at its token_uri, behind the module's cache, with the
// module's errors.
func TestServiceAccountFile(t *testing.T) {
	g := newGoogleOAuth(t)
	path := writeDoc(t, serviceAccountDoc(t, g.URL+"/token"))
	c, err := LoadFile(path, Options{Scopes: []string{"https://www.googleapis.com/auth/devstorage.read_only"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Type() != TypeServiceAccount || c.ServiceAccount() != robotEmail || c.TokenURL() != g.URL+"/token" || c.Path() != path || c.Origin() != FromCaller {
		t.Errorf("%v: type %q account %q url %q path %q origin %v", c, c.Type(), c.ServiceAccount(), c.TokenURL(), c.Path(), c.Origin())
	}
	for range 3 {
		tok, err := c.TokenSource().Token()
		if err != nil || tok.AccessToken != "ya29.google-1" || time.Until(tok.Expiry) < 59*time.Minute {
			t.Fatalf("token %+v, %v", tok, err)
		}
	}
	if g.grants.Load() != 1 || g.scope.Load() != "https://www.googleapis.com/auth/devstorage.read_only" {
		t.Errorf("%d grants, scope %v (want one grant, cached)", g.grants.Load(), g.scope.Load())
	}
	if c.ProjectID() != "demo-project" {
		t.Errorf("ProjectID %q", c.ProjectID())
	}

	// A refused grant is an *sts.Error naming the request.
	g.fail.Store(true)
	c2, _ := Load([]byte(serviceAccountDoc(t, g.URL+"/token")), Options{})
	_, err = c2.TokenSource().Token()
	var se *sts.Error
	if !errors.As(err, &se) || se.Code != "invalid_grant" || se.URL != g.URL+"/token" || se.Temporary() {
		t.Errorf("refused grant: %v", err)
	}
	for _, s := range []string{"PRIVATE KEY", "MII"} {
		if strings.Contains(fmt.Sprintf("%v %+v %#v", c2, c2, err), s) {
			t.Errorf("output shows %q", s)
		}
	}

	// Checked at load: the key, the e-mail, fields of other types.
	for _, tc := range []struct {
		edit  func(m map[string]any)
		field string
	}{
		{func(m map[string]any) {
			m["private_key"] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
		}, "private_key"},
		{func(m map[string]any) { delete(m, "private_key") }, "private_key"},
		{func(m map[string]any) { m["client_email"] = "" }, "client_email"},
		{func(m map[string]any) { m["token_url"] = "https://sts.googleapis.com/v1/token" }, "token_url"},
		{func(m map[string]any) { m["credential_source"] = map[string]any{"file": "/x"} }, "credential_source"},
		{func(m map[string]any) { m["token_uri"] = "https://evil.example/token" }, "token_uri"},
	} {
		m := decodeMap(t, []byte(serviceAccountDoc(t, g.URL+"/token")))
		tc.edit(m)
		_, err := Load(encodeMap(t, m), Options{})
		wantField(t, err, tc.field)
		if err != nil && strings.Contains(err.Error(), "AAAA") {
			t.Errorf("error quotes the key: %v", err)
		}
	}
	if c, err := Load([]byte(serviceAccountDoc(t, "")), Options{}); err != nil || c.TokenURL() != "https://oauth2.googleapis.com/token" {
		t.Errorf("default token_uri: %v %v", c, err)
	}
}

// TestAuthorizedUserFile: gcloud's application default credentials of a
// Google user refresh at Google's OAuth endpoint through x/oauth2.
func TestAuthorizedUserFile(t *testing.T) {
	g := newGoogleOAuth(t)
	c, err := Load([]byte(userDoc(g.URL+"/token")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.TokenSource().Token()
	if err != nil || tok.AccessToken != "ya29.google-1" || c.Type() != TypeAuthorizedUser || c.QuotaProjectID() != "user-quota" {
		t.Fatalf("token %+v, %v (%v)", tok, err, c)
	}
	if s := fmt.Sprintf("%v %+v %#v %d", c, c, c, c); strings.Contains(s, googleRefresh) || strings.Contains(s, googleSecret) {
		t.Errorf("secrets printed: %s", s)
	}
	// STS does not introspect Google's tokens with these client
	// credentials: they are not sent there.
	if o := c.IntrospectOptions(); o.ClientID != "" || o.ClientSecret != "" {
		t.Errorf("introspection options carry the OAuth client: %+v", o.URL)
	}
	if c, err := Load([]byte(userDoc("")), Options{}); err != nil || c.TokenURL() != "https://oauth2.googleapis.com/token" {
		t.Errorf("default token_uri: %v %v", c, err)
	}
	m := decodeMap(t, []byte(userDoc(g.URL+"/token")))
	m["refresh_token"] = "1//SECRET-revoked"
	c, _ = Load(encodeMap(t, m), Options{})
	_, err = c.TokenSource().Token()
	var se *sts.Error
	if !errors.As(err, &se) || se.Code != "invalid_grant" || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("revoked: %v", err)
	}
	for _, key := range []string{"client_id", "client_secret", "refresh_token"} {
		m := decodeMap(t, []byte(userDoc("")))
		delete(m, key)
		_, err := Load(encodeMap(t, m), Options{})
		wantField(t, err, key)
	}
}

// fakeIAM plays IAM Credentials' generateAccessToken for callers holding
// a token accepted by caller.
func fakeIAM(t *testing.T, caller func(string) bool) (*httptest.Server, *atomic.Value) {
	var lastBody atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		body, _ := io.ReadAll(r.Body)
		lastBody.Store(string(body))
		if !strings.HasSuffix(r.URL.Path, ":generateAccessToken") || !caller(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")) {
			w.WriteHeader(403)
			io.WriteString(w, `{"error":{"code":403,"message":"denied","status":"PERMISSION_DENIED"}}`)
			return
		}
		fmt.Fprintf(w, `{"accessToken":"ya29.impersonated","expireTime":%q}`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	}))
	t.Cleanup(srv.Close)
	return srv, &lastBody
}

// TestImpersonatedServiceAccount: gcloud's impersonated_service_account
// files impersonate over any source: an external account (which still
// exchanges at STS, cached on its own), a Google user, a service account.
func TestImpersonatedServiceAccount(t *testing.T) {
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	dir := t.TempDir()
	subject := filepath.Join(dir, "subject.jwt")
	if err := os.WriteFile(subject, []byte(testSubjectJWT), 0o600); err != nil {
		t.Fatal(err)
	}
	external := doc(hType, hAud, hSubject, `"token_url":"`+emu.TokenURL()+`"`, `"credential_source":{"file":"`+subject+`"}`)
	imp := func(url, source string, delegates ...string) string {
		d, _ := json.Marshal(delegates)
		return doc(`"type":"impersonated_service_account"`, `"service_account_impersonation_url":"`+url+`"`,
			`"delegates":`+string(d), `"quota_project_id":"imp-quota"`, `"source_credentials":`+source)
	}

	t.Run("external account source", func(t *testing.T) {
		c, err := Load([]byte(imp(emu.ImpersonationURL(robotEmail), external)), Options{
			Scopes: []string{"https://www.googleapis.com/auth/bigquery"}, HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()}})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := c.TokenSource().Token()
		if err != nil {
			t.Fatal(err)
		}
		info, ok := emu.Lookup(tok.AccessToken)
		if !ok || info.Kind != "impersonated" || info.Subject != robotEmail || fmt.Sprint(info.Scopes) != "[https://www.googleapis.com/auth/bigquery]" {
			t.Errorf("issued %t %+v", ok, info)
		}
		if c.Type() != TypeImpersonatedServiceAccount || c.ServiceAccount() != robotEmail || c.QuotaProjectID() != "imp-quota" || c.Audience() == "" {
			t.Errorf("%v", c)
		}
		// The STS exchange happened once, with cloud-platform scope.
		var exchanges int
		for _, r := range emu.Requests() {
			if r.Path == "/v1/token" {
				exchanges++
			}
		}
		if exchanges != 1 {
			t.Errorf("%d exchanges", exchanges)
		}
	})

	t.Run("google user and service account sources", func(t *testing.T) {
		g := newGoogleOAuth(t)
		iam, body := fakeIAM(t, func(tok string) bool { return strings.HasPrefix(tok, "ya29.google-") })
		url := iam.URL + "/v1/projects/-/serviceAccounts/" + robotEmail + ":generateAccessToken"
		for name, source := range map[string]string{"user": userDoc(g.URL + "/token"), "service account": serviceAccountDoc(t, g.URL+"/token")} {
			c, err := Load([]byte(imp(url, source, "projects/-/serviceAccounts/hop@demo-project.iam.gserviceaccount.com")), Options{})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			tok, err := c.TokenSource().Token()
			if err != nil || tok.AccessToken != "ya29.impersonated" {
				t.Fatalf("%s: %+v %v", name, tok, err)
			}
			if b := body.Load().(string); !strings.Contains(b, `"delegates":["projects/-/serviceAccounts/hop@demo-project.iam.gserviceaccount.com"]`) {
				t.Errorf("%s: body %s", name, b)
			}
		}
	})

	t.Run("refusals", func(t *testing.T) {
		url := emu.ImpersonationURL(robotEmail)
		noAud := doc(hType, hSubject, `"token_url":"`+emu.TokenURL()+`"`, `"credential_source":{"file":"/x"}`)
		deep := external
		for range maxDepth + 1 {
			deep = imp(url, deep)
		}
		if _, err := Load([]byte(imp(url, imp(url, imp(url, external)))), Options{}); err != nil {
			t.Errorf("a chain of three impersonations: %v", err)
		}
		for _, tc := range []struct{ content, field string }{
			{imp(url, noAud), "source_credentials.audience"},
			{imp(url, `{"type":"gdch_service_account"}`), "source_credentials.type"},
			{imp(url, `"not an object"`), "source_credentials"},
			{doc(`"type":"impersonated_service_account"`, `"service_account_impersonation_url":"`+url+`"`), "source_credentials"},
			{doc(`"type":"impersonated_service_account"`, `"source_credentials":`+external), "service_account_impersonation_url"},
			{imp("https://iamcredentials.googleapis.com/v1/whatever", external), "service_account_impersonation_url"},
			{imp(url, external, "not an email/"), "delegates[0]"},
			{imp(url, external)[:len(imp(url, external))-1] + `,"credential_source":{"file":"/x"}}`, "credential_source"},
			{deep, strings.Repeat("source_credentials.", maxDepth) + "source_credentials"},
		} {
			_, err := Load([]byte(tc.content), Options{})
			wantField(t, err, tc.field)
		}
	})
}

// TestUnsupportedTypeListsSupported: a type nobody supports is refused
// with the list of those that are.
func TestUnsupportedTypeListsSupported(t *testing.T) {
	for _, typ := range []string{"gdch_service_account", "external_acount", "SERVICE_ACCOUNT"} {
		_, err := Load([]byte(doc(`"type":"`+typ+`"`)), Options{})
		wantField(t, err, "type")
		want := "supported types: external_account, external_account_authorized_user, impersonated_service_account, service_account, authorized_user"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", typ, err)
		}
	}
	_, err := Load([]byte(`{}`), Options{})
	if err == nil || !strings.Contains(err.Error(), "supported types:") {
		t.Errorf("no type: %v", err)
	}
}
