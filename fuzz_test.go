package sts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// relCannedClient answers every request with status, ctype and body.
func relCannedClient(status int, ctype string, body []byte) *http.Client {
	return &http.Client{Transport: relRoundTrip(func(r *http.Request) (*http.Response, error) {
		return relResponse(r, status, ctype, bytes.NewReader(body)), nil
	})}
}

// relCheckTyped fails unless err is an *Error or a *ValidationError whose
// text starts with "sts: ".
func relCheckTyped(t testing.TB, err error) {
	t.Helper()
	var se *Error
	var ve *ValidationError
	if !errors.As(err, &se) && !errors.As(err, &ve) {
		t.Fatalf("untyped error %T: %v", err, err)
	}
	if !strings.HasPrefix(err.Error(), "sts: ") {
		t.Fatalf("error without the sts: prefix: %v", err)
	}
}

// relBodySecret returns a JSON member of a 2xx body that an error must not
// quote: the access token, refresh token or accessToken, if long enough to
// be recognised.
func relBodySecrets(body []byte) []string {
	var j map[string]any
	if json.Unmarshal(body, &j) != nil {
		return nil
	}
	var out []string
	for _, k := range []string{"access_token", "refresh_token", "accessToken", "id_token", "access_boundary_session_key"} {
		if s, ok := j[k].(string); ok && len(s) >= 12 {
			out = append(out, s)
		}
	}
	return out
}

func relCheckResponseError(t *testing.T, err error, status int, ctype string, body []byte, log string) {
	t.Helper()
	relCheckTyped(t, err)
	relCheckErrorSecrets(t, "error", err, log)
	if status >= 200 && status < 300 {
		for _, s := range relBodySecrets(body) {
			if strings.Contains(err.Error(), s) && !strings.Contains(ctype, s) {
				t.Fatalf("error quotes a token of the body: %v", err)
			}
		}
	}
}

var relFuzzResponseSeeds = []struct {
	status int
	ctype  string
	body   string
}{
	{200, "application/json", `{"access_token":"ya29.fuzz-token-value","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":3600}`},
	{200, "application/json", `{"access_token":"ya29.fuzz-token-value","token_type":"MAC","expires_in":3600}`},
	{200, "application/json", `{"access_token":"ya29.fuzz-token-value","expires_in":"soon"}`},
	{200, "application/json", `{"access_token":"ya29.fuzz-token-value","expires_in":-5}`},
	{200, "application/json", `{"accessToken":"ya29.fuzz-token-value","expireTime":"2999-01-01T00:00:00Z"}`},
	{200, "application/json", `{"access_token":"ya29.fuzz-token-value","token_type":"Bearer"}`},
	{200, "application/json", `{"access_token":"ya29.fuzz-token-value","expires_in":null}`},
	{200, "application/json", `{"access_token":"ya29.fuzz-token-value","expires_in":"0x1p12"}`},
	{200, "application/json", `{"access_token":"ya29.fuzz-token-value","expires_in":3.6e3}`},
	{200, "application/json", `{"access_token":"ya29.fuzz-token-value","expires_in":"3_600"}`},
	{200, "application/json", `{"access_token":"ya29.fuzz-token-value","expires_in":9223372037}`},
	{200, "application/json", `{"accessToken":"ya29.fuzz-token-value","expireTime":"2030-01-01T00:00:00Z"}`},
	{200, "application/json", `{"active":true,"exp":1.7e9,"iat":"+1700000000"}`},
	{503, "application/json", `{"error":"temporarily_unavailable"}`},
	{200, "application/json", `{"active":true,"exp":"4102444800","scope":"a b","client_id":"c"}`},
	{200, "text/html", `<html><body>ok</body></html>`},
	{200, "", `{"access_token":"ya29.fuzz-token-value"`},
	{400, "application/json", `{"error":"invalid_grant","error_description":"expired"}`},
	{403, "application/json", `{"error":{"code":403,"message":"denied","status":"PERMISSION_DENIED"}}`},
	{502, "text/html", `<html>bad gateway</html>`},
	{302, "", ``},
	{0, "", ``},
	{999, "application/json", `{}`},
}

// relFuzzCall runs one call of the kind named by which against a canned
// response and returns its error.
func relFuzzCall(t *testing.T, which string, client *http.Client) error {
	t.Helper()
	log, buf := newRelLogger()
	_ = buf
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	retry := RetryPolicy{MaxAttempts: 1}
	switch which {
	case "exchange":
		x, err := newExchanger(Config{
			Subject: StaticSubject(relSubjectToken), SubjectTokenType: TokenTypeJWT,
			Audience: "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
			ClientID: relClientID, ClientSecret: relClientSecret,
			TokenURL: "http://127.0.0.1:1/v1/token", HTTPOptions: HTTPOptions{HTTPClient: client, Retry: retry, Logger: log},
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = x.TokenContext(ctx)
		return err
	case "impersonate":
		im, err := newImpersonator(impConfig{
			Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: relAccessToken}), TargetPrincipal: "sa@p.iam.gserviceaccount.com",
			URL:         "http://127.0.0.1:1/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken",
			HTTPOptions: HTTPOptions{HTTPClient: client, Retry: retry, Logger: log},
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = im.TokenContext(ctx)
		return err
	case "refresh":
		r, err := newRefresher(authUserConfig{
			RefreshToken: relRefreshToken, ClientID: relClientID, ClientSecret: relClientSecret,
			TokenURL: "http://127.0.0.1:1/v1/oauthtoken", HTTPOptions: HTTPOptions{HTTPClient: client, Retry: retry, Logger: log},
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.TokenContext(ctx)
		return err
	case "introspect":
		_, err := Introspect(ctx, relAccessToken, IntrospectOptions{
			URL: "http://127.0.0.1:1/v1/introspect", ClientID: relClientID, ClientSecret: relClientSecret,
			HTTPOptions: HTTPOptions{HTTPClient: client, Retry: retry, Logger: log},
		})
		return err
	}
	panic("unknown call " + which)
}

func relFuzzResponse(f *testing.F, which string) {
	for _, s := range relFuzzResponseSeeds {
		f.Add(s.status, s.ctype, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, ctype string, body []byte) {
		if status < 100 || status > 999 {
			status = 200 + (status%800+800)%800 // keep it a plausible code
		}
		err := relFuzzCall(t, which, relCannedClient(status, ctype, body))
		if err == nil {
			if status < 200 || status >= 300 {
				t.Fatalf("status %d accepted", status)
			}
			return
		}
		relCheckResponseError(t, err, status, ctype, body, "")
	})
}

// FuzzExchangeResponse feeds any status, content type and body to a token
// exchange: the result is a token or a typed error without secrets.
func FuzzExchangeResponse(f *testing.F) { relFuzzResponse(f, "exchange") }

// FuzzImpersonateResponse does the same for generateAccessToken.
func FuzzImpersonateResponse(f *testing.F) { relFuzzResponse(f, "impersonate") }

// FuzzRefreshResponse does the same for the authorized-user refresh.
func FuzzRefreshResponse(f *testing.F) { relFuzzResponse(f, "refresh") }

// FuzzIntrospectResponse does the same for token introspection.
func FuzzIntrospectResponse(f *testing.F) { relFuzzResponse(f, "introspect") }

// FuzzFormatExtract feeds file and URL subject-token content to both
// formats: a token comes back trimmed and non-empty, or an error.
func FuzzFormatExtract(f *testing.F) {
	for _, s := range []string{`eyJhbGciOi.x.y`, `{"id_token":"eyJ.x.y"}`, `{"id_token":7}`, `{"id_token":"  "}`, `{"other":"x"}`, `  `, `{`, `null`} {
		f.Add([]byte(s), "id_token")
	}
	f.Fuzz(func(t *testing.T, raw []byte, field string) {
		for _, fm := range []Format{{Type: "text"}, {Type: "json", SubjectTokenField: field}} {
			tok, err := fm.extract(raw)
			if err == nil && (tok == "" || strings.TrimSpace(tok) != tok) {
				t.Fatalf("%+v: bad token %q", fm, tok)
			}
		}
	})
}
