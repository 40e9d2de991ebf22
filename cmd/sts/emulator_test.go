package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/stsgo/sts"
)

// TestEmulatorSubjectChecksAndProviders: the emulator refuses what STS
// refuses, with STS's OAuth errors, unless started with --accept-any.
func TestEmulatorSubjectChecksAndProviders(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("signals")
	}
	exchange := func(base, subject, audience string) error {
		x, err := sts.NewTokenSource(sts.Config{
			Subject: sts.StaticSubject(subject), SubjectTokenType: sts.TokenTypeJWT,
			Audience: audience, TokenURL: base + "/v1/token", HTTPOptions: sts.HTTPOptions{Retry: sts.RetryPolicy{MaxAttempts: 1}},
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = x.TokenContext(t.Context())
		return err
	}
	stop := func(cmd *exec.Cmd) {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
	base, cmd, banner, _ := startEmulator(t, "--quiet", "--provider", testAudience)
	defer stop(cmd)
	if !strings.Contains(banner, base+"/v1/revoke") {
		t.Errorf("banner lacks the revocation endpoint:\n%s", banner)
	}
	var se *sts.Error
	if err := exchange(base, "hello", testAudience); !errors.As(err, &se) || se.Code != "invalid_grant" || se.Description != "Unable to parse the ID Token." {
		t.Errorf("not a JWT: %v", err)
	}
	other := strings.Replace(testAudience, "providers/oidc", "providers/other", 1)
	if err := exchange(base, testSubject, other); !errors.As(err, &se) || se.Code != "invalid_target" {
		t.Errorf("unknown provider: %v", err)
	}
	if err := exchange(base, testSubject, testAudience); err != nil {
		t.Errorf("a valid JWT: %v", err)
	}
	lenient, cmd2, _, _ := startEmulator(t, "--quiet", "--accept-any")
	defer stop(cmd2)
	if err := exchange(lenient, "hello", other); err != nil {
		t.Errorf("--accept-any: %v", err)
	}
}

func TestEmulatorNoClientAuth(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("signals")
	}
	base, cmd, _, _ := startEmulator(t, "--quiet", "--no-client-auth")
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	for _, path := range []string{"/v1/introspect", "/v1/revoke", "/v1/oauthtoken"} {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(url.Values{"token": {"x"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("client", "secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", path, resp.StatusCode)
		}
	}
}

func TestEmulatorAllowedLocations(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("signals")
	}
	base, cmd, banner, _ := startEmulator(t, "--quiet", "--allowed-locations", "0xA30=us-central1,europe-west1")
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	for _, want := range []string{":generateIdToken", "/allowedLocations"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %s:\n%s", want, banner)
		}
	}
	resp, err := http.PostForm(base+"/v1/token", url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "subject_token": {testSubject},
		"subject_token_type": {sts.TokenTypeJWT}, "audience": {testAudience},
	})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/projects/123/locations/global/workloadIdentityPools/pool/allowedLocations", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != `{"encodedLocations":"0xA30","locations":["us-central1","europe-west1"]}` {
		t.Errorf("lookup: %d %s", resp.StatusCode, b)
	}
}

func TestEmulatorFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"emulator", "--allowed-locations", "A30"},
		{"emulator", "--allowed-locations", "0x=us"},
		{"emulator", "--allowed-locations", "0xZZ"},
		{"emulator", "--provider", "projects/1/providers/x"},
		{"emulator", "--no-client-auth", "--client-id", "c"},
		{"emulator", "--no-client-auth", "--require-client-auth"},
	} {
		if r := cli(t, []string{clientSecretEnv + "=s"}, "", args...); r.code != 2 {
			t.Errorf("sts %v: %+v", args, r)
		}
	}
}
