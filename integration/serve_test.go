package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/compute/metadata"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/impersonate"
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
		Subject:          sts.StaticSubject("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3b3JrbG9hZCIsImV4cCI6NDEwMjQ0NDgwMH0.signature"),
		SubjectTokenType: sts.TokenTypeJWT,
		Audience:         audience,
		TokenURL:         emu.TokenURL(),
	})
	if err != nil {
		t.Fatal(err)
	}
	impersonated, err := impersonate.NewTokenSource(impersonate.Config{
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

// clientsChildEnv marks the child process of TestServeGoClients.
const clientsChildEnv = "STS_METADATA_CLIENTS_CHILD"

// TestServeGoClients: Google's Go clients find the metadata server through
// GCE_METADATA_HOST and read from it what they read on GCE:
// cloud.google.com/go/compute/metadata (every value), and the Application
// Default Credentials of golang.org/x/oauth2/google and of
// cloud.google.com/go/auth (tokens, project, universe). The clients run in a
// child process (this test binary again, running goClientsChild): they
// memoize whether they run on GCE for the life of the process, so another
// test that asked first would decide for them.
func TestServeGoClients(t *testing.T) {
	if os.Getenv(clientsChildEnv) != "" {
		goClientsChild()
		return
	}
	md := startMetadataServer(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestServeGoClients$", "-test.count=1")
	home := t.TempDir()
	cmd.Env = []string{
		clientsChildEnv + "=1",
		"GCE_METADATA_HOST=" + md.host,
		"HOME=" + home,
		"CLOUDSDK_CONFIG=" + home,
		"APPDATA=" + home,
		"PATH=" + os.Getenv("PATH"),
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s\n%s", err, out, stderr.String())
	}
	var r clientsResult
	for line := range strings.Lines(string(out)) {
		if js, ok := strings.CutPrefix(line, "RESULT "); ok {
			if err := json.Unmarshal([]byte(js), &r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(r.Errors) > 0 {
		t.Errorf("client errors:\n%s", strings.Join(r.Errors, "\n"))
	}
	if diff := cmp.Diff(map[string]string{
		"metadata.OnGCE":            "true",
		"metadata.ProjectID":        serveProject,
		"metadata.NumericProjectID": "123456789",
		"metadata.Email":            serveSA,
		"metadata.Scopes":           sts.CloudPlatformScope,
		"metadata.universe":         "googleapis.com",
		"metadata.undefined":        "NotDefinedError",
		"oauth2.ProjectID":          serveProject,
		"oauth2.UniverseDomain":     "googleapis.com",
		"auth.ProjectID":            serveProject,
		"auth.UniverseDomain":       "googleapis.com",
	}, r.Values); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	for _, name := range []string{"metadata", "oauth2", "auth"} {
		if info, ok := md.emu.Lookup(r.Tokens[name]); !ok || info.Kind != "impersonated" {
			t.Errorf("%s token: not the emulator's impersonated token: %+v", name, info)
		}
	}
	if info, ok := md.emu.Lookup(r.Tokens["metadata.identity"]); !ok || info.Kind != "id_token" || info.Audience != "https://svc.example" {
		t.Errorf("identity: %+v", info)
	}
}

// clientsResult is what goClientsChild prints.
type clientsResult struct {
	Values map[string]string
	Tokens map[string]string
	Errors []string
}

// goClientsChild runs the clients and prints a clientsResult line.
func goClientsChild() {
	ctx := context.Background()
	r := clientsResult{Values: map[string]string{}, Tokens: map[string]string{}}
	fail := func(what string, err error) { r.Errors = append(r.Errors, what+": "+err.Error()) }
	c := metadata.NewClient(&http.Client{Timeout: 10 * time.Second})
	r.Values["metadata.OnGCE"] = fmt.Sprint(metadata.OnGCEWithContext(ctx))
	for name, f := range map[string]func(context.Context) (string, error){
		"ProjectID":        c.ProjectIDWithContext,
		"NumericProjectID": c.NumericProjectIDWithContext,
		"Email":            func(ctx context.Context) (string, error) { return c.EmailWithContext(ctx, "") },
		"universe":         func(ctx context.Context) (string, error) { return c.GetWithContext(ctx, "universe/universe-domain") },
		"Scopes": func(ctx context.Context) (string, error) {
			s, err := c.ScopesWithContext(ctx, "default")
			return strings.Join(s, " "), err
		},
	} {
		v, err := f(ctx)
		if err != nil {
			fail("metadata."+name, err)
		}
		r.Values["metadata."+name] = v
	}
	if _, err := c.GetWithContext(ctx, "project/attributes/nothing"); errors.As(err, new(metadata.NotDefinedError)) {
		r.Values["metadata.undefined"] = "NotDefinedError"
	}
	if raw, err := c.GetWithContext(ctx, "instance/service-accounts/default/token?scopes="+sts.CloudPlatformScope); err != nil {
		fail("metadata token", err)
	} else {
		var tok struct {
			AccessToken string `json:"access_token"`
			ExpiresIn   int    `json:"expires_in"`
			TokenType   string `json:"token_type"`
		}
		if err := json.Unmarshal([]byte(raw), &tok); err != nil || tok.ExpiresIn <= 0 || tok.TokenType != "Bearer" {
			fail("metadata token answer", fmt.Errorf("%q: %v", raw, err))
		}
		r.Tokens["metadata"] = tok.AccessToken
	}
	if id, err := c.GetWithContext(ctx, "instance/service-accounts/default/identity?audience=https://svc.example&format=full"); err != nil {
		fail("metadata identity", err)
	} else {
		r.Tokens["metadata.identity"] = id
	}

	if creds, err := google.FindDefaultCredentials(ctx, sts.CloudPlatformScope); err != nil {
		fail("oauth2 FindDefaultCredentials", err)
	} else {
		r.Values["oauth2.ProjectID"] = creds.ProjectID
		if u, err := creds.GetUniverseDomain(); err != nil {
			fail("oauth2 universe", err)
		} else {
			r.Values["oauth2.UniverseDomain"] = u
		}
		if tok, err := creds.TokenSource.Token(); err != nil {
			fail("oauth2 token", err)
		} else if time.Until(tok.Expiry) < 50*time.Minute {
			fail("oauth2 token", fmt.Errorf("expires in %v", time.Until(tok.Expiry)))
		} else {
			r.Tokens["oauth2"] = tok.AccessToken
		}
	}

	if adc, err := credentials.DetectDefault(&credentials.DetectOptions{Scopes: []string{sts.CloudPlatformScope}}); err != nil {
		fail("auth DetectDefault", err)
	} else {
		if tok, err := adc.Token(ctx); err != nil {
			fail("auth token", err)
		} else {
			r.Tokens["auth"] = tok.Value
		}
		if p, err := adc.ProjectID(ctx); err != nil {
			fail("auth project", err)
		} else {
			r.Values["auth.ProjectID"] = p
		}
		if u, err := adc.UniverseDomain(ctx); err != nil {
			fail("auth universe", err)
		} else {
			r.Values["auth.UniverseDomain"] = u
		}
	}
	js, _ := json.Marshal(r)
	fmt.Printf("RESULT %s\n", js)
}
