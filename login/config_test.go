package login

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/check"
)

// gcloudLoginConfig is what "gcloud iam workforce-pools create-login-config"
// writes.
const gcloudLoginConfig = `{
  "universe_domain": "googleapis.com",
  "universe_cloud_web_domain": "cloud.google",
  "type": "external_account_authorized_user_login_config",
  "audience": "//iam.googleapis.com/locations/global/workforcePools/wf-pool/providers/wf-prov",
  "auth_url": "https://auth.cloud.google/authorize",
  "token_url": "https://sts.googleapis.com/v1/oauthtoken",
  "token_info_url": "https://sts.googleapis.com/v1/introspect"
}`

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(gcloudLoginConfig))
	if err != nil {
		t.Fatal(err)
	}
	if c.Audience != loginAud || c.AuthURL != DefaultAuthURL || c.TokenURL != "https://sts.googleapis.com/v1/oauthtoken" ||
		c.TokenInfoURL != "https://sts.googleapis.com/v1/introspect" || c.UniverseDomain != "googleapis.com" {
		t.Errorf("got %v", c)
	}
	c, err = ParseConfig([]byte(`{"type":"external_account_authorized_user_login_config",
		"audience":"//iam.example.goog/locations/global/workforcePools/p/providers/q",
		"universe_domain":"example.goog","universe_cloud_web_domain":"cloud.example"}`))
	if err != nil || c.AuthURL != "https://auth.cloud.example/authorize" || c.TokenURL != "" {
		t.Errorf("derived: %v, %v", c, err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct{ body, field string }{
		{``, "login configuration"},
		{`[]`, "login configuration"},
		{`null`, "login configuration"},
		{`{"type":`, "login configuration"},
		{`{"audience":"` + loginAud + `"}`, "type"},
		{`{"type":"external_account_authorized_user","audience":"` + loginAud + `"}`, "type"},
		{`{"type":7}`, "type"},
		{`{"type":"external_account_authorized_user_login_config"}`, "audience"},
		{`{"type":"external_account_authorized_user_login_config","audience":"//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q"}`, "audience"},
		{`{"type":"external_account_authorized_user_login_config","audience":"` + loginAud + `","auth_url":"http://evil.example/authorize"}`, "auth_url"},
		{`{"type":"external_account_authorized_user_login_config","audience":"` + loginAud + `","token_url":"ftp://x/"}`, "token_url"},
		{`{"type":"external_account_authorized_user_login_config","audience":"` + loginAud + `","token_info_url":["x"]}`, "token_info_url"},
		{`{"type":"external_account_authorized_user_login_config","audience":"` + loginAud + `","universe_domain":"a b"}`, "universe_domain"},
		{`{"type":"external_account_authorized_user_login_config","audience":"` + loginAud + `","universe_cloud_web_domain":"/x"}`, "universe_cloud_web_domain"},
	} {
		_, err := ParseConfig([]byte(tc.body))
		var ve *sts.ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("%s: got %v, want field %q", tc.body, err, tc.field)
		}
	}
}

func TestReadConfigFileAndRun(t *testing.T) {
	srv := newLoginServer(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "login-config.json")
	body := strings.NewReplacer(
		"https://auth.cloud.google/authorize", srv.AuthorizeURL(),
		"https://sts.googleapis.com/v1/oauthtoken", srv.OAuthTokenURL(),
		"https://sts.googleapis.com/v1/introspect", srv.IntrospectURL(),
	).Replace(gcloudLoginConfig)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := ReadConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ClientID, cfg.ClientSecret = loginClientID, loginSecret
	cfg.OpenURL, _ = browser(t, http.DefaultClient)
	cfg.HTTPClient = srv.Client()
	res, err := Run(context.Background(), *cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(res.CredentialsJSON()), srv.IntrospectURL()) {
		t.Errorf("file %s", res.CredentialsJSON())
	}

	var ve *sts.ValidationError
	if _, err := ReadConfigFile(""); !errors.As(err, &ve) {
		t.Errorf("empty path: %v", err)
	}
	var se *sts.Error
	if _, err := ReadConfigFile(filepath.Join(dir, "missing.json")); !errors.As(err, &se) || se.Op != "load" {
		t.Errorf("missing: %v", err)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(gcloudLoginConfig))
	f.Add([]byte(`{"type":"external_account_authorized_user_login_config","audience":"//iam.x.goog/locations/global/workforcePools/p/providers/q","universe_cloud_web_domain":"cloud.x"}`))
	f.Add([]byte(`{"type":"external_account_authorized_user_login_config","audience":7}`))
	f.Add([]byte(`{"type":null}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			var ve *sts.ValidationError
			if c != nil || !errors.As(err, &ve) || ve.Field == "" {
				t.Fatalf("got %v, %v", c, err)
			}
			return
		}
		if c.Audience == "" || !check.WorkforceAudience(c.Audience, "") {
			t.Fatalf("accepted audience %q", c.Audience)
		}
		for _, u := range []string{c.AuthURL, c.TokenURL, c.TokenInfoURL} {
			if u != "" && verr(check.Endpoint("u", u)) != nil {
				t.Fatalf("accepted endpoint %q", u)
			}
		}
	})
}
