package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeNodeClient: Google's Node.js auth library (google-auth-library,
// installed in node/ by `npm ci`; .ci/run does it) gets an access token,
// the project ID and an ID token from the metadata server. It is skipped
// where node or the installed modules are missing, except under CI=true,
// where it must run.
func TestServeNodeClient(t *testing.T) {
	node, err := exec.LookPath("node")
	modules := filepath.Join("node", "node_modules", "google-auth-library", "package.json")
	_, statErr := os.Stat(modules)
	if err != nil || statErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node (%v) or %s (%v) missing under CI=true: run npm ci in integration/node", err, modules, statErr)
		}
		t.Skipf("node (%v) or %s (%v) missing: run npm ci in integration/node", err, modules, statErr)
	}
	md := startMetadataServer(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client.js")
	cmd.Dir = "node"
	home := t.TempDir()
	cmd.Env = []string{
		"PATH=" + filepath.Dir(node), // no gcloud to ask for a project
		"HOME=" + home,
		"GCE_METADATA_HOST=" + md.host,
		"ID_TOKEN_AUDIENCE=https://svc.example",
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node client.js: %v\nstderr:\n%s", err, stderr.String())
	}
	var out struct {
		AccessToken, ProjectID, Email, Universe, IDToken string
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("output %q: %v", stdout.String(), err)
	}
	if info, ok := md.emu.Lookup(out.AccessToken); !ok || info.Kind != "impersonated" {
		t.Errorf("getAccessToken: not the emulator's impersonated token: %+v", info)
	}
	if out.ProjectID != serveProject || out.Email != serveSA || out.Universe != "googleapis.com" {
		t.Errorf("getProjectId %q, client_email %q, universe %q", out.ProjectID, out.Email, out.Universe)
	}
	if info, ok := md.emu.Lookup(out.IDToken); !ok || info.Kind != "id_token" || info.Audience != "https://svc.example" {
		t.Errorf("getIdTokenClient: not the emulator's ID token: %+v", info)
	}
	if strings.Contains(stderr.String(), out.AccessToken) {
		t.Errorf("node printed the token on stderr")
	}
}
