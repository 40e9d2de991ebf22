package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stsgo/sts/ststest"
)

// authorizeURL finds the sign-in URL sts login prints.
var authorizeURL = regexp.MustCompile(`http://127\.0\.0\.1:\d+/authorize\?\S+`)

// TestLogin signs in against the emulator: the test plays the browser by
// following the printed URL, which the emulator approves at once and
// redirects to the command's loopback listener.
func TestLogin(t *testing.T) {
	const clientID, secret = "cli-login-client", "cli-login-secret-e41b"
	emu := ststest.NewServer(ststest.Options{ClientID: clientID, ClientSecret: secret})
	defer emu.Close()
	dir := t.TempDir()
	loginConfig := writeFile(t, dir, "login-config.json", `{
  "universe_domain": "googleapis.com",
  "type": "external_account_authorized_user_login_config",
  "audience": "//iam.googleapis.com/locations/global/workforcePools/corp/providers/okta",
  "auth_url": "`+emu.AuthorizeURL()+`",
  "token_url": "`+emu.OAuthTokenURL()+`",
  "token_info_url": "`+emu.IntrospectURL()+`"
}`)
	secretFile := writeFile(t, dir, "secret", secret+"\n")
	out := filepath.Join(dir, "adc", "credentials.json")

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "login", "--login-config", loginConfig, "--client-id", clientID,
		"--client-secret-file", secretFile, "--no-browser", "--output", out, "--quota-project", "billing-proj")
	cmd.Env = baseEnv()
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	sc := bufio.NewScanner(pipe)
	var signIn string
	for signIn == "" && sc.Scan() {
		stderr.WriteString(sc.Text() + "\n")
		signIn = authorizeURL.FindString(sc.Text())
	}
	if signIn == "" {
		_ = cmd.Wait()
		t.Fatalf("no sign-in URL printed: %q", stderr.String())
	}
	resp, err := http.Get(signIn) // the "browser": emulator approves, redirects to the listener
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	rest, _ := io.ReadAll(pipe)
	stderr.Write(rest)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("login: %v\nstderr: %s\npage: %s", err, stderr.String(), page)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("callback page: %s %s", resp.Status, page)
	}
	if !strings.Contains(stderr.String(), "Credential file written to "+out) || stdout.Len() != 0 {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	st, err := os.Stat(out)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credential file: %v %v", st, err)
	}
	var cred map[string]any
	raw, _ := os.ReadFile(out)
	if json.Unmarshal(raw, &cred) != nil || cred["type"] != "external_account_authorized_user" || cred["client_id"] != clientID ||
		cred["quota_project_id"] != "billing-proj" || cred["token_info_url"] != emu.IntrospectURL() {
		t.Fatalf("credential file %s", raw)
	}
	rt, _ := cred["refresh_token"].(string)
	if !emu.RefreshTokenValid(rt) {
		t.Fatalf("refresh token not issued by the emulator")
	}
	for _, s := range []string{secret, rt} {
		if strings.Contains(stderr.String(), s) {
			t.Errorf("stderr holds a secret")
		}
	}

	// The new file works: a token, and its introspection.
	r := cli(t, nil, "", "token", "--credentials", out)
	info, ok := emu.Lookup(strings.TrimSpace(r.stdout))
	if r.code != 0 || !ok {
		t.Fatalf("token with the new file: %+v", r)
	}
	r = cli(t, nil, "", "introspect", "--credentials", out)
	if r.code != 0 || !strings.Contains(r.stdout, "active:     true") || !strings.Contains(r.stdout, info.Subject) {
		t.Fatalf("introspect with the new file: %+v (subject %q)", r, info.Subject)
	}
}

func TestLoginUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.json", `{"type":"external_account","audience":"x"}`)
	for _, c := range []struct {
		env  []string
		args []string
		code int
		want string
	}{
		{nil, []string{"login", "--output", "x"}, 2, "--client-id"},
		{nil, []string{"login", "--client-id", "c"}, 2, "--output"},
		{nil, []string{"login", "--client-id", "c", "--output", "-"}, 2, "--audience"},
		{nil, []string{"login", "--client-id", "c", "--output", "-", "--audience", "//iam.googleapis.com/locations/global/workforcePools/p/providers/q"}, 2, clientSecretEnv},
		{nil, []string{"login", "--client-id", "c", "--output", "-", "--login-config", bad}, 1, "external_account_authorized_user_login_config"},
		{[]string{clientSecretEnv + "=s3"}, []string{"login", "--client-id", "c", "--output", "-", "--audience", "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q"}, 1, "workforce"},
		{[]string{clientSecretEnv + "=s3"}, []string{"login", "--client-id", "c", "--output", "-", "--audience", "//iam.googleapis.com/locations/global/workforcePools/p/providers/q", "--listen", "0.0.0.0:0"}, 1, "loopback"},
	} {
		r := cli(t, c.env, "", c.args...)
		if r.code != c.code || r.stdout != "" || !strings.Contains(r.stderr, c.want) {
			t.Errorf("sts %v: want exit %d and %q on stderr, got %+v", c.args, c.code, c.want, r)
		}
	}
}
