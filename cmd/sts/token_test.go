package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stsgo/sts/ststest"
)

const testAudience = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/oidc"

// testSubject is the subject token the credential files point at.
// It expires in 2100: the emulator refuses expired JWT subjects, as STS does.
const testSubject = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJjbGktdGVzdCIsImV4cCI6NDEwMjQ0NDgwMH0.c3ViamVjdC1zZWNyZXQ"

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// credFiles writes credential files pointing at emu: "oidc" (file source),
// "impersonation" (the same, then a service account) and "user"
// (external_account_authorized_user, refresh token registered with emu).
func credFiles(t *testing.T, emu *ststest.Server) map[string]string {
	dir := t.TempDir()
	subject := writeFile(t, dir, "subject.jwt", testSubject+"\n")
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	base := map[string]any{
		"type":               "external_account",
		"audience":           testAudience,
		"subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
		"token_url":          emu.TokenURL(),
		"credential_source":  map[string]any{"file": subject},
	}
	imp := map[string]any{}
	for k, v := range base {
		imp[k] = v
	}
	imp["service_account_impersonation_url"] = emu.ImpersonationURL("deployer@demo-project.iam.gserviceaccount.com")
	emu.AddRefreshToken("refresh-token-secret-7c1e", "cli-client")
	user := map[string]any{
		"type":          "external_account_authorized_user",
		"audience":      "//iam.googleapis.com/locations/global/workforcePools/corp/providers/okta",
		"refresh_token": "refresh-token-secret-7c1e",
		"token_url":     emu.URL + "/v1/oauthtoken",
		"client_id":     "cli-client",
		"client_secret": "client-secret-9d2f",
	}
	return map[string]string{
		"oidc":          writeFile(t, dir, "oidc.json", js(base)),
		"impersonation": writeFile(t, dir, "impersonation.json", js(imp)),
		"user":          writeFile(t, dir, "user.json", js(user)),
		"not found":     writeFile(t, dir, "notfound.json", strings.Replace(js(base), "/v1/token", "/v1/missing", 1)),
		"broken":        writeFile(t, dir, "broken.json", `{"type":"external_account","audience":"`+testAudience+`","subject_token_type":"urn:ietf:params:oauth:token-type:jwt","credential_source":{"file":""}}`),
	}
}

// secretsIn reports which of the test's secrets s contains.
func secretsIn(s string) []string {
	var found []string
	for _, secret := range []string{testSubject, "c3ViamVjdC1zZWNyZXQ", "refresh-token-secret-7c1e", "client-secret-9d2f"} {
		if strings.Contains(s, secret) {
			found = append(found, secret)
		}
	}
	if m := issuedToken.FindString(s); m != "" {
		found = append(found, m)
	}
	return found
}

func TestToken(t *testing.T) {
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	files := credFiles(t, emu)

	for _, c := range []struct {
		file, kind, subject string
	}{
		{"oidc", "exchange", "cli-test"},
		{"impersonation", "impersonated", "deployer@demo-project.iam.gserviceaccount.com"},
		{"user", "refreshed", ""},
	} {
		t.Run(c.file, func(t *testing.T) {
			r := cli(t, nil, "", "token", "--credentials", files[c.file])
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("%+v", r)
			}
			tok := strings.TrimSpace(r.stdout)
			info, ok := emu.Lookup(tok)
			if !ok || info.Kind != c.kind || (c.subject != "" && info.Subject != c.subject) {
				t.Fatalf("printed %q: issued %t, %v", tok, ok, info)
			}
		})
	}

	t.Run("json and scopes from the environment", func(t *testing.T) {
		r := cli(t, []string{"GOOGLE_APPLICATION_CREDENTIALS=" + files["oidc"]}, "", "token",
			"--format", "json", "--scope", "https://www.googleapis.com/auth/devstorage.read_only", "--scope", "https://www.googleapis.com/auth/userinfo.email")
		var out struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
			Expiry      string `json:"expiry"`
		}
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil {
			t.Fatalf("%+v", r)
		}
		info, ok := emu.Lookup(out.AccessToken)
		exp, err := time.Parse(time.RFC3339, out.Expiry)
		if !ok || out.TokenType != "Bearer" || err != nil || exp.Sub(info.ExpiresAt).Abs() > 2*time.Second {
			t.Fatalf("json %+v: issued %t, %v", out, ok, info)
		}
		if fmt.Sprint(info.Scopes) != "[https://www.googleapis.com/auth/devstorage.read_only https://www.googleapis.com/auth/userinfo.email]" {
			t.Errorf("scopes %v", info.Scopes)
		}
	})

	t.Run("rotated refresh token is saved", func(t *testing.T) {
		emu.SetRefreshTokenRotation(true)
		defer emu.SetRefreshTokenRotation(false)
		before, _ := os.ReadFile(files["user"])
		for i := range 2 {
			r := cli(t, nil, "", "token", "--credentials", files["user"])
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("run %d: %+v", i, r)
			}
		}
		after, _ := os.ReadFile(files["user"])
		var b, a map[string]any
		if json.Unmarshal(before, &b) != nil || json.Unmarshal(after, &a) != nil {
			t.Fatal("credential file is not JSON")
		}
		if a["refresh_token"] == b["refresh_token"] || !emu.RefreshTokenValid(a["refresh_token"].(string)) {
			t.Errorf("refresh token not saved: %v -> %v", b["refresh_token"], a["refresh_token"])
		}
		if emu.RefreshTokenValid(b["refresh_token"].(string)) {
			t.Error("the original refresh token was not rotated away")
		}
		delete(a, "refresh_token")
		delete(b, "refresh_token")
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("other fields changed: %v -> %v", b, a)
		}
		if st, _ := os.Stat(files["user"]); st.Mode().Perm() != 0o600 {
			t.Errorf("mode %v", st.Mode())
		}
	})

	t.Run("errors", func(t *testing.T) {
		emu.PushFaults(ststest.ErrorFault(400, "invalid_grant", "the subject token was rejected"))
		for _, c := range []struct {
			env  []string
			args []string
			code int
			want string
		}{
			{nil, []string{"token"}, 2, "GOOGLE_APPLICATION_CREDENTIALS"},
			{nil, []string{"token", "--credentials", files["oidc"]}, 1, "sts token: exchange: POST " + emu.TokenURL() + ": status 400: invalid_grant"},
			{nil, []string{"token", "--credentials", files["not found"]}, 1, "sts token: exchange: POST " + emu.URL + "/v1/missing: status 404"},
			{nil, []string{"token", "--credentials", files["broken"]}, 1, "credential_source"},
			{nil, []string{"token", "--credentials", filepath.Join(t.TempDir(), "missing.json")}, 1, "missing.json"},
			{nil, []string{"token", "--credentials", files["oidc"], "--format", "yaml"}, 2, "--format"},
			{nil, []string{"token", "--credentials", files["oidc"], "--scope", ""}, 2, "scope"},
			{[]string{"GOOGLE_APPLICATION_CREDENTIALS=" + files["broken"]}, []string{"token"}, 1, "credential_source"},
		} {
			r := cli(t, c.env, "", c.args...)
			if r.code != c.code || r.stdout != "" || !strings.Contains(r.stderr, c.want) {
				t.Errorf("sts %v: want exit %d and %q on stderr, got %+v", c.args, c.code, c.want, r)
			}
			if s := secretsIn(r.stderr); len(s) > 0 {
				t.Errorf("sts %v: stderr holds secrets %q", c.args, s)
			}
		}
	})
}
