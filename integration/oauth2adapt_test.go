package integration

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/httptransport"
	"cloud.google.com/go/auth/oauth2adapt"
	cloudresourcemanager "google.golang.org/api/cloudresourcemanager/v3"
	"google.golang.org/api/option"

	"github.com/stsgo/sts"
)

// TestAuthTokenProvider adapts an exchange token source to an
// auth.TokenProvider and hands it to cloud.google.com/go/auth's
// Credentials, its HTTP transport, and a generated client.
func TestAuthTokenProvider(t *testing.T) {
	ts, emu := exchangeSource(t)
	api := newFakeAPI(t, emu, map[string]string{
		"GET /v1/ping":                  `{"ok":true}`,
		"GET /v3/projects/demo-project": `{"name":"projects/123456789","projectId":"demo-project"}`,
	})
	ctx := context.Background()

	tp := oauth2adapt.TokenProviderFromTokenSource(ts)
	at, err := tp.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info, ok := emu.Lookup(at.Value); !ok || info.Kind != "exchange" || at.Expiry.Before(time.Now()) {
		t.Fatalf("auth.Token %v is not a live exchanged token", at)
	}

	creds := auth.NewCredentials(&auth.CredentialsOptions{TokenProvider: tp})
	hc, err := httptransport.NewClient(&httptransport.Options{Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(api.URL + "/v1/ping")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("httptransport client: %s %s", resp.Status, body)
	}

	crm, err := cloudresourcemanager.NewService(ctx, option.WithAuthCredentials(creds), option.WithEndpoint(api.URL+"/"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crm.Projects.Get("projects/demo-project").Context(ctx).Do(); err != nil {
		t.Fatal(err)
	}
	paths, tokens := api.requests()
	if len(paths) != 2 || tokens != 1 || emu.Count("/v1/token") != 1 {
		t.Errorf("API saw %v with %d tokens after %d exchanges", paths, tokens, emu.Count("/v1/token"))
	}
}

// providerFunc is an auth.TokenProvider made of a function, standing for a
// token provider of some other library.
type providerFunc func(context.Context) (*auth.Token, error)

func (f providerFunc) Token(ctx context.Context) (*auth.Token, error) { return f(ctx) }

// TestFromAuthTokenProvider goes the other way: an auth.TokenProvider,
// adapted to an oauth2.TokenSource, is cached by sts.NewCachedTokenSource and
// downscoped at STS through sts.TokenSourceSubject.
func TestFromAuthTokenProvider(t *testing.T) {
	parent, emu := exchangeSource(t)
	calls := 0
	var prov auth.TokenProvider = providerFunc(func(ctx context.Context) (*auth.Token, error) {
		calls++
		tok, err := parent.TokenContext(ctx)
		if err != nil {
			return nil, err
		}
		return &auth.Token{Value: tok.AccessToken, Type: "Bearer", Expiry: tok.Expiry}, nil
	})
	cached, err := sts.NewCachedTokenSource(oauth2adapt.TokenSourceFromTokenProvider(prov), sts.CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := cached.Token(); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 {
		t.Errorf("provider called %d times, want 1", calls)
	}
	down, err := sts.NewTokenSource(sts.Config{
		Subject:          sts.TokenSourceSubject{Source: cached},
		SubjectTokenType: sts.TokenTypeAccessToken,
		TokenURL:         emu.TokenURL(),
		HTTPOptions:      sts.HTTPOptions{HTTPClient: emu.Client()},
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := down.Token()
	if err != nil {
		t.Fatal(err)
	}
	ptok, _ := cached.Token()
	// STS gives no expires_in for an access token subject: the parent's
	// expiry applies.
	if _, ok := emu.Lookup(tok.AccessToken); !ok || tok.Expiry.Sub(ptok.Expiry).Abs() > time.Second {
		t.Errorf("exchanged token: issued by the emulator %t, expiry %v, parent's %v", ok, tok.Expiry, ptok.Expiry)
	}
}
