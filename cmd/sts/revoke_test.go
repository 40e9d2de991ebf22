package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stsgo/sts/ststest"
)

// TestRevoke: sts revoke signs an authorized-user file out at its
// revoke_url, after which sts token fails with invalid_grant; files that
// cannot be revoked fail without a request; no secret is printed.
func TestRevoke(t *testing.T) {
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	files := credFiles(t, emu)
	var user map[string]any
	b, err := os.ReadFile(files["user"])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &user); err != nil {
		t.Fatal(err)
	}
	user["revoke_url"] = emu.RevokeURL()
	withURL, _ := json.Marshal(user)
	file := writeFile(t, t.TempDir(), "user.json", string(withURL))

	if r := cli(t, nil, "", "token", "--credentials", file); r.code != 0 {
		t.Fatalf("token before revoke: %+v", r)
	}
	r := cli(t, nil, "", "revoke", "--credentials", file)
	if r.code != 0 || strings.TrimSpace(r.stdout) != "revoked" {
		t.Fatalf("revoke: %+v", r)
	}
	r = cli(t, nil, "", "token", "--credentials", file)
	if r.code != 1 || !strings.Contains(r.stderr, "invalid_grant") {
		t.Errorf("token after revoke: %+v; want invalid_grant", r)
	}
	if n := emu.Count("/v1/revoke"); n != 1 {
		t.Errorf("%d revocations", n)
	}

	var printed strings.Builder
	for _, name := range []string{"oidc"} { // a file source
		r := cli(t, nil, "", "revoke", "--credentials", files[name])
		if r.code != 1 || !strings.Contains(r.stderr, "revoke") {
			t.Errorf("%s: %+v", name, r)
		}
		printed.WriteString(r.stdout + r.stderr)
	}
	if n := emu.Count("/v1/revoke"); n != 1 {
		t.Errorf("%d revocations; files that cannot revoke sent requests", n-1)
	}
	if s := secretsIn(printed.String()); len(s) > 0 {
		t.Errorf("output holds secrets %v", s)
	}
}
