package sts

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/ststest"
)

// TestServerEchoedSecretsScrubbed checks that a server quoting the request's
// secret in its error answer (a subject, refresh or source token) does not
// put it in the *Error: error_description is kept, the secret in it is not.
func TestServerEchoedSecretsScrubbed(t *testing.T) {
	const refresh = "SECRET-REFRESH-TOKEN-77aa"
	const source = "SECRET-SOURCE-TOKEN-81bc"
	const introspected = "SECRET-INTROSPECTED-TOKEN-93cd"
	check := func(t *testing.T, err error, secret string) {
		t.Helper()
		var se *Error
		if !errors.As(err, &se) || se.StatusCode == 0 {
			t.Fatalf("err = %v, want an *Error from the server", err)
		}
		for _, s := range []string{err.Error(), fmt.Sprintf("%+v %#v", err, err), se.Description} {
			if strings.Contains(s, secret) {
				t.Errorf("secret echoed by the server in %q", s)
			}
		}
		if !strings.Contains(se.Description, "REDACTED") {
			t.Errorf("description %q lost the server's text", se.Description)
		}
	}
	t.Run("exchange", func(t *testing.T) {
		s := ststest.NewServer(ststest.Options{ValidateSubject: func(_, tok string) error {
			return fmt.Errorf("subject token %s is not trusted", tok)
		}})
		defer s.Close()
		x, err := newExchanger(emulatorConfig(s))
		if err != nil {
			t.Fatal(err)
		}
		_, err = x.Token()
		check(t, err, secretSubject)
	})
	echo := func(body func(r *http.Request) string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, body(r))
		}))
	}
	t.Run("refresh", func(t *testing.T) {
		srv := echo(func(r *http.Request) string {
			return `{"error":"invalid_grant","error_description":"refresh token ` + r.PostForm.Get("refresh_token") + ` was revoked"}`
		})
		defer srv.Close()
		r, err := newRefresher(authUserConfig{RefreshToken: refresh, ClientID: "id", ClientSecret: "secret", TokenURL: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Token()
		check(t, err, refresh)
	})
	t.Run("impersonate", func(t *testing.T) {
		srv := echo(func(r *http.Request) string {
			return `{"error":{"code":400,"status":"INVALID_ARGUMENT","message":"bad ` + r.Header.Get("Authorization") + `"}}`
		})
		defer srv.Close()
		im, err := newImpersonator(impConfig{
			Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: source}),
			URL:    srv.URL + "/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken",
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = im.Token()
		check(t, err, source)
	})
	t.Run("introspect", func(t *testing.T) {
		srv := echo(func(*http.Request) string {
			return `{"error":"invalid_request","error_description":"cannot read ` + introspected + `"}`
		})
		defer srv.Close()
		_, err := Introspect(context.Background(), introspected, IntrospectOptions{URL: srv.URL})
		check(t, err, introspected)
	})
}
