package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/stsgo/sts/ststest"
)

// startServe runs `sts serve args...` (see startServer).
func startServe(t *testing.T, args ...string) (base string, cmd *exec.Cmd, banner string, stderr *bytes.Buffer) {
	t.Helper()
	return startServer(t, "serve", args...)
}

// mdGet asks a metadata server for path with Metadata-Flavor: Google.
func mdGet(t *testing.T, c *http.Client, url string, flavor bool) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if flavor {
		req.Header.Set("Metadata-Flavor", "Google")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("Metadata-Flavor") != "Google" && !strings.HasSuffix(url, "/readyz") {
		t.Errorf("GET %s: no Metadata-Flavor: Google", url)
	}
	return resp.StatusCode, string(body)
}

func stopServe(t *testing.T, cmd *exec.Cmd, sig syscall.Signal, stderr *bytes.Buffer) {
	t.Helper()
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve exit after %v: %v (stderr %q)", sig, err, stderr.String())
	}
}

func TestServe(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("signals")
	}
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	files := credFiles(t, emu)
	base, cmd, banner, stderr := startServe(t, "--credentials", files["impersonation"], "--project-id", "demo-project", "--log-requests", "--health-listen", "127.0.0.1:0")
	if !strings.HasPrefix(base, "http://127.0.0.1:") || !strings.Contains(banner, "GCE_METADATA_HOST="+strings.TrimPrefix(base, "http://")) {
		t.Fatalf("banner:\n%s", banner)
	}
	c := &http.Client{}
	defer c.CloseIdleConnections()
	sa := base + "/computeMetadata/v1/instance/service-accounts/default/"

	code, body := mdGet(t, c, sa+"token", true)
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal([]byte(body), &tok); code != 200 || err != nil || tok.ExpiresIn < 3000 || tok.TokenType != "Bearer" {
		t.Fatalf("token: %d %q %v", code, body, err)
	}
	info, ok := emu.Lookup(tok.AccessToken)
	if !ok || info.Kind != "impersonated" {
		t.Errorf("served token is not the impersonated one: %+v", info)
	}
	for path, want := range map[string]string{
		sa + "email":  "deployer@demo-project.iam.gserviceaccount.com",
		sa + "scopes": "https://www.googleapis.com/auth/cloud-platform\n",
		base + "/computeMetadata/v1/project/project-id":         "demo-project",
		base + "/computeMetadata/v1/project/numeric-project-id": "123",
		base + "/computeMetadata/v1/universe/universe-domain":   "googleapis.com",
	} {
		if code, body := mdGet(t, c, path, true); code != 200 || body != want {
			t.Errorf("GET %s: %d %q, want %q", path, code, body, want)
		}
	}
	// Another scope set is honoured with its own exchange.
	code, body = mdGet(t, c, sa+"token?scopes=https://www.googleapis.com/auth/devstorage.read_only", true)
	if err := json.Unmarshal([]byte(body), &tok); code != 200 || err != nil {
		t.Fatalf("scoped token: %d %q", code, body)
	}
	if info, _ := emu.Lookup(tok.AccessToken); len(info.Scopes) != 1 || info.Scopes[0] != "https://www.googleapis.com/auth/devstorage.read_only" {
		t.Errorf("scoped token's scopes: %q", info.Scopes)
	}
	if code, body := mdGet(t, c, sa+"token", false); code != 403 || strings.Contains(body, "ststest-") {
		t.Errorf("without Metadata-Flavor: %d %q", code, body)
	}
	// ID tokens of the impersonated service account, from IAM generateIdToken.
	code, body = mdGet(t, c, sa+"identity?audience=https://svc.example&format=full", true)
	if info, ok := emu.Lookup(body); code != 200 || !ok || info.Kind != "id_token" || info.Audience != "https://svc.example" || info.Subject != "deployer@demo-project.iam.gserviceaccount.com" {
		t.Errorf("identity: %d %q %+v", code, body, info)
	}
	// The probe address answers readiness and nothing else.
	var probe string
	for line := range strings.Lines(banner) {
		if u, ok := strings.CutPrefix(line, "Readiness: "); ok {
			probe = strings.TrimSpace(u)
		}
	}
	if code, _ := mdGet(t, c, probe, false); code != 200 {
		t.Errorf("readiness %s: %d", probe, code)
	}
	req, _ := http.NewRequest("GET", strings.TrimSuffix(probe, "/readyz")+"/computeMetadata/v1/instance/service-accounts/default/token", nil)
	req.Header.Set("Metadata-Flavor", "Google")
	if resp, err := c.Do(req); err != nil || resp.StatusCode != 404 {
		t.Errorf("token on the probe address: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	c.CloseIdleConnections()
	stopServe(t, cmd, syscall.SIGTERM, stderr)
	if found := secretsIn(stderr.String()); len(found) > 0 {
		t.Errorf("stderr holds secrets %q:\n%s", found, stderr.String())
	}
	if !strings.Contains(stderr.String(), "path=/computeMetadata/v1/instance/service-accounts/default/token") {
		t.Errorf("--log-requests logged no request:\n%s", stderr.String())
	}
}

// TestServeSocketAndBoundary: over a Unix socket (mode 0600), with every
// token downscoped; SIGINT stops it and removes the socket.
func TestServeSocketAndBoundary(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("signals and Unix sockets")
	}
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	files := credFiles(t, emu)
	dir := t.TempDir()
	boundary := writeFile(t, dir, "boundary.json", testBoundary)
	sock := filepath.Join(dir, "md.sock")
	base, cmd, _, stderr := startServe(t, "--credentials", files["oidc"], "--socket", sock, "--boundary", boundary)
	if base != "unix:"+sock {
		t.Fatalf("first line %q", base)
	}
	if fi, err := os.Lstat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v %v", fi, err)
	}
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	defer c.CloseIdleConnections()
	code, body := mdGet(t, c, "http://any-host/computeMetadata/v1/instance/service-accounts/default/token", true)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(body), &tok); code != 200 || err != nil {
		t.Fatalf("token over the socket: %d %q", code, body)
	}
	if info, _ := emu.Lookup(tok.AccessToken); info.Kind != "downscoped" || len(info.AccessBoundary) == 0 {
		t.Errorf("served token is not downscoped: %+v", info)
	}
	if code, body := mdGet(t, c, "http://any-host/computeMetadata/v1/instance/service-accounts/default/identity?audience=x", true); code != 404 || !strings.Contains(body, "--boundary") {
		t.Errorf("identity under a boundary: %d %q", code, body)
	}
	c.CloseIdleConnections()
	stopServe(t, cmd, syscall.SIGINT, stderr)
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
}

func TestServeFlagErrors(t *testing.T) {
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	files := credFiles(t, emu)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"serve", "--credentials", files["oidc"], "--listen", "0.0.0.0:0"}, 2, "loopback"},
		{[]string{"serve", "--credentials", files["oidc"], "--listen", "example.com:80"}, 2, "loopback"},
		{[]string{"serve", "--credentials", files["oidc"], "--socket-group", "x"}, 2, "--socket"},
		{[]string{"serve", "--credentials", files["oidc"], "--listen", "127.0.0.1:0", "--socket", t.TempDir() + "/s"}, 2, "exclude"},
		{[]string{"serve", "--credentials", files["oidc"], "extra"}, 2, "arguments"},
		{[]string{"serve"}, 2, "GOOGLE_APPLICATION_CREDENTIALS"},
		{[]string{"serve", "--credentials", files["user"], "--boundary", writeFile(t, t.TempDir(), "b.json", testBoundary)}, 1, "external_account"},
	} {
		r := cli(t, nil, "", tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("%q: code %d, stderr %q, stdout %q; want %d and %q", tc.args, r.code, r.stderr, r.stdout, tc.code, tc.want)
		}
	}
}

// TestServeFederatedOnly: a credential that impersonates no service account
// answers "default" as its email and 404 with the reason for ID tokens.
func TestServeFederatedOnly(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("signals")
	}
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	files := credFiles(t, emu)
	base, cmd, _, stderr := startServe(t, "--credentials", files["oidc"], "--scope", "https://www.googleapis.com/auth/devstorage.read_only")
	c := &http.Client{}
	sa := base + "/computeMetadata/v1/instance/service-accounts/default/"
	if code, body := mdGet(t, c, sa+"email", true); code != 200 || body != "default" {
		t.Errorf("email: %d %q", code, body)
	}
	if code, body := mdGet(t, c, sa+"scopes", true); code != 200 || body != "https://www.googleapis.com/auth/devstorage.read_only\n" {
		t.Errorf("scopes: %d %q", code, body)
	}
	if code, body := mdGet(t, c, sa+"identity?audience=x", true); code != 404 || !strings.Contains(body, "impersonates no service account") {
		t.Errorf("identity: %d %q", code, body)
	}
	// --scope is a ceiling: a request for more gets the configured scopes.
	code, body := mdGet(t, c, sa+"token?scopes=https://www.googleapis.com/auth/cloud-platform", true)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(body), &tok); code != 200 || err != nil {
		t.Fatalf("token: %d %q", code, body)
	}
	if info, _ := emu.Lookup(tok.AccessToken); len(info.Scopes) != 1 || info.Scopes[0] != "https://www.googleapis.com/auth/devstorage.read_only" {
		t.Errorf("token scopes %q", info.Scopes)
	}
	c.CloseIdleConnections()
	stopServe(t, cmd, syscall.SIGTERM, stderr)
}
