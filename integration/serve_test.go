package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/compute/metadata"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/metaserver"
	"github.com/stsgo/sts/ststest"
)

const (
	serveProject = "demo-project"
	serveSA      = "runner@demo-project.iam.gserviceaccount.com"
)

// servedMetadata is a metadata server (package metaserver, what `sts serve`
// runs) on loopback, fed by an exchange-then-impersonation pipeline against
// a loopback emulator, with ID tokens minted by the emulator's IAM
// generateIdToken for the impersonated service account.
type servedMetadata struct {
	emu  *ststest.Server
	host string // for GCE_METADATA_HOST
}

func startMetadataServer(t *testing.T) *servedMetadata {
	t.Helper()
	emu := ststest.NewServer(ststest.Options{})
	t.Cleanup(emu.Close)
	federated, err := sts.NewTokenSource(sts.Config{
		Subject:          sts.StaticSubject("header.eyJzdWIiOiJ3b3JrbG9hZCJ9.signature"),
		SubjectTokenType: sts.TokenTypeJWT,
		Audience:         audience,
		TokenURL:         emu.TokenURL(),
	})
	if err != nil {
		t.Fatal(err)
	}
	impersonated, err := sts.NewImpersonatedTokenSource(sts.ImpersonationConfig{
		Source: federated,
		URL:    emu.ImpersonationURL(serveSA),
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := metaserver.New(metaserver.Config{
		TokenSource:      impersonated,
		IDToken:          emulatorIDToken(emu, federated),
		Email:            serveSA,
		ProjectID:        serveProject,
		NumericProjectID: "123456789",
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := metaserver.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &servedMetadata{emu: emu, host: ln.Addr().String()}
}

// emulatorIDToken mints ID tokens for serveSA with the emulator's IAM
// generateIdToken, authorized by src's token.
func emulatorIDToken(emu *ststest.Server, src oauth2.TokenSource) func(context.Context, string) (string, error) {
	url := strings.TrimSuffix(emu.ImpersonationURL(serveSA), ":generateAccessToken") + ":generateIdToken"
	return func(ctx context.Context, aud string) (string, error) {
		tok, err := src.Token()
		if err != nil {
			return "", err
		}
		body, _ := json.Marshal(map[string]any{"audience": aud, "includeEmail": true})
		req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
		if err != nil {
			return "", err
		}
		req.Header.Set("Content-Type", "application/json")
		tok.SetAuthHeader(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		var out struct {
			Token string `json:"token"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
			return "", fmt.Errorf("generateIdToken: status %d, %v", resp.StatusCode, err)
		}
		return out.Token, nil
	}
}

// isolateADC points Application Default Credentials at the metadata server
// only: no credential file in the environment or the home directory.
func isolateADC(t *testing.T, md *servedMetadata) {
	t.Setenv("GCE_METADATA_HOST", md.host)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("APPDATA", t.TempDir())
	t.Setenv("CLOUDSDK_CONFIG", t.TempDir())
	for _, k := range []string{"GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "GOOGLE_CLOUD_UNIVERSE_DOMAIN"} {
		t.Setenv(k, "")
	}
}

// TestServeComputeMetadata: cloud.google.com/go/compute/metadata reads
// every value it reads on GCE.
func TestServeComputeMetadata(t *testing.T) {
	md := startMetadataServer(t)
	isolateADC(t, md)
	ctx := t.Context()
	c := metadata.NewClient(&http.Client{Timeout: 10 * time.Second})
	if !metadata.OnGCEWithContext(ctx) {
		t.Fatal("OnGCE is false with GCE_METADATA_HOST set")
	}
	for name, f := range map[string]func(context.Context) (string, error){
		"ProjectID":        c.ProjectIDWithContext,
		"NumericProjectID": c.NumericProjectIDWithContext,
		"Email":            func(ctx context.Context) (string, error) { return c.EmailWithContext(ctx, "") },
		"universe":         func(ctx context.Context) (string, error) { return c.GetWithContext(ctx, "universe/universe-domain") },
	} {
		v, err := f(ctx)
		want := map[string]string{"ProjectID": serveProject, "NumericProjectID": "123456789", "Email": serveSA, "universe": "googleapis.com"}[name]
		if err != nil || v != want {
			t.Errorf("%s = %q, %v; want %q", name, v, err, want)
		}
	}
	scopes, err := c.ScopesWithContext(ctx, "default")
	if err != nil || len(scopes) != 1 || scopes[0] != sts.CloudPlatformScope {
		t.Errorf("Scopes = %q, %v", scopes, err)
	}
	raw, err := c.GetWithContext(ctx, "instance/service-accounts/default/token?scopes="+sts.CloudPlatformScope)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal([]byte(raw), &tok); err != nil || tok.ExpiresIn <= 0 || tok.TokenType != "Bearer" {
		t.Fatalf("token answer %v: %v", tok, err)
	}
	if info, ok := md.emu.Lookup(tok.AccessToken); !ok || info.Kind != "impersonated" {
		t.Errorf("token not issued by the emulator's impersonation: %+v", info)
	}
	id, err := c.GetWithContext(ctx, "instance/service-accounts/default/identity?audience=https://svc.example&format=full")
	if info, ok := md.emu.Lookup(id); err != nil || !ok || info.Kind != "id_token" || info.Audience != "https://svc.example" {
		t.Errorf("identity: %v %+v", err, info)
	}
	if _, err := c.GetWithContext(ctx, "project/attributes/nothing"); !errors.As(err, new(metadata.NotDefinedError)) {
		t.Errorf("undefined key: %v, want NotDefinedError", err)
	}
}

// TestServeFindDefaultCredentials: golang.org/x/oauth2/google's
// Application Default Credentials, and cloud.google.com/go/auth's, find
// the server and use its tokens, project and universe.
func TestServeFindDefaultCredentials(t *testing.T) {
	md := startMetadataServer(t)
	isolateADC(t, md)
	ctx := t.Context()

	creds, err := google.FindDefaultCredentials(ctx, sts.CloudPlatformScope)
	if err != nil {
		t.Fatal(err)
	}
	if creds.ProjectID != serveProject {
		t.Errorf("ProjectID %q", creds.ProjectID)
	}
	if u, err := creds.GetUniverseDomain(); err != nil || u != "googleapis.com" {
		t.Errorf("universe %q, %v", u, err)
	}
	tok, err := creds.TokenSource.Token()
	if err != nil {
		t.Fatal(err)
	}
	if info, ok := md.emu.Lookup(tok.AccessToken); !ok || info.Kind != "impersonated" || time.Until(tok.Expiry) < 50*time.Minute {
		t.Errorf("x/oauth2 token: %+v, expiry %v", info, tok.Expiry)
	}

	adc, err := credentials.DetectDefault(&credentials.DetectOptions{Scopes: []string{sts.CloudPlatformScope}})
	if err != nil {
		t.Fatal(err)
	}
	atok, err := adc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info, ok := md.emu.Lookup(atok.Value); !ok || info.Kind != "impersonated" {
		t.Errorf("cloud.google.com/go/auth token: %+v", info)
	}
	if p, err := adc.ProjectID(ctx); err != nil || p != serveProject {
		t.Errorf("auth ProjectID %q, %v", p, err)
	}
	if u, err := adc.UniverseDomain(ctx); err != nil || u != "googleapis.com" {
		t.Errorf("auth UniverseDomain %q, %v", u, err)
	}
}
