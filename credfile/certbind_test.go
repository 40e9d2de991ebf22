package credfile

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/ststest"
)

const (
	x509Aud  = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/agents/providers/x509"
	x509Pool = "projects/123/locations/global/workloadIdentityPools/agents"
)

// TestCertificateBoundFile: a certificate file of an agent identity gets
// tokens bound to its certificate (unless the environment opts out); the
// credentials' HTTP client presents the certificate, so the bound token is
// accepted where a client without it is refused; with impersonation the
// IAM call presents it too.
func TestCertificateBoundFile(t *testing.T) {
	for _, tc := range []struct {
		name        string
		env         map[string]string
		impersonate bool
		bound       bool
	}{
		{"agent identity", nil, false, true},
		{"agent identity, impersonating", nil, true, false},
		{"opted out", map[string]string{"GOOGLE_API_PREVENT_AGENT_TOKEN_SHARING_FOR_GCP_SERVICES": "false"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fixture.NewX509(t)
			leaf := f.Rotate(t, "spiffe://agents.global.org-42.system.id.goog/agent")
			emu := ststest.NewTLSServer(ststest.Options{})
			defer emu.Close()
			m := map[string]any{
				"type": "external_account", "audience": x509Aud, "subject_token_type": sts.TokenTypeMTLS,
				"token_url":         emu.TokenURL(),
				"credential_source": map[string]any{"certificate": map[string]any{"certificate_config_location": f.Config}},
			}
			if tc.impersonate {
				m["service_account_impersonation_url"] = emu.ImpersonationURL("agent@p.iam.gserviceaccount.com")
			}
			c, err := Load(encodeMap(t, m), Options{
				HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client(), Retry: sts.RetryPolicy{MaxAttempts: 1}},
				Getenv:      fixture.EnvMap(tc.env),
			})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := c.TokenSource().Token()
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(leaf)
			want := base64.RawURLEncoding.EncodeToString(sum[:])
			exchanged := false
			for _, r := range emu.Requests() {
				if r.Path == "/v1/token" {
					exchanged = true
					if got := r.Form.Get("options") != ""; got != (tc.bound || tc.impersonate) {
						t.Errorf("options %q", r.Form.Get("options"))
					}
				}
			}
			if !exchanged {
				t.Fatal("no exchange")
			}
			info, _ := emu.Lookup(tok.AccessToken)
			if bound := info.CertFingerprint == want; bound != tc.bound || (!tc.bound && info.CertFingerprint != "") {
				t.Fatalf("token bound to %q, want bound %t", info.CertFingerprint, tc.bound)
			}
			get := func(client *http.Client) int {
				resp, err := client.Get(emu.URL + "/v1/" + x509Pool + "/allowedLocations")
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if tc.impersonate {
				return
			}
			if code := get(c.HTTPClient(emu.Client())); code != http.StatusOK {
				t.Errorf("credentials' client: %d", code)
			}
			plain := &http.Client{Transport: &bearer{tok: tok.AccessToken, base: emu.Client().Transport}}
			want401 := http.StatusOK
			if tc.bound {
				want401 = http.StatusUnauthorized
			}
			if code := get(plain); code != want401 {
				t.Errorf("client without the certificate: %d, want %d", code, want401)
			}
		})
	}
}

// bearer adds a fixed token to requests.
type bearer struct {
	tok  string
	base http.RoundTripper
}

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.tok)
	return b.base.RoundTrip(r)
}
