package credfile

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/fixture"
)

// Parts of the documents below.
const (
	hAud     = `"audience":"//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x"`
	hType    = `"type":"external_account"`
	hSubject = `"subject_token_type":"urn:ietf:params:oauth:token-type:jwt"`
	hSource  = `"credential_source":{"file":"/var/run/token"}`
	hGoogle  = `"token_url":"https://sts.googleapis.com/v1/token"`
	hEvil    = `"token_url":"https://sts.evil.example/v1/token"`
)

func doc(parts ...string) string { return "{" + strings.Join(parts, ",") + "}" }

// writeDoc writes a credential file and returns its path.
func writeDoc(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "creds.json")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLookAlikeKeysRefused (issue 14, class 7): a file in which a reader
// sees one value and a decoder could use another is refused, naming the
// key, at every level. Before, each of these loaded, encoding/json filling
// the field from a case or Unicode-folding variant, or from the last of
// duplicates (the token going to sts.evil.example in the first ones).
func TestLookAlikeKeysRefused(t *testing.T) {
	imp := `"service_account_impersonation_url":"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken"`
	for _, tc := range []struct {
		name, content, field, reason string
	}{
		{"duplicate", doc(hType, hAud, hSubject, hGoogle, hSource, hEvil), "token_url", "duplicate key"},
		{"escaped duplicate", doc(hType, hAud, hSubject, hGoogle, hSource, `"\u0074oken_url":"https://sts.evil.example/v1/token"`), "token_url", "duplicate key"},
		{"another case", doc(hType, hAud, hSubject, hSource, `"Token_URL":"https://sts.evil.example/v1/token"`), "Token_URL", `differs from "token_url" only in case`},
		{"both cases", doc(hType, hAud, hSubject, hGoogle, hSource, `"TOKEN_URL":"https://sts.evil.example/v1/token"`), "TOKEN_URL", "differ only in case"},
		{"kelvin sign", doc(hType, hAud, hSubject, hGoogle, hSource, `"to\u212aen_url":"https://sts.evil.example/v1/token"`), "to\u212aen_url", `'\u212a'`},
		{"long s", doc(hType, hAud, hSource, hGoogle, `"\u017fubject_token_type":"urn:ietf:params:oauth:token-type:jwt"`), "\u017fubject_token_type", "outside printable ASCII"},
		{"cyrillic o", doc(hType, hAud, hSubject, hGoogle, hSource, `"t\u043eken_url":"https://sts.evil.example/v1/token"`), "t\u043eken_url", `'\u043e'`},
		{"fullwidth", doc(hType, hAud, hSubject, hGoogle, hSource, `"\uff54oken_url":"x"`), "\uff54oken_url", "outside printable ASCII"},
		{"zero width", doc(hType, hAud, hSubject, hGoogle, hSource, `"token_url\u200d":"x"`), "token_url\u200d", "outside printable ASCII"},
		{"trailing space", doc(hType, hAud, hSubject, hGoogle, hSource, `"token_url ":"x"`), "token_url ", "outside printable ASCII"},
		{"digit one", doc(hType, hAud, hSubject, hGoogle, hSource, `"token_ur1":"https://sts.googleapis.com/v1/token"`), "token_ur1", `looks like "token_url"`},
		{"source duplicate", doc(hType, hAud, hSubject, hGoogle, `"credential_source":{"file":"/a","file":"/b"}`), "credential_source.file", "duplicate key"},
		{"source case", doc(hType, hAud, hSubject, hGoogle, `"credential_source":{"file":"/a","File":"/b"}`), "credential_source.File", "differ only in case"},
		{"format case", doc(hType, hAud, hSubject, hGoogle, `"credential_source":{"file":"/a","format":{"type":"json","Subject_Token_Field_Name":"x"}}`), "credential_source.format.Subject_Token_Field_Name", "only in case"},
		{"executable case", doc(hType, hAud, hSubject, hGoogle, `"credential_source":{"executable":{"command":"/bin/a","Command":"/bin/b"}}`), "credential_source.executable.Command", "differ only in case"},
		{"certificate case", doc(hType, hAud, `"subject_token_type":"urn:ietf:params:oauth:token-type:mtls"`, hGoogle, `"credential_source":{"certificate":{"Use_Default_Certificate_Config":true}}`), "credential_source.certificate.Use_Default_Certificate_Config", "only in case"},
		{"header duplicate", doc(hType, hAud, hSubject, hGoogle, `"credential_source":{"url":"http://169.254.169.254/t","headers":{"Metadata":"True","Metadata":"False"}}`), "credential_source.headers.Metadata", "duplicate key"},
		{"impersonation case", doc(hType, hAud, hSubject, hGoogle, hSource, imp, `"service_account_impersonation":{"token_lifetime_seconds":600,"Token_Lifetime_Seconds":43200}`), "service_account_impersonation.Token_Lifetime_Seconds", "differ only in case"},
		{"nested source", doc(`"type":"impersonated_service_account"`, imp, `"source_credentials":{`+hType+`,`+hAud+`,`+hSubject+`,`+hSource+`,"Token_Url":"https://sts.evil.example/v1/token"}`), "source_credentials.Token_Url", "only in case"},
		{"unknown member's keys", doc(hType, hAud, hSubject, hGoogle, hSource, `"x-note":{"a":1,"A":2}`), "x-note.A", "differ only in case"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeDoc(t, tc.content)
			_, err := LoadFile(path, Options{})
			var ve *sts.ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field || !strings.Contains(ve.Reason, tc.reason) {
				t.Fatalf("err = %v, want %q: …%s…", err, tc.field, tc.reason)
			}
			if want := `sts: credential file "` + path + `": invalid `; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start with %q", err, want)
			}
		})
	}
	// encoding/json alone would have taken the later value.
	var naive struct {
		TokenURL string `json:"token_url"`
	}
	if json.Unmarshal([]byte(doc(hType, hGoogle, `"TOKEN_URL":"https://sts.evil.example/v1/token"`)), &naive); naive.TokenURL != "https://sts.evil.example/v1/token" {
		t.Errorf("encoding/json took %q", naive.TokenURL)
	}
}

// TestEndpointsOnlyToGoogle (issue 14, class 8): every URL a file sends
// credentials to must be a Google endpoint of the caller's universe,
// loopback, or a host the caller allows; the file cannot choose the
// universe. Before, any https host was accepted.
func TestEndpointsOnlyToGoogle(t *testing.T) {
	const saURL = "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken"
	ext := func(kv ...string) string { return doc(append([]string{hType, hAud, hSubject, hSource}, kv...)...) }
	user := func(kv ...string) string {
		return doc(append([]string{`"type":"external_account_authorized_user"`, `"refresh_token":"r"`, `"client_id":"c"`, `"client_secret":"s"`}, kv...)...)
	}
	for _, tc := range []struct {
		name, content, field string
	}{
		{"token_url", ext(hEvil), "token_url"},
		{"token_url suffix trick", ext(`"token_url":"https://sts.googleapis.com.evil.example/v1/token"`), "token_url"},
		{"token_url dash trick", ext(`"token_url":"https://sts-googleapis.com/v1/token"`), "token_url"},
		{"token_url IDN dot", ext(`"token_url":"https://evil\u3002sts.googleapis.com/v1/token"`), "token_url"},
		{"token_url other service", ext(`"token_url":"https://storage.googleapis.com/v1/token"`), "token_url"},
		{"token_url IP", ext(`"token_url":"https://203.0.113.7/v1/token"`), "token_url"},
		{"token_info_url", ext(hGoogle, `"token_info_url":"https://evil.example/v1/introspect"`), "token_info_url"},
		{"impersonation url", ext(hGoogle, `"service_account_impersonation_url":"https://evil.example/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken"`), "service_account_impersonation_url"},
		{"impersonation url on sts", ext(hGoogle, `"service_account_impersonation_url":"https://sts.googleapis.com/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken"`), "service_account_impersonation_url"},
		{"user token_url", user(`"token_url":"https://evil.example/v1/oauthtoken"`), "token_url"},
		{"user revoke_url", user(`"revoke_url":"https://evil.example/v1/revoke"`), "revoke_url"},
		{"user token_info_url", user(`"token_info_url":"https://evil.example/v1/introspect"`), "token_info_url"},
		{"service account token_uri", serviceAccountDoc(t, "https://evil.example/token"), "token_uri"},
		{"authorized_user token_uri", doc(`"type":"authorized_user"`, `"client_id":"c"`, `"client_secret":"s"`, `"refresh_token":"r"`, `"token_uri":"https://evil.example/token"`), "token_uri"},
		{"impersonated url", doc(`"type":"impersonated_service_account"`, `"service_account_impersonation_url":"https://evil.example/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken"`, `"source_credentials":`+ext(hGoogle)), "service_account_impersonation_url"},
		{"impersonated source", doc(`"type":"impersonated_service_account"`, `"service_account_impersonation_url":"`+saURL+`"`, `"source_credentials":`+ext(hEvil)), "source_credentials.token_url"},
		{"universe", ext(`"universe_domain":"evil.example"`), "universe_domain"},
		{"universe with its own endpoint", ext(`"universe_domain":"evil.example"`, `"token_url":"https://sts.evil.example/v1/token"`), "universe_domain"},
		{"headers over plain http", doc(hType, hAud, hSubject, hGoogle, `"credential_source":{"url":"http://idp.example/token","headers":{"Authorization":"Bearer x"}}`), "credential_source.url"},
		{"headers over plain http to a private address", doc(hType, hAud, hSubject, hGoogle, `"credential_source":{"url":"http://10.1.2.3/token","headers":{"Authorization":"Bearer x"}}`), "credential_source.url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(tc.content), Options{})
			wantField(t, err, tc.field)
		})
	}

	// Accepted: Google's documented host forms, loopback, metadata
	// addresses for headers over plain http, and hosts the caller allows.
	for _, tc := range []struct {
		name, content string
		opts          Options
	}{
		{"global", ext(hGoogle), Options{}},
		{"mTLS", ext(`"token_url":"https://sts.mtls.googleapis.com/v1/token"`), Options{}},
		{"locational", ext(`"token_url":"https://us-east1.sts.googleapis.com/v1/token"`), Options{}},
		{"private service connect", ext(`"token_url":"https://sts-corp.p.googleapis.com/v1/token"`,
			`"service_account_impersonation_url":"https://iamcredentials-corp.p.googleapis.com/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken"`), Options{}},
		{"regional endpoint", ext(`"token_url":"https://sts.me-central2.rep.googleapis.com/v1/token"`), Options{}},
		{"loopback", ext(`"token_url":"http://127.0.0.1:8080/v1/token"`), Options{}},
		{"allowed host", ext(hEvil), Options{AllowedHosts: []string{"sts.evil.example"}}},
		{"allowed domain", ext(hEvil), Options{AllowedHosts: []string{"*.evil.example"}}},
		{"caller's universe", ext(`"universe_domain":"example-universe.test"`), Options{UniverseDomain: "example-universe.test"}},
		{"headers over plain http to metadata", doc(hType, hAud, hSubject, hGoogle, `"credential_source":{"url":"http://169.254.169.254/metadata/identity/oauth2/token","headers":{"Metadata":"True"}}`), Options{}},
		{"headers over https", doc(hType, hAud, hSubject, hGoogle, `"credential_source":{"url":"https://idp.example/token","headers":{"Authorization":"Bearer x"}}`), Options{}},
		{"plain http without headers", doc(hType, hAud, hSubject, hGoogle, `"credential_source":{"url":"http://idp.example/token"}`), Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Load([]byte(tc.content), tc.opts); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, bad := range [][]string{{"https://x.example"}, {"*"}, {"x.example:443"}} {
		_, err := Load([]byte(ext(hGoogle)), Options{AllowedHosts: bad})
		wantField(t, err, "credfile.Options.AllowedHosts[0]")
	}
	_, err := Load([]byte(ext(hGoogle)), Options{UniverseDomain: "not a domain"})
	wantField(t, err, "credfile.Options.UniverseDomain")
}

// TestEndpointsFollowTokenURL: endpoints a file leaves out are those next
// to the token_url it gives (a private endpoint, an emulator), not
// sts.googleapis.com.
func TestEndpointsFollowTokenURL(t *testing.T) {
	ext := func(tokenURL string) string {
		return doc(hType, hAud, hSubject, hSource, `"token_url":"`+tokenURL+`"`)
	}
	user := func(tokenURL string) string {
		return doc(`"type":"external_account_authorized_user"`, `"refresh_token":"r"`, `"client_id":"c"`, `"client_secret":"s"`, `"token_url":"`+tokenURL+`"`)
	}
	for _, tc := range []struct {
		content, info, revoke string
	}{
		{ext("https://sts-corp.p.googleapis.com/v1/token"), "https://sts-corp.p.googleapis.com/v1/introspect", ""},
		{ext("http://127.0.0.1:9000/v1/token"), "http://127.0.0.1:9000/v1/introspect", ""},
		{ext("http://127.0.0.1:9000/prefix/v1beta/token"), "http://127.0.0.1:9000/prefix/v1beta/introspect", ""},
		{ext("http://127.0.0.1:9000/custom"), "http://127.0.0.1:9000/v1/introspect", ""},
		{user("https://sts.mtls.googleapis.com/v1/oauthtoken"), "https://sts.mtls.googleapis.com/v1/introspect", "https://sts.mtls.googleapis.com/v1/revoke"},
		{user("http://[::1]:8443/v1/oauthtoken"), "http://[::1]:8443/v1/introspect", "http://[::1]:8443/v1/revoke"},
	} {
		c, err := Load([]byte(tc.content), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if c.TokenInfoURL() != tc.info || c.RevokeURL() != tc.revoke || c.IntrospectOptions().URL != tc.info {
			t.Errorf("%s: TokenInfoURL %q RevokeURL %q, want %q %q", tc.content, c.TokenInfoURL(), c.RevokeURL(), tc.info, tc.revoke)
		}
	}
	// A file that names them keeps its own.
	c, err := Load([]byte(doc(hType, hAud, hSubject, hSource, `"token_url":"http://127.0.0.1:9000/v1/token"`, `"token_info_url":"https://sts.googleapis.com/v1/introspect"`)), Options{})
	if err != nil || c.TokenInfoURL() != "https://sts.googleapis.com/v1/introspect" {
		t.Errorf("explicit token_info_url: %v %v", c, err)
	}
}

// TestDidYouMean: a required key that is missing while the file has an
// unknown key close to it gets a hint; a far one does not.
func TestDidYouMean(t *testing.T) {
	for _, tc := range []struct {
		content, field, want string
	}{
		{doc(hType, hAud, hGoogle, hSource, `"subject_tokn_type":"urn:ietf:params:oauth:token-type:jwt"`), "subject_token_type",
			`; the file has "subject_tokn_type": did you mean "subject_token_type"?`},
		{doc(hType, hAud, hGoogle, hSource, `"subjet_token_typ":"urn:ietf:params:oauth:token-type:jwt"`), "subject_token_type",
			`; the file has "subjet_token_typ": did you mean "subject_token_type"?`},
		{doc(hType, hSubject, hGoogle, hSource, `"audeince":"//iam.googleapis.com/x"`), "audience", `did you mean "audience"?`},
		{doc(hType, hAud, hSubject, hGoogle, `"credential_sorce":{"file":"/a"}`), "credential_source", `did you mean "credential_source"?`},
		{doc(hType, hAud, hSubject, hGoogle, `"credential_source":{"fiel":"/a"}`), "credential_source", `the file has "fiel": did you mean "file"?`},
		{doc(`"tpye":"external_account"`, hAud, hSubject, hGoogle, hSource), "type", `did you mean "type"?`},
	} {
		_, err := Load([]byte(tc.content), Options{})
		var ve *sts.ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field || !strings.HasSuffix(ve.Reason, tc.want) {
			t.Errorf("%s:\n err %v\nwant %s …%s", tc.content, err, tc.field, tc.want)
		}
	}
	_, err := Load([]byte(doc(hType, hAud, hGoogle, hSource, `"something_else":"x"`)), Options{})
	if err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("far key: %v", err)
	}
}

// TestUnknownKeysLoggedAtDebug: keys the package does not use are named at
// debug level (never their values), and not at all above it.
func TestUnknownKeysLoggedAtDebug(t *testing.T) {
	content := doc(hType, hAud, hSubject, hGoogle, `"credential_source":{"file":"/a","fromat":{"type":"json"}}`, `"x-secret-note":"SECRET-value-1"`)
	log, buf := fixture.NewLogger()
	if _, err := Load([]byte(content), Options{HTTPOptions: sts.HTTPOptions{Logger: log}}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "credential_source.fromat") || !strings.Contains(out, "x-secret-note") || strings.Contains(out, "SECRET-value-1") {
		t.Errorf("debug log %q", out)
	}
	var info strings.Builder
	infoLog := slog.New(slog.NewTextHandler(&info, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if _, err := Load([]byte(content), Options{HTTPOptions: sts.HTTPOptions{Logger: infoLog}}); err != nil {
		t.Fatal(err)
	}
	clean, cleanBuf := fixture.NewLogger()
	if _, err := Load([]byte(doc(hType, hAud, hSubject, hGoogle, hSource)), Options{HTTPOptions: sts.HTTPOptions{Logger: clean}}); err != nil {
		t.Fatal(err)
	}
	if info.Len() != 0 || strings.Contains(cleanBuf.String(), "keys") {
		t.Errorf("logged %q at info level, %q for a file without unknown keys", info.String(), cleanBuf.String())
	}
}

// TestFileErrorsNameTheFile: LoadFile's errors about a file's content say
// which file, and still unwrap to the typed error.
func TestFileErrorsNameTheFile(t *testing.T) {
	path := writeDoc(t, doc(hType, hAud, hSubject, hGoogle, `"credential_source":{"file":""}`))
	_, err := LoadFile(path, Options{})
	want := `sts: credential file "` + path + `": invalid credential_source.file: must not be empty`
	var ve *sts.ValidationError
	if err == nil || err.Error() != want || !errors.As(err, &ve) || ve.Field != "credential_source.file" {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	_, err = Detect(context.Background(), Options{Getenv: fixture.EnvMap(map[string]string{EnvCredentials: path})})
	if err == nil || err.Error() != want {
		t.Errorf("Detect: %v", err)
	}
}
