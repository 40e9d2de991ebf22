package sts_test

import (
	"context"
	"encoding/base64"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"fmt"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/credfile"
	"github.com/stsgo/sts/downscope"
	"github.com/stsgo/sts/impersonate"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/ststest"
)

// TestLogsRedactSecretsAcrossLayers runs every layer (exchange with client
// authentication, impersonation with a retried failure, server-side and
// client-side downscoping, an authorized user's refresh with a rotated
// refresh token, introspection) with one debug logger, and checks that the
// log shows each layer at work and holds none of the secrets involved.
func TestLogsRedactSecretsAcrossLayers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			subject      = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJsYXllcnMiLCJleHAiOjQxMDI0NDQ4MDB9.bGF5ZXJzLXN1YmplY3Q"
			clientID     = "layers-client"
			clientSecret = "client-secret-layers-31c8"
			refreshToken = "refresh-token-layers-5a0b"
			sa           = "logger@demo.iam.gserviceaccount.com"
		)
		emu := ststest.NewInMemoryServer(ststest.Options{ClientID: clientID, ClientSecret: clientSecret})
		defer emu.Close()
		emu.AddRefreshToken(refreshToken, clientID)
		emu.SetRefreshTokenRotation(true)
		var sink fixture.Log
		logger := slog.New(slog.NewJSONHandler(&sink, &slog.HandlerOptions{Level: slog.LevelDebug}))
		ctx := context.Background()
		var secrets []string
		keep := func(s string) { secrets = append(secrets, s) }
		keep(subject)
		keep(clientSecret)
		keep(refreshToken)
		keep(base64.StdEncoding.EncodeToString([]byte(clientID + ":" + clientSecret)))

		root, err := sts.NewTokenSource(sts.Config{
			Subject: sts.StaticSubject(subject), SubjectTokenType: sts.TokenTypeJWT,
			Audience: "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x",
			ClientID: clientID, ClientSecret: clientSecret,
			TokenURL: emu.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client(), Logger: logger},
		})
		if err != nil {
			t.Fatal(err)
		}
		imp, err := impersonate.NewTokenSource(impersonate.Config{
			Source: root, URL: emu.ImpersonationURL(sa), HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client(), Logger: logger, Retry: sts.RetryPolicy{InitialBackoff: time.Millisecond}},
		})
		if err != nil {
			t.Fatal(err)
		}
		emu.PushFaults(ststest.Fault{Path: "/v1/projects/-/serviceAccounts/" + sa + ":generateAccessToken", Status: 503,
			Body: `{"error":{"code":503,"message":"unavailable","status":"UNAVAILABLE"}}`})
		saTok, err := imp.TokenContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rootTok, _ := root.TokenContext(ctx)
		keep(saTok.AccessToken)
		keep(rootTok.AccessToken)

		down, err := downscope.NewTokenSource(downscope.Config{
			Source:   imp,
			Boundary: &sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{sts.BucketRule("b", "roles/storage.objectViewer")}},
			TokenURL: emu.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client(), Logger: logger},
		})
		if err != nil {
			t.Fatal(err)
		}
		dTok, err := down.TokenContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		keep(dTok.AccessToken)

		m, err := downscope.NewMinter(downscope.Config{Source: imp, TokenURL: emu.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client(), Logger: logger}})
		if err != nil {
			t.Fatal(err)
		}
		cb, err := downscope.Compile(&sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{sts.ObjectPrefixRule("b", "p/", "roles/storage.objectViewer")}})
		if err != nil {
			t.Fatal(err)
		}
		cTok, err := m.TokenSource(cb).TokenContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		intermediary, sealed, _ := strings.Cut(cTok.AccessToken, ".")
		keep(intermediary)
		keep(sealed)

		var rotated []string
		userFile := fmt.Sprintf(`{"type":"external_account_authorized_user","refresh_token":%q,"client_id":%q,"client_secret":%q,"token_url":%q}`,
			refreshToken, clientID, clientSecret, emu.URL+"/v1/oauthtoken")
		creds, err := credfile.Load([]byte(userFile), credfile.Options{
			HTTPOptions:           sts.HTTPOptions{HTTPClient: emu.Client(), Logger: logger},
			OnRefreshTokenRotated: func(s string) { rotated = append(rotated, s) },
		})
		if err != nil {
			t.Fatal(err)
		}
		user := creds.TokenSource()
		uTok, err := user.TokenContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		keep(uTok.AccessToken)
		synctest.Wait()
		if len(rotated) != 1 {
			t.Fatalf("refresh token rotated %d times, want 1", len(rotated))
		}
		keep(rotated[0])

		// The emulator may not serve introspection: the call is logged
		// either way, and the token it carries must not be.
		_, _ = sts.Introspect(ctx, saTok.AccessToken, sts.IntrospectOptions{
			URL: emu.URL + "/v1/introspect", HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client(), Logger: logger, Retry: sts.RetryPolicy{MaxAttempts: 1}},
		})
		synctest.Wait()

		out := sink.String()
		for _, want := range []string{`"op":"exchange"`, `"op":"impersonate"`, `"op":"introspect"`, `"msg":"sts: retrying"`, `"msg":"sts: token refreshed"`} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks %s", want)
			}
		}
		for _, s := range secrets {
			if s == "" {
				t.Fatal("empty secret")
			}
			if strings.Contains(out, s) {
				t.Errorf("log holds a secret starting %q", s[:8])
			}
		}
		if t.Failed() {
			t.Logf("log:\n%s", out)
		}
	})
}
