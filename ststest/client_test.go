package ststest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stsgo/sts/ststest"
)

// TestClientPolicyAcrossEndpoints: every endpoint that takes client
// credentials accepts and refuses the same ones. Only the workforce token
// endpoint, whose grants belong to a client, refuses a request without any.
func TestClientPolicyAcrossEndpoints(t *testing.T) {
	type creds struct {
		name           string
		id, secret     string
		inBody, bearer bool
	}
	variants := []creds{
		{name: "none"},
		{name: "right", id: "client", secret: "s3cret"},
		{name: "right in body", id: "client", secret: "s3cret", inBody: true},
		{name: "wrong secret", id: "client", secret: "nope"},
		{name: "other client", id: "other", secret: "0th3r-s3cret"},
		{name: "other client in body", id: "other", inBody: true},
		{name: "bearer", bearer: true},
	}
	options := []struct {
		name string
		opts ststest.Options
		// refused lists the credential variants refused with 401
		// invalid_client by every endpoint.
		refused []string
	}{
		{"default", ststest.Options{}, []string{"bearer"}},
		{"client configured", ststest.Options{ClientID: "client", ClientSecret: "s3cret"},
			[]string{"wrong secret", "other client", "other client in body", "bearer"}},
		{"client required", ststest.Options{ClientID: "client", ClientSecret: "s3cret", RequireClientAuth: true},
			[]string{"none", "wrong secret", "other client", "other client in body", "bearer"}},
		{"no client auth", ststest.Options{NoClientAuth: true},
			[]string{"right", "right in body", "wrong secret", "other client", "other client in body", "bearer"}},
	}
	endpoints := []struct {
		name string
		path func(*ststest.Server) string
		form func(s *ststest.Server) url.Values
	}{
		{"exchange", (*ststest.Server).TokenURL, func(*ststest.Server) url.Values { return exchangeForm() }},
		{"introspect", (*ststest.Server).IntrospectURL, func(*ststest.Server) url.Values { return url.Values{"token": {"unknown"}} }},
		{"revoke", (*ststest.Server).RevokeURL, func(*ststest.Server) url.Values { return url.Values{"token": {"unknown"}} }},
		{"oauthtoken", (*ststest.Server).OAuthTokenURL, func(s *ststest.Server) url.Values {
			rt := "rt-" + s.URL // any registered token; the grant may still fail for another client
			s.AddRefreshToken(rt, "client")
			return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		}},
	}
	for _, o := range options {
		for _, ep := range endpoints {
			for _, v := range variants {
				t.Run(o.name+"/"+ep.name+"/"+v.name, func(t *testing.T) {
					s := ststest.NewInMemoryServer(o.opts)
					defer s.Close()
					form := ep.form(s)
					if v.inBody {
						form.Set("client_id", v.id)
						form.Set("client_secret", v.secret)
					}
					req, _ := http.NewRequest(http.MethodPost, ep.path(s), strings.NewReader(form.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					switch {
					case v.bearer:
						req.Header.Set("Authorization", "Bearer abc")
					case v.id != "" && !v.inBody:
						req.SetBasicAuth(v.id, v.secret)
					}
					resp, err := s.Client().Do(req)
					if err != nil {
						t.Fatal(err)
					}
					wwwAuth := resp.Header.Get("WWW-Authenticate")
					status, tr := decode(t, resp)
					refused := status == 401 && tr.Error == "invalid_client"
					want := contains(o.refused, v.name) || (ep.name == "oauthtoken" && v.name == "none")
					if refused != want {
						t.Fatalf("got %d %+v, want refused=%t", status, tr, want)
					}
					if refused && wwwAuth == "" {
						t.Error("401 without WWW-Authenticate")
					}
					if !refused && status >= 500 {
						t.Errorf("got %d %+v", status, tr)
					}
					if v.secret != "" && strings.Contains(tr.ErrorDescription, v.secret) {
						t.Error("error description shows the secret")
					}
				})
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestAuthorizeClientPolicy: the authorization endpoint identifies the
// client by its client_id under the same policy.
func TestAuthorizeClientPolicy(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     ststest.Options
		clientID string
		ok       bool
	}{
		{"any client", ststest.Options{}, "whoever", true},
		{"the configured client", ststest.Options{ClientID: "client", ClientSecret: "s"}, "client", true},
		{"another client", ststest.Options{ClientID: "client", ClientSecret: "s"}, "other", false},
		{"no client auth", ststest.Options{NoClientAuth: true}, "whoever", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ststest.NewInMemoryServer(tc.opts)
			defer s.Close()
			q := url.Values{
				"response_type": {"code"}, "client_id": {tc.clientID}, "redirect_uri": {"http://127.0.0.1:9/cb"},
				"code_challenge": {strings.Repeat("A", 43)}, "code_challenge_method": {"S256"},
				"provider_name": {"locations/global/workforcePools/p/providers/q"},
			}
			c := *s.Client()
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp, err := c.Get(s.AuthorizeURL() + "?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.StatusCode == http.StatusFound; got != tc.ok {
				t.Fatalf("status %d, want accepted=%t", resp.StatusCode, tc.ok)
			}
		})
	}
}
