package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stsgo/sts/ststest"
)

const testBoundary = `{"accessBoundary":{"accessBoundaryRules":[{
  "availableResource":"//storage.googleapis.com/projects/_/buckets/demo-bucket",
  "availablePermissions":["inRole:roles/storage.objectViewer"],
  "availabilityCondition":{"expression":"resource.name.startsWith('projects/_/buckets/demo-bucket/objects/reports/')","title":"reports only"}}]}}`

func TestDownscope(t *testing.T) {
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	files := credFiles(t, emu)
	dir := t.TempDir()
	boundary := writeFile(t, dir, "boundary.json", testBoundary)

	t.Run("server-side", func(t *testing.T) {
		r := cli(t, nil, "", "downscope", "--credentials", files["impersonation"], "--boundary", boundary)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("%+v", r)
		}
		info, ok := emu.Lookup(strings.TrimSpace(r.stdout))
		if !ok || info.Kind != "downscoped" || !strings.Contains(string(info.AccessBoundary), "demo-bucket") {
			t.Fatalf("issued %t: %v", ok, info)
		}
		if info.Subject != "deployer@demo-project.iam.gserviceaccount.com" {
			t.Errorf("downscoped the wrong principal: %q", info.Subject)
		}
	})

	t.Run("client-side", func(t *testing.T) {
		r := cli(t, []string{"GOOGLE_APPLICATION_CREDENTIALS=" + files["oidc"]}, "", "downscope", "--boundary", boundary, "--client-side", "--format", "json")
		var out struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
		}
		if r.code != 0 || r.stderr != "" || json.Unmarshal([]byte(r.stdout), &out) != nil {
			t.Fatalf("%+v", r)
		}
		intermediary, sealed, ok := strings.Cut(out.AccessToken, ".")
		info, issued := emu.Lookup(intermediary)
		if !ok || sealed == "" || !issued || info.Kind != "intermediary" || out.TokenType != "Bearer" {
			t.Fatalf("token %q...: intermediary issued %t, %v", out.AccessToken[:min(20, len(out.AccessToken))], issued, info)
		}
	})

	t.Run("stdin", func(t *testing.T) {
		root := cli(t, nil, "", "token", "--credentials", files["oidc"])
		if root.code != 0 {
			t.Fatalf("%+v", root)
		}
		r := cli(t, nil, root.stdout, "downscope", "--stdin", "--token-url", emu.TokenURL(), "--boundary", boundary)
		info, ok := emu.Lookup(strings.TrimSpace(r.stdout))
		if r.code != 0 || !ok || info.Kind != "downscoped" || info.Subject != "cli-test" {
			t.Fatalf("%+v: issued %t, %v", r, ok, info)
		}
	})

	t.Run("errors", func(t *testing.T) {
		bad := writeFile(t, dir, "bad.json", `{"accessBoundary":{"accessBoundaryRules":[{"availableResource":"//storage.googleapis.com/projects/_/buckets/b","availablePermissions":["roles/storage.objectViewer"]}]}}`)
		for _, c := range []struct {
			stdin string
			args  []string
			code  int
			want  string
		}{
			{"", []string{"downscope", "--credentials", files["oidc"]}, 2, "--boundary"},
			{"", []string{"downscope", "--credentials", files["oidc"], "--boundary", bad}, 1, "availablePermissions[0]"},
			{"", []string{"downscope", "--credentials", files["oidc"], "--boundary", dir + "/none.json"}, 1, "none.json"},
			{"", []string{"downscope", "--credentials", files["user"], "--boundary", boundary}, 1, "external_account"},
			{"x", []string{"downscope", "--stdin", "--credentials", files["oidc"], "--boundary", boundary}, 2, "--stdin"},
			{"", []string{"downscope", "--stdin", "--token-url", emu.TokenURL(), "--boundary", boundary}, 2, "no token"},
			{"rejected-token", []string{"downscope", "--stdin", "--token-url", emu.TokenURL(), "--boundary", boundary, "--client-side"}, 1, "invalid_grant"},
			{"t", []string{"downscope", "--stdin", "--token-url", "http://sts.example.com/v1/token", "--boundary", boundary}, 1, "TokenURL"},
		} {
			if c.stdin == "rejected-token" {
				emu.PushFaults(ststest.ErrorFault(400, "invalid_grant", "the subject token is not valid"))
			}
			r := cli(t, nil, c.stdin, c.args...)
			if r.code != c.code || r.stdout != "" || !strings.Contains(r.stderr, c.want) {
				t.Errorf("sts %v: want exit %d and %q on stderr, got %+v", c.args, c.code, c.want, r)
			}
			if s := secretsIn(r.stderr); len(s) > 0 {
				t.Errorf("sts %v: stderr holds secrets %q", c.args, s)
			}
		}
	})
}
