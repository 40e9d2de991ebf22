package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stsgo/sts"
	"go.uber.org/goleak"
)

// binary is the sts command built once for all tests.
var binary string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sts-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Credential detection must find nothing of the machine's: an empty
	// home, and a metadata server address where nothing listens.
	testHome = filepath.Join(dir, "home")
	if err := os.Mkdir(testHome, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	noMetadataHost = ln.Addr().String()
	ln.Close()
	binary = filepath.Join(dir, "sts")
	if runtime.GOOS == "windows" {
		binary += ".exe"
	}
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building sts: %v\n%s", err, out)
		return 1
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines leaked: %v\n", err)
			return 1
		}
	}
	return code
}

// result is what one run of the binary produced.
type result struct {
	stdout, stderr string
	code           int
}

// cli runs the binary with args; env entries are added to a minimal
// environment (no GOOGLE_* variables of the machine leak in).
func cli(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(baseEnv(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("running sts %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

func baseEnv() []string {
	env := []string{"HOME=" + testHome, "APPDATA=" + testHome, "GCE_METADATA_HOST=" + noMetadataHost}
	for _, k := range []string{"PATH", "TMPDIR", "SYSTEMROOT"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// testHome is the empty home directory of every run; noMetadataHost a
// loopback address where nothing listens.
var testHome, noMetadataHost string

// issuedToken matches an emulator-issued access token in full.
var issuedToken = regexp.MustCompile(`ststest-[a-z]+-[A-Za-z0-9_-]{20,}`)

func TestVersion(t *testing.T) {
	r := cli(t, nil, "", "version")
	if r.code != 0 || !strings.Contains(r.stdout, "sts "+sts.Version) || r.stderr != "" {
		t.Fatalf("version: %+v", r)
	}
	if r := cli(t, nil, "", "version", "extra"); r.code != 2 {
		t.Fatalf("version with an argument: %+v", r)
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	top := cli(t, nil, "", "--help")
	if top.code != 0 || !strings.Contains(top.stdout, "Commands:") {
		t.Fatalf("--help: %+v", top)
	}
	for name := range commands {
		t.Run(name, func(t *testing.T) {
			for _, args := range [][]string{{name, "--help"}, {name, "-h"}, {"help", name}} {
				r := cli(t, nil, "", args...)
				if r.code != 0 || !strings.Contains(r.stdout, "Usage: sts "+name) || r.stderr != "" {
					t.Fatalf("sts %v: %+v", args, r)
				}
			}
			if !strings.Contains(top.stdout, "  "+name+" ") {
				t.Errorf("top-level help does not list %s", name)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"no-such-command"},
		{"help", "no-such-command"},
		{"demo", "--no-such-flag"},
		{"demo", "extra-argument"},
		{"emulator", "--listen", "0.0.0.0:0"},
		{"emulator", "--listen", "nonsense"},
		{"emulator", "--accept-any", "--check-audience"},
		{"emulator", "--allowed-audience", "https://github.com/org"},
	} {
		r := cli(t, nil, "", args...)
		if r.code != 2 || r.stderr == "" || r.stdout != "" {
			t.Errorf("sts %v: want exit 2 with a message on stderr only, got %+v", args, r)
		}
	}
}

func TestDemo(t *testing.T) {
	r := cli(t, nil, "", "demo")
	if r.code != 0 {
		t.Fatalf("demo failed: %+v", r)
	}
	if r.stderr != "" {
		t.Errorf("demo wrote to stderr: %q", r.stderr)
	}
	for _, want := range []string{
		"Start the STS emulator",
		"Exchange it at STS",
		"emulator token requests: 0 -> 1",
		"emulator token requests: 1 -> 1", // the cached call
		"same token: true",
		`issued to subject "demo-workload-rotated"`,
		`issued it as "impersonated" to "demo-runner@demo-project.iam.gserviceaccount.com"`,
		"generateAccessToken requests 0 -> 1, exchanges 4 -> 4",
		`issued it as "downscoped"`,
		"exchanges 4 -> 5, same token: true",
		"same intermediary token: true",
		"exchanges for both tokens: 5 -> 6",
		"one failure, one retry",
		`issued it as "impersonated" to "demo-runner@demo-project.iam.gserviceaccount.com": the same pipeline, from the file`,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, re := range []string{`server-side downscoped token:\s+active=true`, `client-side downscoped token:\s+active=true`, `a made-up token:\s+active=false`} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("demo output does not match %s", re)
		}
	}
	if m := issuedToken.FindString(r.stdout); m != "" {
		t.Errorf("demo printed a whole token %q", m)
	}
	// The subject JWT's payload (its second part) is never printed.
	if strings.Contains(r.stdout, "eyJhdWQi") || strings.Contains(r.stdout, "eyJleHAi") {
		t.Errorf("demo printed a subject token's claims:\n%s", r.stdout)
	}
}

// startEmulator runs `sts emulator` and returns its base URL, the command,
// the banner it printed (up to its "Stop it with" line) and its stderr
// (read it after cmd.Wait).
func startEmulator(t *testing.T, args ...string) (url string, cmd *exec.Cmd, banner string, stderr *bytes.Buffer) {
	t.Helper()
	return startServer(t, "emulator", args...)
}

// startServer runs a serving command (emulator, serve) as startEmulator
// describes.
func startServer(t *testing.T, command string, args ...string) (url string, cmd *exec.Cmd, banner string, stderr *bytes.Buffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	cmd = exec.CommandContext(ctx, binary, append([]string{command}, args...)...)
	cmd.Env = baseEnv()
	stderr = &bytes.Buffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	br := bufio.NewReader(out)
	var b strings.Builder
	for !strings.Contains(b.String(), "Stop it with") {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the %s banner: %v (got %q, stderr %q)", command, err, b.String(), stderr.String())
		}
		b.WriteString(line)
	}
	go func() { _, _ = io.Copy(io.Discard, br) }() // until the pipe closes
	url, _, _ = strings.Cut(b.String(), "\n")
	return url, cmd, b.String(), stderr
}

func TestEmulatorServesAndStopsOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			if runtime.GOOS == "windows" {
				t.Skip("signals")
			}
			url, cmd, _, stderr := startEmulator(t, "--listen", "127.0.0.1:0", "--token-lifetime", "10m")
			if !strings.HasPrefix(url, "http://127.0.0.1:") {
				t.Fatalf("endpoint line %q", url)
			}
			ts, err := sts.NewTokenSource(sts.Config{
				Subject:          sts.StaticSubject(testSubject),
				SubjectTokenType: sts.TokenTypeJWT,
				Audience:         "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x",
				TokenURL:         url + "/v1/token",
			})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := ts.TokenContext(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if life := time.Until(tok.Expiry); life < 9*time.Minute || life > 11*time.Minute {
				t.Errorf("token lifetime %v, want about 10m", life)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("emulator exit after %v: %v (stderr %q)", sig, err, stderr.String())
			}
			if strings.Contains(stderr.String(), tok.AccessToken) || strings.Contains(stderr.String(), testSubject) {
				t.Errorf("emulator logged a token: %q", stderr.String())
			}
			if !strings.Contains(stderr.String(), "POST /v1/token 200") {
				t.Errorf("emulator did not log the request: %q", stderr.String())
			}
		})
	}
}

// TestDemoDebugLogs runs the demo with GOOGLE_SDK_GO_LOGGING_LEVEL=debug:
// every layer logs JSON on stderr, and no token appears there.
func TestDemoDebugLogs(t *testing.T) {
	r := cli(t, []string{"GOOGLE_SDK_GO_LOGGING_LEVEL=debug"}, "", "demo")
	if r.code != 0 {
		t.Fatalf("demo failed: %+v", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) < 10 {
		t.Fatalf("only %d log lines:\n%s", len(lines), r.stderr)
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil || m["severity"] == nil || m["message"] == nil {
			t.Fatalf("not a Google-style JSON log line: %q", l)
		}
	}
	for _, want := range []string{`"op":"exchange"`, `"op":"impersonate"`, `"message":"sts: token refreshed"`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("debug log lacks %s", want)
		}
	}
	if m := issuedToken.FindString(r.stderr); m != "" {
		t.Errorf("debug log holds a token %q", m)
	}
	if strings.Contains(r.stderr, "eyJ") {
		t.Errorf("debug log holds a JWT")
	}
	if r := cli(t, []string{"GOOGLE_SDK_GO_LOGGING_LEVEL=bogus"}, "", "demo"); r.code != 0 || r.stderr != "" {
		t.Errorf("an unknown level turned logging on: %q", r.stderr)
	}
}

func TestEmulatorQuietAndEndpoints(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("signals")
	}
	url, cmd, banner, stderr := startEmulator(t, "--quiet")
	r := cli(t, nil, "not-issued", "introspect", "--url", url+"/v1/introspect")
	if r.code != 0 || !strings.Contains(r.stdout, "active:     false") {
		t.Fatalf("introspect against the emulator: %+v", r)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if stderr.Len() != 0 {
		t.Errorf("--quiet logged: %q", stderr.String())
	}
	for _, want := range []string{url + "/v1/token", url + "/v1/introspect", url + "/v1/oauthtoken", url + "/authorize",
		url + "/v1/projects/-/serviceAccounts/SERVICE_ACCOUNT_EMAIL:generateAccessToken"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %s:\n%s", want, banner)
		}
	}
}

func TestEmulatorClientAuthAndLatency(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("signals")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "emulator", "--client-id", "emu-client", "--require-client-auth", "--latency", "50ms")
	cmd.Env = append(baseEnv(), clientSecretEnv+"=emu-secret-1f")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	br := bufio.NewReader(out)
	url, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, br) }()
	url = strings.TrimSpace(url)
	cfg := func(id, secret string) sts.Config {
		return sts.Config{
			Subject: sts.StaticSubject(testSubject), SubjectTokenType: sts.TokenTypeJWT,
			Audience: testAudience, TokenURL: url + "/v1/token", ClientID: id, ClientSecret: secret,
			HTTPOptions: sts.HTTPOptions{Retry: sts.RetryPolicy{MaxAttempts: 1}},
		}
	}
	x, err := sts.NewTokenSource(cfg("", ""))
	if err != nil {
		t.Fatal(err)
	}
	var se *sts.Error
	if _, err := x.TokenContext(ctx); !errors.As(err, &se) || se.Code != "invalid_client" {
		t.Fatalf("without client credentials: %v", err)
	}
	x, err = sts.NewTokenSource(cfg("emu-client", "emu-secret-1f"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := x.TokenContext(ctx); err != nil {
		t.Fatalf("with client credentials: %v", err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("answered in %v despite --latency 50ms", d)
	}
	for _, args := range [][]string{{"emulator", "--require-client-auth"}, {"emulator", "--client-id", "c"}, {"emulator", "--latency", "-1s"}} {
		if r := cli(t, nil, "", args...); r.code != 2 {
			t.Errorf("sts %v: %+v", args, r)
		}
	}
}

func TestVersionFlags(t *testing.T) {
	want := cli(t, nil, "", "version")
	for _, arg := range []string{"--version", "-v", "-version"} {
		r := cli(t, nil, "", arg)
		if r.code != 0 || r.stdout != want.stdout || r.stderr != "" {
			t.Errorf("sts %s: %+v, want %+v", arg, r, want)
		}
	}
}

func TestHelpPrintsFlagsAsTyped(t *testing.T) {
	for name := range commands {
		r := cli(t, nil, "", name, "--help")
		for _, line := range strings.Split(r.stdout, "\n") {
			if strings.HasPrefix(line, "  -") && !strings.HasPrefix(line, "  --") {
				t.Errorf("sts %s --help prints a flag with one dash: %q", name, line)
			}
		}
	}
	r := cli(t, nil, "", "token", "--help")
	if !strings.Contains(r.stdout, "  --credentials file") {
		t.Errorf("token --help does not list --credentials: %s", r.stdout)
	}
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r := cli(t, nil, "", "completion", shell)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("completion %s: %+v", shell, r)
		}
		for name := range commands {
			if !strings.Contains(r.stdout, name) {
				t.Errorf("%s completion does not know %s", shell, name)
			}
		}
		if !strings.Contains(r.stdout, "credentials") {
			t.Errorf("%s completion does not know --credentials", shell)
		}
		// Check the script's syntax with the shell itself where it is installed.
		if path, err := exec.LookPath(shell); err == nil {
			cmd := exec.Command(path, "-n")
			cmd.Stdin = strings.NewReader(r.stdout)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s -n rejects the script: %v\n%s", shell, err, out)
			}
		}
	}
	if r := cli(t, nil, "", "completion", "tcsh"); r.code != 2 || !strings.Contains(r.stderr, "unknown shell") {
		t.Errorf("completion tcsh: %+v", r)
	}
	if r := cli(t, nil, "", "completion"); r.code != 2 {
		t.Errorf("completion without a shell: %+v", r)
	}
}

// TestCompletionBashCompletes loads the bash script and asks it to
// complete, as bash does on a tab.
func TestCompletionBashCompletes(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	script := cli(t, nil, "", "completion", "bash").stdout
	cases := []struct {
		words []string
		want  string
	}{
		{[]string{"sts", "to"}, "token"},
		{[]string{"sts", "token", "--cre"}, "--credentials"},
		{[]string{"sts", "completion", "f"}, "fish"},
	}
	for _, c := range cases {
		prog := script + "\nCOMP_WORDS=(" + strings.Join(c.words, " ") + "); COMP_CWORD=" +
			fmt.Sprint(len(c.words)-1) + "; _sts; echo \"${COMPREPLY[@]}\"\n"
		out, err := exec.Command("bash", "-c", prog).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != c.want {
			t.Errorf("completing %v: %q (%v), want %q", c.words, out, err, c.want)
		}
	}
}
