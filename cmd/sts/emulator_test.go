package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
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

	// --check-audience: testSubject has no aud; a subject with the
	// default audience or an --allowed-audience passes.
	strict, cmd3, _, _ := startEmulator(t, "--quiet", "--check-audience", "--allowed-audience", "https://github.com/org")
	defer stop(cmd3)
	if err := exchange(strict, testSubject, testAudience); !errors.As(err, &se) || se.Code != "invalid_grant" ||
		se.Description != "The audience in JWT does not match the expected values." {
		t.Errorf("--check-audience, no aud: %v", err)
	}
	for _, aud := range []string{"https:" + testAudience, "https://github.com/org"} {
		claims, _ := json.Marshal(map[string]any{"aud": aud, "exp": 4102444800})
		subject := "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString(claims) + "."
		if err := exchange(strict, subject, testAudience); err != nil {
			t.Errorf("--check-audience, aud %s: %v", aud, err)
		}
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
	status, b, _ := exchangeAndLookUp(t, base)
	if status != 200 || b != `{"encodedLocations":"0xA30","locations":["us-central1","europe-west1"]}` {
		t.Errorf("lookup: %d %s", status, b)
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

// TestEmulatorInProcess runs the command in the test's process (the other
// tests run the binary), through its flags, its banner, a subject check, a
// lookup, the request log and the stop on cancellation.
func TestEmulatorInProcess(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: pw, stderr: &stderr, getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"emulator", "--provider", testAudience, "--allowed-locations", "0x1=us-east1", "--latency", "1ms"}, e)
		pw.Close()
	}()
	br := bufio.NewReader(pr)
	base, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	base = strings.TrimSpace(base)
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, br); close(copied) }()

	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token_type": {sts.TokenTypeJWT}, "audience": {testAudience}}
	form.Set("subject_token", "hello")
	if resp, err := http.PostForm(base+"/v1/token", form); err != nil || resp.StatusCode != 400 {
		t.Fatalf("junk subject: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	status, b, accessToken := exchangeAndLookUp(t, base)
	if status != 200 || !strings.Contains(b, `"encodedLocations":"0x1"`) {
		t.Errorf("lookup: %d %s", status, b)
	}
	http.DefaultClient.CloseIdleConnections()
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	<-copied
	for _, want := range []string{"POST /v1/token 400", "POST /v1/token 200", "GET /v1/projects/123/locations/global/workloadIdentityPools/pool/allowedLocations 200"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, stderr.String())
		}
	}
	if strings.Contains(stderr.String(), accessToken) || strings.Contains(stderr.String(), testSubject) {
		t.Error("the log holds a token")
	}
}

// TestEmulatorUsageInProcess: flag errors exit with status 2 before anything
// listens.
func TestEmulatorUsageInProcess(t *testing.T) {
	for _, args := range [][]string{
		{"emulator", "extra"},
		{"emulator", "--token-lifetime", "0s"},
		{"emulator", "--latency", "-1s"},
		{"emulator", "--listen", "0.0.0.0:0"},
		{"emulator", "--listen", "nonsense"},
		{"emulator", "--listen", "localhost.:0"},
		{"emulator", "--listen", "ststest.localhost:0"},
		{"emulator", "--listen", "127.1:0"},
		{"emulator", "--listen", "127.0.0.1.nip.io:0"},
		{"emulator", "--listen", "[::ffff:10.0.0.1]:0"},
		{"emulator", "--provider", "projects/1/providers/x"},
		{"emulator", "--allowed-locations", "0xZZ"},
		{"emulator", "--no-client-auth", "--client-id", "c"},
		{"emulator", "--require-client-auth"},
		{"emulator", "--client-id", "c"}, // no secret in the environment
	} {
		var stdout, stderr bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
		if code := run(t.Context(), args, e); code != 2 || stdout.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout.String(), stderr.String())
		}
	}
}

// exchangeAndLookUp exchanges testSubject at the emulator at base, then
// looks up the allowed locations of testAudience's pool with the token, and
// returns the lookup's status and body, and the token.
func exchangeAndLookUp(t *testing.T, base string) (int, string, string) {
	t.Helper()
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
	if tok.AccessToken == "" {
		t.Fatalf("exchange: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/projects/123/locations/global/workloadIdentityPools/pool/allowedLocations", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), tok.AccessToken
}
