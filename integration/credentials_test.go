package integration

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"cloud.google.com/go/storage"
	"google.golang.org/api/option"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/credfile"
	"github.com/stsgo/sts/credfile/googlecreds"
	"github.com/stsgo/sts/ststest"
)

const deployer = "deployer@example-project.iam.gserviceaccount.com"

// loadImpersonationFile loads the sample impersonation.json (federation from
// a file, then impersonation of deployer, quota project example-project)
// with its endpoints pointed at an in-memory emulator.
func loadImpersonationFile(t *testing.T) (*credfile.Credentials, *ststest.Server) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "credfile", "testdata", "credentials", "impersonation.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	emu := ststest.NewInMemoryServer(ststest.Options{})
	t.Cleanup(emu.Close)
	subject := filepath.Join(t.TempDir(), "ci-job-jwt")
	if err := os.WriteFile(subject, []byte("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaS1qb2IiLCJleHAiOjQxMDI0NDQ4MDB9.signature\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m["token_url"] = emu.TokenURL()
	m["service_account_impersonation_url"] = emu.ImpersonationURL(deployer)
	m["credential_source"] = map[string]any{"file": subject}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := credfile.Load(data, credfile.Options{
		HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()},
		Scopes:      []string{"https://www.googleapis.com/auth/devstorage.read_only"},
		Getenv:      func(string) string { return "" },
	})
	if err != nil {
		t.Fatal(err)
	}
	return creds, emu
}

// TestStorageWithCredentialFile passes a loaded credential file to the Cloud
// Storage client in the three ways a program can, and checks what reaches
// the API: the impersonated token in Authorization, and the file's quota
// project in x-goog-user-project wherever the client is given it.
func TestStorageWithCredentialFile(t *testing.T) {
	const route = "GET /storage/v1/b/demo-bucket"
	const bucket = `{"kind":"storage#bucket","name":"demo-bucket","location":"EU"}`
	for _, tc := range []struct {
		name      string
		opts      func(c *credfile.Credentials) []option.ClientOption
		wantQuota string
	}{
		{"WithCredentials", func(c *credfile.Credentials) []option.ClientOption {
			// Google's clients read quota_project_id from the JSON.
			return []option.ClientOption{option.WithCredentials(googlecreds.From(c))}
		}, "example-project"},
		{"WithTokenSource", func(c *credfile.Credentials) []option.ClientOption {
			// A bare token source carries no quota project.
			return []option.ClientOption{option.WithTokenSource(c.TokenSource())}
		}, ""},
		{"WithHTTPClient", func(c *credfile.Credentials) []option.ClientOption {
			// Credentials.HTTPClient adds both headers itself. (The storage
			// client rejects option.WithQuotaProject, so this and
			// WithCredentials are the ways to bill a quota project.)
			return []option.ClientOption{option.WithHTTPClient(c.HTTPClient(nil))}
		}, "example-project"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			creds, emu := loadImpersonationFile(t)
			api := newFakeAPI(t, emu, map[string]string{route: bucket})
			ctx := context.Background()
			opts := append(tc.opts(creds), option.WithEndpoint(api.URL+"/storage/v1/"))
			client, err := storage.NewClient(ctx, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			attrs, err := client.Bucket("demo-bucket").Attrs(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if attrs.Name != "demo-bucket" {
				t.Errorf("attrs %+v", attrs)
			}
			api.mu.Lock()
			var tok string
			for k := range api.tokens {
				tok = k
			}
			quota := append([]string(nil), api.quota...)
			n := len(api.tokens)
			api.mu.Unlock()
			if n != 1 {
				t.Fatalf("API saw %d tokens, want 1", n)
			}
			info, _ := emu.Lookup(tok)
			if info.Kind != "impersonated" || info.Subject != deployer {
				t.Errorf("API got a %q token for %q, want the impersonated token of %s", info.Kind, info.Subject, deployer)
			}
			switch {
			case tc.wantQuota == "" && len(quota) != 0:
				t.Errorf("x-goog-user-project = %q, want none", quota)
			case tc.wantQuota != "" && (len(quota) != 1 || quota[0] != tc.wantQuota):
				t.Errorf("x-goog-user-project = %q, want %q", quota, tc.wantQuota)
			}
			if emu.Count("/v1/token") != 1 {
				t.Errorf("%d exchanges, want 1", emu.Count("/v1/token"))
			}
		})
	}
}
