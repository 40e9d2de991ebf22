package sts

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/ststest"
)

// introJWT is an unsigned JWT with sub "user-42".
const introJWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIiwiYXVkIjoieCIsImV4cCI6NDEwMjQ0NDgwMH0.c2ln"

const introWorkloadAud = "//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/pool-1/providers/prov-1"

func introExchange(t *testing.T, srv *ststest.Server, scopes ...string) *oauth2.Token {
	t.Helper()
	x, err := newExchanger(Config{
		Subject: StaticSubject(introJWT), SubjectTokenType: TokenTypeJWT, Audience: introWorkloadAud,
		Scopes: scopes, TokenURL: srv.TokenURL(), HTTPOptions: HTTPOptions{HTTPClient: srv.Client()},
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := x.TokenContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestIntrospectEmulatorTokenKinds(t *testing.T) {
	srv := ststest.NewServer(ststest.Options{})
	defer srv.Close()
	opts := IntrospectOptions{URL: srv.IntrospectURL(), HTTPOptions: HTTPOptions{HTTPClient: srv.Client()}}
	ctx := context.Background()

	// Exchanged.
	exchanged := introExchange(t, srv, CloudPlatformScope, "https://www.googleapis.com/auth/userinfo.email")
	got, err := Introspect(ctx, exchanged.AccessToken, opts)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := srv.Lookup(exchanged.AccessToken)
	if !got.Active || got.Subject != "user-42" || got.Issuer != srv.URL || strings.Join(got.Scopes, " ") != CloudPlatformScope+" https://www.googleapis.com/auth/userinfo.email" ||
		!got.Expiry.Equal(info.ExpiresAt.Truncate(time.Second)) || !got.IssuedAt.Equal(info.IssuedAt.Truncate(time.Second)) {
		t.Errorf("exchanged: got %v, info %v", got, info)
	}

	// The RFC 7662 form is accepted too.
	resp, err := srv.Client().PostForm(srv.IntrospectURL(), map[string][]string{"token": {exchanged.AccessToken}, "token_type_hint": {"access_token"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("form: status %d", resp.StatusCode)
	}

	// Unknown tokens are inactive, not errors.
	got, err = Introspect(ctx, "never-issued-token", opts)
	if err != nil || got.Active || got.Subject != "" || !got.Expiry.IsZero() {
		t.Errorf("unknown: %v, %v", got, err)
	}
	got, err = Introspect(ctx, "never.issued", opts)
	if err != nil || got.Active {
		t.Errorf("unknown dotted: %v, %v", got, err)
	}
}

func TestIntrospectEmulatorExpired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := ststest.NewInMemoryServer(ststest.Options{TokenLifetime: 10 * time.Minute})
		defer srv.Close()
		tok := introExchange(t, srv)
		opts := IntrospectOptions{URL: srv.IntrospectURL(), HTTPOptions: HTTPOptions{HTTPClient: srv.Client()}}
		got, err := Introspect(context.Background(), tok.AccessToken, opts)
		if err != nil || !got.Active || got.Expiry.Sub(got.IssuedAt) != 10*time.Minute {
			t.Fatalf("fresh: %v, %v", got, err)
		}
		time.Sleep(10*time.Minute + time.Second)
		got, err = Introspect(context.Background(), tok.AccessToken, opts)
		if err != nil || got.Active {
			t.Errorf("expired: %v, %v", got, err)
		}
	})
}

func TestIntrospectEmulatorClientAuth(t *testing.T) {
	srv := ststest.NewServer(ststest.Options{ClientID: "intro-client", ClientSecret: testIntrospectSecret, RequireClientAuth: true})
	defer srv.Close()
	tok := introExchangeWithClient(t, srv)
	opts := IntrospectOptions{URL: srv.IntrospectURL(), HTTPOptions: HTTPOptions{HTTPClient: srv.Client()}}
	_, err := Introspect(context.Background(), tok, opts)
	var se *Error
	if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized || se.Code != "invalid_client" || se.Temporary() {
		t.Fatalf("no client auth: %v", err)
	}
	opts.ClientID, opts.ClientSecret = "intro-client", "wrong-secret-1234"
	if _, err = Introspect(context.Background(), tok, opts); !errors.As(err, &se) || se.Code != "invalid_client" {
		t.Fatalf("wrong secret: %v", err)
	}
	if strings.Contains(err.Error(), tok) || strings.Contains(err.Error(), "wrong-secret-1234") {
		t.Errorf("secret in %q", err)
	}
	opts.ClientSecret = testIntrospectSecret
	got, err := Introspect(context.Background(), tok, opts)
	if err != nil || !got.Active {
		t.Fatalf("client auth: %v, %v", got, err)
	}
}

func introExchangeWithClient(t *testing.T, srv *ststest.Server) string {
	t.Helper()
	x, err := newExchanger(Config{
		Subject: StaticSubject(introJWT), SubjectTokenType: TokenTypeJWT, Audience: introWorkloadAud,
		TokenURL: srv.TokenURL(), HTTPOptions: HTTPOptions{HTTPClient: srv.Client()}, ClientID: "intro-client", ClientSecret: testIntrospectSecret,
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := x.TokenContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

func TestIntrospectEmulatorFaults(t *testing.T) {
	srv := ststest.NewServer(ststest.Options{})
	defer srv.Close()
	tok := introExchange(t, srv)
	opts := IntrospectOptions{URL: srv.IntrospectURL(), HTTPOptions: HTTPOptions{HTTPClient: srv.Client(), Retry: RetryPolicy{MaxAttempts: 1}}}
	for _, tc := range []struct {
		name  string
		fault ststest.Fault
		want  string
	}{
		{"html", ststest.Fault{Status: 200, HTML: true}, "content type"},
		{"truncated", ststest.Fault{Truncate: true}, "sts: introspect"},
		{"wrong types", ststest.Fault{Status: 200, Body: `{"active":true,"exp":{"s":1}}`}, `"exp"`},
		{"string active", ststest.Fault{Status: 200, Body: `{"active":"nope"}`}, `"active"`},
		{"oauth error", ststest.ErrorFault(400, "invalid_request", "bad"), "invalid_request"},
		{"unavailable", ststest.UnavailableFault(0), "503"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.PushFaults(tc.fault)
			got, err := Introspect(context.Background(), tok.AccessToken, opts)
			var se *Error
			if got != nil || !errors.As(err, &se) || se.Op != "introspect" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, %v; want *Error containing %q", got, err, tc.want)
			}
			if strings.Contains(err.Error(), tok.AccessToken) {
				t.Errorf("token in %q", err)
			}
		})
	}
}
