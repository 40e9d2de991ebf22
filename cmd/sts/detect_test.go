package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/metaserver"
	"github.com/stsgo/sts/ststest"
)

// TestTokenDetects: `sts token` with no flags prints a token from each
// place credentials are detected: the file GOOGLE_APPLICATION_CREDENTIALS
// names, gcloud's well-known file under CLOUDSDK_CONFIG or HOME, and the
// metadata server on loopback through GCE_METADATA_HOST (served here by
// package metaserver, as `sts serve` does).
func TestTokenDetects(t *testing.T) {
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	files := credFiles(t, emu)
	oidc, _ := os.ReadFile(files["oidc"])

	gcloudDir := t.TempDir()
	writeFile(t, gcloudDir, "application_default_credentials.json", string(oidc))
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".config", "gcloud"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(home, ".config", "gcloud"), "application_default_credentials.json", string(oidc))

	// A metadata server whose tokens the emulator issued.
	src, err := sts.NewTokenSource(sts.Config{
		Subject:          sts.StaticSubject(testSubject),
		SubjectTokenType: sts.TokenTypeJWT,
		Audience:         testAudience,
		TokenURL:         emu.TokenURL(),
	})
	if err != nil {
		t.Fatal(err)
	}
	md, err := metaserver.New(metaserver.Config{TokenSource: src, Email: "runner@demo-project.iam.gserviceaccount.com"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := metaserver.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: md, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	for _, tc := range []struct {
		name string
		env  []string
		kind string
	}{
		{"environment", []string{"GOOGLE_APPLICATION_CREDENTIALS=" + files["impersonation"], "CLOUDSDK_CONFIG=" + gcloudDir}, "impersonated"},
		{"CLOUDSDK_CONFIG", []string{"CLOUDSDK_CONFIG=" + gcloudDir, "HOME=" + t.TempDir()}, "exchange"},
		{"HOME", []string{"HOME=" + home}, "exchange"},
		{"metadata server", []string{"GCE_METADATA_HOST=" + ln.Addr().String()}, "exchange"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, tc.env, "", "token")
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("%+v", r)
			}
			tok := strings.TrimSpace(r.stdout)
			if info, ok := emu.Lookup(tok); !ok || info.Kind != tc.kind {
				t.Fatalf("printed %q: issued %t %+v", tok, ok, info)
			}
		})
	}

	t.Run("nothing found", func(t *testing.T) {
		r := cli(t, nil, "", "token")
		if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "no credentials found: GOOGLE_APPLICATION_CREDENTIALS is not set; there is no file "+
			filepath.Join(testHome, ".config", "gcloud", "application_default_credentials.json")+"; no metadata server answered within 2s; pass --credentials FILE") {
			t.Errorf("%+v", r)
		}
	})

	t.Run("rotation written back to the detected file", func(t *testing.T) {
		emu.SetRefreshTokenRotation(true)
		defer emu.SetRefreshTokenRotation(false)
		dir := t.TempDir()
		user, _ := os.ReadFile(files["user"])
		wk := writeFile(t, dir, "application_default_credentials.json", string(user))
		r := cli(t, []string{"CLOUDSDK_CONFIG=" + dir}, "", "token")
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("%+v", r)
		}
		after, _ := os.ReadFile(wk)
		var m map[string]string
		if json.Unmarshal(after, &m) != nil || m["refresh_token"] == "refresh-token-secret-7c1e" || !emu.RefreshTokenValid(m["refresh_token"]) {
			t.Errorf("refresh token not saved to the detected file: %s", after)
		}
		// Put the original token back for the other tests.
		emu.AddRefreshToken("refresh-token-secret-7c1e", "cli-client")
	})
}

// TestIntrospectFollowsTheFile: `sts introspect --credentials FILE` asks
// the introspection endpoint next to the file's token_url (here the
// emulator's), not sts.googleapis.com.
func TestIntrospectFollowsTheFile(t *testing.T) {
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	files := credFiles(t, emu)
	r := cli(t, nil, "", "introspect", "--credentials", files["oidc"], "--format", "json")
	var got map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &got) != nil || got["active"] != true || got["sub"] != "cli-test" {
		t.Fatalf("%+v", r)
	}
}

// TestAllowHost: a file naming another host is refused, naming the field,
// unless --allow-host names the host.
func TestAllowHost(t *testing.T) {
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	dir := t.TempDir()
	subject := writeFile(t, dir, "subject.jwt", testSubject)
	file := writeFile(t, dir, "corp.json", `{"type":"external_account","audience":"`+testAudience+`",
		"subject_token_type":"urn:ietf:params:oauth:token-type:jwt","token_url":"https://sts.corp.example/v1/token",
		"credential_source":{"file":"`+subject+`"}}`)
	r := cli(t, nil, "", "token", "--credentials", file)
	if r.code != 1 || !strings.Contains(r.stderr, `sts token: credential file "`+file+`": invalid token_url: host "sts.corp.example" is not a Google sts endpoint`) {
		t.Errorf("%+v", r)
	}
	// Allowed, the file loads, and the exchange goes there (through a
	// proxy on a closed loopback port: no name is looked up).
	r = cli(t, []string{"HTTPS_PROXY=http://" + noMetadataHost}, "", "token", "--credentials", file, "--allow-host", "sts.corp.example")
	if r.code == 0 || strings.Contains(r.stderr, "invalid token_url") || !strings.Contains(r.stderr, "POST https://sts.corp.example/v1/token") {
		t.Errorf("%+v", r)
	}
}
