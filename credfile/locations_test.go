package credfile

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/ststest"
)

const (
	rabWorkload     = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/prov"
	rabWorkloadPool = "projects/123/locations/global/workloadIdentityPools/pool"
	rabWorkforce    = "//iam.googleapis.com/locations/global/workforcePools/corp/providers/okta"
	rabSA           = "deployer@example-project.iam.gserviceaccount.com"
)

// apiRecorder stands in for Google APIs: it answers 200 in the calling
// goroutine and records the x-allowed-locations of each request by host.
type apiRecorder struct {
	mu      sync.Mutex
	seen    []string // "host=value"
	emuHost string   // requests for it go to next
	next    http.RoundTripper
}

func (a *apiRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == a.emuHost {
		return a.next.RoundTrip(r)
	}
	a.mu.Lock()
	a.seen = append(a.seen, r.URL.Host+"="+r.Header.Get("X-Allowed-Locations"))
	a.mu.Unlock()
	rec := httptest.NewRecorder()
	rec.WriteHeader(http.StatusOK)
	return rec.Result(), nil
}

func newAPIRecorder(t *testing.T, emu *ststest.Server) *apiRecorder {
	u, err := url.Parse(emu.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &apiRecorder{emuHost: u.Host, next: emu.Client().Transport}
}

func (a *apiRecorder) last() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seen[len(a.seen)-1]
}

// rabLoad loads an external_account file with a file source for aud (and
// impersonation of rabSA when impersonate is set) against an in-memory
// emulator.
func rabLoad(t *testing.T, emu *ststest.Server, aud string, impersonate bool, opts Options) (*Credentials, *apiRecorder) {
	t.Helper()
	subject := filepath.Join(t.TempDir(), "subject")
	if err := os.WriteFile(subject, []byte(fixture.ExecToken), 0o600); err != nil {
		t.Fatal(err)
	}
	m := map[string]any{
		"type": "external_account", "audience": aud, "subject_token_type": sts.TokenTypeJWT,
		"token_url": emu.TokenURL(), "credential_source": map[string]any{"file": subject},
	}
	if impersonate {
		m["service_account_impersonation_url"] = emu.ImpersonationURL(rabSA)
	}
	api := newAPIRecorder(t, emu)
	opts.HTTPClient = &http.Client{Transport: api}
	if opts.Getenv == nil {
		opts.Getenv = func(string) string { return "" }
	}
	c, err := Load(encodeMap(t, m), opts)
	if err != nil {
		t.Fatal(err)
	}
	return c, api
}

// call makes a request through the credentials' HTTP client and returns the
// x-allowed-locations the API saw.
func call(t *testing.T, c *Credentials, api *apiRecorder, rawURL string) string {
	t.Helper()
	resp, err := c.HTTPClient(&http.Client{Transport: api}).Get(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, v, _ := strings.Cut(api.last(), "=")
	return v
}

// TestRegionalAccessBoundary: enabled by the option or by the environment
// variable, the pool's (or, impersonating, the service account's) allowed
// locations are looked up with the credentials' own token after the first
// API request, and later requests carry them; the token exchange and IAM
// calls never do.
func TestRegionalAccessBoundary(t *testing.T) {
	for _, tc := range []struct {
		name        string
		impersonate bool
		env         bool
		resource    string
	}{
		{"workload pool, option", false, false, rabWorkloadPool},
		{"workload pool, environment", false, true, rabWorkloadPool},
		{"impersonated service account", true, false, "projects/-/serviceAccounts/" + rabSA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				emu := ststest.NewInMemoryServer(ststest.Options{})
				defer emu.Close()
				emu.SetAllowedLocations(tc.resource, "0xA30", "us-central1")
				opts := Options{IAMCredentialsURL: emu.URL}
				if tc.impersonate {
					opts.IAMCredentialsURL = "" // derived from the impersonation URL
				}
				if tc.env {
					opts.Getenv = fixture.EnvMap(map[string]string{EnvRegionalAccessBoundaries: "True"})
				} else {
					opts.RegionalAccessBoundaries = true
				}
				c, api := rabLoad(t, emu, rabWorkload, tc.impersonate, opts)
				if got := call(t, c, api, "https://storage.googleapis.com/storage/v1/b/x"); got != "" {
					t.Errorf("first request carries %q", got)
				}
				if v, err := c.AllowedLocations(context.Background()); err != nil || v != "0xA30" {
					t.Errorf("AllowedLocations = %q, %v", v, err)
				}
				if got := call(t, c, api, "https://storage.googleapis.com/storage/v1/b/x"); got != "0xA30" {
					t.Errorf("second request carries %q, want 0xA30", got)
				}
				if got := call(t, c, api, "https://sts.googleapis.com/v1/token"); got != "" {
					t.Errorf("STS request carries %q", got)
				}
				lookups := 0
				for _, r := range emu.Requests() {
					if r.Header.Get("X-Allowed-Locations") != "" {
						t.Errorf("%s %s carries x-allowed-locations", r.Method, r.Path)
					}
					if r.Path == "/v1/"+tc.resource+"/allowedLocations" {
						lookups++
						tok := r.Header.Get("Authorization")
						info, _ := emu.Lookup(tok[len("Bearer "):])
						want := "exchange"
						if tc.impersonate {
							want = "impersonated"
						}
						if info.Kind != want {
							t.Errorf("lookup authorized with a %q token, want the credentials' own (%s)", info.Kind, want)
						}
					}
				}
				if lookups != 1 {
					t.Errorf("%d lookups", lookups)
				}
				synctest.Wait()
			})
		})
	}
}

// TestRegionalAccessBoundaryWorkforceUser: an authorized-user file looks up
// its workforce pool.
func TestRegionalAccessBoundaryWorkforceUser(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := ststest.NewInMemoryServer(ststest.Options{})
		defer emu.Close()
		emu.AddRefreshToken("refresh-token-value", "client")
		emu.SetAllowedLocations("locations/global/workforcePools/corp", "0x1")
		api := newAPIRecorder(t, emu)
		c, err := Load(encodeMap(t, map[string]any{
			"type": TypeExternalAccountAuthorizedUser, "audience": rabWorkforce, "refresh_token": "refresh-token-value",
			"token_url": emu.OAuthTokenURL(), "client_id": "client", "client_secret": "secret",
		}), Options{HTTPOptions: sts.HTTPOptions{HTTPClient: &http.Client{Transport: api}}, RegionalAccessBoundaries: true,
			IAMCredentialsURL: emu.URL, Getenv: func(string) string { return "" }})
		if err != nil {
			t.Fatal(err)
		}
		call(t, c, api, "https://pubsub.googleapis.com/v1/x")
		if v, _ := c.AllowedLocations(context.Background()); v != "0x1" {
			t.Errorf("AllowedLocations = %q", v)
		}
		if got := call(t, c, api, "https://pubsub.googleapis.com/v1/x"); got != "0x1" {
			t.Errorf("request carries %q", got)
		}
	})
}

// TestRegionalAccessBoundaryOff: off by default, in other universes and for
// audiences without a pool: no lookup, no header.
func TestRegionalAccessBoundaryOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := ststest.NewInMemoryServer(ststest.Options{})
		defer emu.Close()
		emu.SetAllowedLocations("", "0xA30")
		for _, opts := range []Options{
			{IAMCredentialsURL: emu.URL},
			{IAMCredentialsURL: emu.URL, Getenv: fixture.EnvMap(map[string]string{EnvRegionalAccessBoundaries: "yes"})},
		} {
			c, api := rabLoad(t, emu, rabWorkload, false, opts)
			for range 2 {
				if got := call(t, c, api, "https://storage.googleapis.com/b"); got != "" {
					t.Errorf("header %q while off", got)
				}
				synctest.Wait()
			}
		}
		m := map[string]any{
			"type": "external_account", "audience": "//iam.example-universe.test/projects/1/locations/global/workloadIdentityPools/p/providers/q",
			"universe_domain": "example-universe.test", "subject_token_type": sts.TokenTypeJWT,
			"token_url": emu.TokenURL(), "credential_source": map[string]any{"file": filepath.Join(t.TempDir(), "s")},
		}
		c, err := Load(encodeMap(t, m), Options{RegionalAccessBoundaries: true, IAMCredentialsURL: emu.URL, UniverseDomain: "example-universe.test"})
		if err != nil {
			t.Fatal(err)
		}
		if c.locations != nil {
			t.Error("lookup configured in another universe")
		}
		for _, r := range emu.Requests() {
			if r.Path != "/v1/token" {
				t.Errorf("request to %s while off", r.Path)
			}
		}
	})
}

// TestRegionalAccessBoundaryLookupDown: while the lookup fails, requests
// still go out, without the header, and the credentials keep working.
func TestRegionalAccessBoundaryLookupDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := ststest.NewInMemoryServer(ststest.Options{})
		defer emu.Close()
		emu.SetAllowedLocations(rabWorkloadPool, "0xA30")
		path := "/v1/" + rabWorkloadPool + "/allowedLocations"
		for range 5 {
			emu.PushFaults(ststest.Fault{Path: path, Status: 503})
		}
		c, api := rabLoad(t, emu, rabWorkload, false, Options{RegionalAccessBoundaries: true, IAMCredentialsURL: emu.URL,
			HTTPOptions: sts.HTTPOptions{Retry: sts.RetryPolicy{MaxAttempts: 1}}})
		for range 4 {
			if got := call(t, c, api, "https://storage.googleapis.com/b"); got != "" {
				t.Errorf("header %q while the lookup fails", got)
			}
			if v, err := c.AllowedLocations(context.Background()); err != nil || v != "" {
				t.Errorf("AllowedLocations = %q, %v", v, err)
			}
		}
		if n := emu.Count(path); n != 1 {
			t.Errorf("%d lookups in the cool-down, want 1", n)
		}
		emu.ClearFaults()
	})
}

// TestRegionalAccessBoundaryOptions: a plain-http IAM Credentials URL to a
// remote host is refused.
func TestRegionalAccessBoundaryOptions(t *testing.T) {
	_, err := Load(encodeMap(t, map[string]any{
		"type": "external_account", "audience": rabWorkload, "subject_token_type": sts.TokenTypeJWT,
		"credential_source": map[string]any{"file": "/nonexistent"},
	}), Options{IAMCredentialsURL: "http://iam.example.com"})
	var ve *sts.ValidationError
	if !errors.As(err, &ve) || ve.Field != "credfile.Options.IAMCredentialsURL" {
		t.Errorf("Load: %v", err)
	}
}
