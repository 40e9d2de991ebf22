package aws

import (
	"strings"
	"testing"
)

var testFields = Fields{Region: "S.Region", RegionURL: "S.RegionURL", CredentialsURL: "S.CredentialsURL",
	IMDSv2TokenURL: "S.IMDSv2TokenURL", VerificationURL: "S.VerificationURL", Provider: "S.Credentials"}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestCheck: each setting is checked under the caller's name for it, and
// the environment is asked for what the settings leave out.
func TestCheck(t *testing.T) {
	const imds = "http://169.254.169.254/latest/meta-data"
	creds := map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret"}
	for _, tc := range []struct {
		name  string
		s     Settings
		field string // "" means valid
		says  string
	}{
		{"region and environment credentials", Settings{Region: "us-east-1", Getenv: env(creds)}, "", ""},
		{"metadata for both", Settings{RegionURL: imds + "/placement/availability-zone", CredentialsURL: imds + "/iam/security-credentials", Getenv: env(nil)}, "", ""},
		{"IPv6 metadata, IMDSv2, provider", Settings{RegionURL: "http://[fd00:ec2::254]/zone", IMDSv2TokenURL: "http://169.254.169.254/latest/api/token", HasProvider: true, Getenv: env(nil)}, "", ""},
		{"loopback metadata", Settings{RegionURL: "http://127.0.0.1:9/zone", HasProvider: true, Getenv: env(nil)}, "", ""},
		{"environment region", Settings{HasProvider: true, Getenv: env(map[string]string{"AWS_DEFAULT_REGION": "eu-west-1"})}, "", ""},
		{"bad region", Settings{Region: "not a region", HasProvider: true}, "S.Region", "not an AWS region name"},
		{"bad environment region", Settings{HasProvider: true, Getenv: env(map[string]string{"AWS_REGION": "nowhere!"})}, "AWS_REGION", "not an AWS region name"},
		{"region URL over plain http", Settings{RegionURL: "http://example.com/zone", HasProvider: true}, "S.RegionURL", "only allowed to the metadata service"},
		{"credentials URL not a URL", Settings{Region: "us-east-1", CredentialsURL: "::"}, "S.CredentialsURL", "not a valid URL"},
		{"IMDSv2 URL with user info", Settings{Region: "us-east-1", HasProvider: true, IMDSv2TokenURL: "https://u:p@169.254.169.254/token"}, "S.IMDSv2TokenURL", "user information"},
		{"verification URL over plain http", Settings{Region: "us-east-1", HasProvider: true, VerificationURL: "http://sts.{region}.amazonaws.com"}, "S.VerificationURL", "plain http"},
		{"no region anywhere", Settings{HasProvider: true, Getenv: env(nil)}, "S.RegionURL", "neither S.Region nor AWS_REGION"},
		{"no credentials anywhere", Settings{Region: "us-east-1", Getenv: env(nil)}, "S.CredentialsURL", "neither S.Credentials nor AWS_ACCESS_KEY_ID"},
		{"no credentials, file names", Settings{Region: "us-east-1", Getenv: env(nil)}, "file.url", "required when neither AWS_ACCESS_KEY_ID"},
	} {
		f := testFields
		if tc.name == "no credentials, file names" {
			f = Fields{RegionURL: "file.region_url", CredentialsURL: "file.url", VerificationURL: "file.verification"}
		}
		err := Check(tc.s, f)
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.field != "" && (err == nil || err.Field != tc.field || !strings.Contains(err.Reason, tc.says)):
			t.Errorf("%s: %v, want %s: …%s…", tc.name, err, tc.field, tc.says)
		}
	}
	s := Settings{Getenv: env(creds)}
	if !s.EnvHasCredentials() {
		t.Error("EnvHasCredentials with both keys = false")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	if (&Settings{}).EnvHasCredentials() {
		t.Error("EnvHasCredentials from an empty process environment = true")
	}
}
