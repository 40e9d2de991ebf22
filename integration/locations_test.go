package integration

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"cloud.google.com/go/storage"
	"google.golang.org/api/option"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/credfile"
	"github.com/stsgo/sts/ststest"
)

// TestStorageRegionalAccessBoundary: with regional access boundaries on,
// the Cloud Storage client's requests through the credentials' HTTP client
// carry x-allowed-locations once the background lookup is done (the first
// goes without it); while the lookup is down they all go out without it.
func TestStorageRegionalAccessBoundary(t *testing.T) {
	const pool = "projects/123456789/locations/global/workloadIdentityPools/pool"
	for _, down := range []bool{false, true} {
		name := "lookup up"
		if down {
			name = "lookup down"
		}
		t.Run(name, func(t *testing.T) {
			emu := ststest.NewServer(ststest.Options{})
			defer emu.Close()
			emu.SetAllowedLocations(pool, "0xA30", "us-central1", "europe-west1")
			if down {
				for range 10 {
					emu.PushFaults(ststest.Fault{Path: "/v1/" + pool + "/allowedLocations", Status: 503})
				}
			}
			subject := filepath.Join(t.TempDir(), "subject")
			if err := os.WriteFile(subject, []byte(emu.SubjectJWT("workload", audience)), 0o600); err != nil {
				t.Fatal(err)
			}
			file, _ := json.Marshal(map[string]any{
				"type": "external_account", "audience": audience, "subject_token_type": sts.TokenTypeJWT,
				"token_url": emu.TokenURL(), "credential_source": map[string]any{"file": subject},
			})
			creds, err := credfile.Load(file, credfile.Options{
				HTTPOptions:              sts.HTTPOptions{Retry: sts.RetryPolicy{MaxAttempts: 1}},
				RegionalAccessBoundaries: true,
				IAMCredentialsURL:        emu.URL,
				Getenv:                   func(string) string { return "" },
			})
			if err != nil {
				t.Fatal(err)
			}
			api := newFakeAPI(t, emu, map[string]string{"GET /storage/v1/b/demo-bucket": `{"kind":"storage#bucket","name":"demo-bucket","location":"EU"}`})
			ctx := context.Background()
			client, err := storage.NewClient(ctx, option.WithHTTPClient(creds.HTTPClient(nil)), option.WithEndpoint(api.URL+"/storage/v1/"))
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			if _, err := client.Bucket("demo-bucket").Attrs(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := creds.AllowedLocations(ctx); err != nil { // the lookup has ended
				t.Fatal(err)
			}
			if _, err := client.Bucket("demo-bucket").Attrs(ctx); err != nil {
				t.Fatal(err)
			}
			want := []string{"", "0xA30"}
			if down {
				want = []string{"", ""}
			}
			api.mu.Lock()
			got := slices.Clone(api.allowedLocations)
			api.mu.Unlock()
			if !slices.Equal(got, want) {
				t.Errorf("x-allowed-locations of the API requests %q, want %q", got, want)
			}
			for _, r := range emu.Requests() {
				if r.Header.Get("X-Allowed-Locations") != "" {
					t.Errorf("%s %s to the emulator carries x-allowed-locations", r.Method, r.Path)
				}
			}
			emu.ClearFaults()
		})
	}
}
