package credfile_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/credfile"
	"github.com/stsgo/sts/ststest"
)

// Loading a credential configuration file as gcloud writes it: here a
// workload identity pool file with service account impersonation, pointed at
// the emulator. With Google Cloud clients, pass
// option.WithCredentials(googlecreds.From(creds)) (quota project included)
// or option.WithTokenSource(creds.TokenSource()).
func ExampleLoad() {
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	dir, err := os.MkdirTemp("", "sts-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	tokenFile := filepath.Join(dir, "token")
	// The CI system's OIDC token (minted here by the emulator: a JWT for the provider).
	subject := emu.SubjectJWT("ci-job", "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/ci-pool/providers/gitlab")
	if err := os.WriteFile(tokenFile, []byte(subject), 0o600); err != nil {
		log.Fatal(err)
	}
	file := fmt.Sprintf(`{
  "type": "external_account",
  "audience": "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/ci-pool/providers/gitlab",
  "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
  "token_url": %q,
  "service_account_impersonation_url": %q,
  "service_account_impersonation": {"token_lifetime_seconds": 1800},
  "quota_project_id": "example-project",
  "credential_source": {"file": %q}
}`, emu.TokenURL(), emu.ImpersonationURL("deployer@example-project.iam.gserviceaccount.com"), tokenFile)

	creds, err := credfile.Load([]byte(file), credfile.Options{
		Scopes: []string{"https://www.googleapis.com/auth/devstorage.read_only"},
		// An empty environment keeps the example's output fixed (a set
		// GOOGLE_CLOUD_QUOTA_PROJECT would override quota_project_id).
		Getenv: func(string) string { return "" },
	})
	if err != nil {
		fmt.Println(err) // a *sts.ValidationError naming the JSON field
		return
	}
	tok, err := creds.TokenSource().Token()
	if err != nil {
		fmt.Println(err)
		return
	}
	info, _ := emu.Lookup(tok.AccessToken)
	fmt.Println(creds.ServiceAccount(), creds.QuotaProjectID())
	fmt.Println(info.Kind, info.ExpiresAt.Sub(info.IssuedAt))
	// Output:
	// deployer@example-project.iam.gserviceaccount.com example-project
	// impersonated 30m0s
}

// A bad file fails at load, naming the field.
func ExampleLoad_validation() {
	_, err := credfile.Load([]byte(`{
  "type": "external_account",
  "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
  "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
  "credential_source": {"file": "/token", "format": {"type": "json"}}
}`), credfile.Options{})
	var ve *sts.ValidationError
	if errors.As(err, &ve) {
		fmt.Println(ve.Field)
	}
	// Output: credential_source.format.subject_token_field_name
}
