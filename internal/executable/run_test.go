package executable

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func allow(k string) string {
	if k == EnvAllow {
		return "1"
	}
	return ""
}

// config is a runnable Config for the helper in the given mode, with a fixed
// clock and the allow switch on.
func config(t *testing.T, mode ...string) Config {
	return Config{
		Command:   helperCommand(t, mode...),
		Timeout:   20 * time.Second, // generous: only the time-out tests rely on it
		Audience:  "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x",
		TokenType: TokenTypeIDToken,
		Getenv:    allow,
		Environ:   helperEnviron,
		Now:       func() time.Time { return testNow },
	}
}

// helperEnviron is the environment for helper processes: under the race
// detector a process otherwise lingers for a second at exit.
func helperEnviron() []string {
	return append(os.Environ(), "GORACE=atexit_sleep_ms=0")
}

func future() int64 { return testNow.Add(time.Hour).Unix() }

// noLeak fails the test when err's text contains the secret token.
func noLeak(t *testing.T, err error) {
	t.Helper()
	if err != nil && (strings.Contains(err.Error(), secretToken) || strings.Contains(err.Error(), "eyJ")) {
		t.Errorf("error %q leaks the token", err)
	}
}

func mustRun(t *testing.T, c Config) Result {
	t.Helper()
	res, err := Run(context.Background(), c)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Token != secretToken {
		t.Fatalf("Run returned the wrong token")
	}
	return res
}

func TestRunSuccess(t *testing.T) {
	for _, tt := range []struct{ typ, field string }{
		{TokenTypeIDToken, "id_token"}, {TokenTypeJWT, "id_token"}, {TokenTypeSAML2, "saml_response"},
	} {
		c := config(t, "print", okJSON(tt.typ, tt.field, future()))
		c.TokenType = tt.typ
		res := mustRun(t, c)
		if res.FromFile || res.Expiry.Unix() != future() {
			t.Errorf("%s: result %v", tt.typ, res)
		}
	}
}

func TestRunNotAllowed(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	for _, v := range []string{"", "0", "true", "yes", " 1"} {
		c := config(t, "touch", marker, okJSON(TokenTypeIDToken, "id_token", 0))
		c.Getenv = func(k string) string {
			if k == EnvAllow {
				return v
			}
			return ""
		}
		_, err := Run(context.Background(), c)
		if !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1") {
			t.Errorf("allow=%q: error %v, want ErrNotAllowed naming the switch", v, err)
		}
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the command ran although executables are not allowed")
	}

	// The switch guards the output file too.
	out := filepath.Join(dir, "out.json")
	if err := os.WriteFile(out, []byte(okJSON(TokenTypeIDToken, "id_token", future())), 0o600); err != nil {
		t.Fatal(err)
	}
	c := config(t, "exit", "9", "")
	c.OutputFile = out
	c.Getenv = func(string) string { return "" }
	if _, err := Run(context.Background(), c); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("cached output file read while not allowed: %v", err)
	}
}

func TestRunDefaultGetenv(t *testing.T) {
	t.Setenv(EnvAllow, "")
	c := config(t, "print", okJSON(TokenTypeIDToken, "id_token", 0))
	c.Getenv = nil
	if _, err := Run(context.Background(), c); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("with the process environment unset: %v", err)
	}
	t.Setenv(EnvAllow, "1")
	mustRun(t, c)
}

func TestRunConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no command", func(c *Config) { c.Command = nil }, "no command"},
		{"empty program", func(c *Config) { c.Command = []string{""} }, "no command"},
		{"NUL", func(c *Config) { c.Command = append(c.Command, "a\x00b") }, "NUL"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "negative timeout"},
		{"unknown token type", func(c *Config) { c.TokenType = "urn:ietf:params:oauth:token-type:access_token" }, "cannot be supplied by an executable"},
		{"empty token type", func(c *Config) { c.TokenType = "" }, "cannot be supplied by an executable"},
	} {
		c := config(t, "print", okJSON(TokenTypeIDToken, "id_token", 0))
		tt.mod(&c)
		_, err := Run(context.Background(), c)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

func parseDump(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		m[k] = v
	}
	return m
}

func TestRunEnvironment(t *testing.T) {
	dir := t.TempDir()
	dump := filepath.Join(dir, "env")
	parent := func() []string {
		return append(helperEnviron(), "STS_TEST_PARENT=kept", EnvImpersonatedEmail+"=stale@example.com", EnvInteractive+"=1")
	}

	c := config(t, "env", dump, okJSON(TokenTypeIDToken, "id_token", 0))
	c.Environ = parent
	mustRun(t, c)
	got := parseDump(t, dump)
	want := map[string]string{
		EnvAudience:          "true:" + c.Audience,
		EnvTokenType:         "true:" + TokenTypeIDToken,
		EnvInteractive:       "true:0",
		EnvImpersonatedEmail: "false:",
		EnvOutputFile:        "false:",
		EnvRevoke:            "true:0",
		"STS_TEST_PARENT":    "true:kept",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("without impersonation: %s = %q, want %q", k, got[k], v)
		}
	}

	out := filepath.Join(dir, "cache dir", "out.json") // absent: the command runs
	c = config(t, "env", dump, okJSON(TokenTypeSAML2, "saml_response", future()))
	c.Environ = parent
	c.TokenType = TokenTypeSAML2
	c.ImpersonatedEmail = "sa@project.iam.gserviceaccount.com"
	c.OutputFile = out
	mustRun(t, c)
	got = parseDump(t, dump)
	want[EnvTokenType] = "true:" + TokenTypeSAML2
	want[EnvImpersonatedEmail] = "true:sa@project.iam.gserviceaccount.com"
	want[EnvOutputFile] = "true:" + out
	for k, v := range want {
		if got[k] != v {
			t.Errorf("with impersonation: %s = %q, want %q", k, got[k], v)
		}
	}
}

// TestChildEnv: as os/exec passes it, the parent environment loses its
// duplicates (the last value stays) and the contract's variables; a NUL
// byte is refused.
func TestChildEnv(t *testing.T) {
	c := &Config{Audience: "aud", TokenType: TokenTypeJWT}
	got, err := childEnv([]string{"A=1", "B=2", "A=3", "", EnvAudience + "=stale", "google_external_account_audience=x", "C"}, c)
	want := []string{"B=2", "A=3", "C", EnvAudience + "=aud", EnvTokenType + "=" + TokenTypeJWT, EnvInteractive + "=0", EnvRevoke + "=0"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("childEnv = %q, %v; want %q", got, err, want)
	}
	if _, err := childEnv([]string{"A=x\x00y"}, c); err == nil {
		t.Error("a NUL byte in the environment is accepted")
	}
}

func TestRunQuotedCommand(t *testing.T) {
	dir := t.TempDir()
	// A program path with spaces: link the test binary there.
	progDir := filepath.Join(dir, "my tools")
	if err := os.Mkdir(progDir, 0o755); err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(progDir, "get token")
	if err := os.Symlink(testBinary(t), prog); err != nil {
		t.Skipf("cannot symlink: %v", err)
	}
	dump := filepath.Join(dir, "args")
	resp := okJSON(TokenTypeIDToken, "id_token", 0)
	line := fmt.Sprintf(`%s -test.run=^TestHelperProcess$ -- %s args %s %s 'a b' "c \"d\"" e\ f '$HOME' ';' '' *`,
		QuoteArg(prog), helperSep, QuoteArg(dump), QuoteArg(resp))
	argv, err := SplitCommand(line)
	if err != nil {
		t.Fatal(err)
	}
	c := config(t)
	c.Command = argv
	mustRun(t, c)
	b, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	if first, _ := strconv.Unquote(lines[0]); first != prog {
		t.Errorf("argv[0] = %s, want %q", lines[0], prog)
	}
	want := quoteAll([]string{"a b", `c "d"`, "e f", "$HOME", ";", "", "*"})
	if strings.Join(lines[1:], "\n") != strings.Join(want, "\n") {
		t.Errorf("arguments:\n%s\nwant:\n%s", strings.Join(lines[1:], "\n"), strings.Join(want, "\n"))
	}
}

func TestRunTimeout(t *testing.T) {
	c := config(t, "sleep")
	c.Timeout = 300 * time.Millisecond
	start := time.Now()
	_, err := Run(context.Background(), c)
	elapsed := time.Since(start)
	var te *TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) || te.Timeout != c.Timeout {
		t.Fatalf("error %v, want a *TimeoutError", err)
	}
	if !strings.Contains(err.Error(), "300ms") {
		t.Errorf("error %q does not give the time-out", err)
	}
	// The helper sleeps an hour: ending long before that proves it was
	// killed at the time-out, with room for a loaded machine (a tight
	// wall-clock bound would fail under load, not for a bug).
	if elapsed > 30*time.Second || elapsed < c.Timeout {
		t.Errorf("Run took %s after a 300ms time-out", elapsed)
	}
}

func TestRunCallerCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, config(t, "sleep"))
	var te *TimeoutError
	if !errors.Is(err, context.Canceled) || errors.As(err, &te) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestRunBadOutput(t *testing.T) {
	for _, tt := range []struct {
		name string
		mode []string
		want string
		is   error
	}{
		{"garbage", []string{"print", "Here is your token: " + secretToken + "\n"}, "not a JSON object", nil},
		{"empty", []string{"print", ""}, "empty output", nil},
		{"broken json", []string{"print", `{"version":1,"id_token":"` + secretToken}, "malformed JSON", nil},
		{"huge", []string{"huge", strconv.Itoa(MaxOutput + 1)}, "more than 1048576 bytes", ErrOutputTooLarge},
		{"flood", []string{"flood"}, "more than 1048576 bytes", ErrOutputTooLarge},
		{"failure", []string{"print", `{"version":1,"success":false,"code":"401","message":"denied"}`}, `code "401": denied`, nil},
		{"type mismatch", []string{"print", okJSON(TokenTypeJWT, "id_token", 0)}, "does not match", nil},
		{"expired", []string{"print", okJSON(TokenTypeIDToken, "id_token", testNow.Unix())}, "expired", ErrExpired},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := Run(context.Background(), config(t, tt.mode...))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %s", d)
			}
			noLeak(t, err)
		})
	}
}

func TestRunExactlyMaxOutput(t *testing.T) {
	// MaxOutput bytes of padding is not too large; it is just not JSON.
	_, err := Run(context.Background(), config(t, "huge", strconv.Itoa(MaxOutput)))
	if errors.Is(err, ErrOutputTooLarge) || !strings.Contains(err.Error(), "not a JSON object") {
		t.Fatalf("error %v", err)
	}
}

func TestRunExitError(t *testing.T) {
	stderr := "fatal: IdP rejected assertion " + secretToken + "\nsecret=" + strings.Repeat("QUJD", 20) + "\n" + strings.Repeat("more text ", 100)
	_, err := Run(context.Background(), config(t, "exit", "3", stderr))
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("error %v, want *ExitError", err)
	}
	if ee.Code != 3 || !strings.Contains(err.Error(), "status 3") {
		t.Errorf("code %d, error %q", ee.Code, err)
	}
	if !strings.Contains(ee.Stderr, "fatal: IdP rejected assertion "+Redacted) || strings.Contains(ee.Stderr, "QUJDQUJD") {
		t.Errorf("stderr not redacted: %q", ee.Stderr)
	}
	if len(ee.Stderr) > StderrReport+len("…") || strings.Contains(ee.Stderr, "\n") {
		t.Errorf("stderr report is %d bytes, multi-line %t", len(ee.Stderr), strings.Contains(ee.Stderr, "\n"))
	}
	noLeak(t, err)

	// No stderr at all.
	_, err = Run(context.Background(), config(t, "exit", "1", ""))
	if !errors.As(err, &ee) || err.Error() != "executable: command exited with status 1" {
		t.Errorf("error %v", err)
	}
}

func TestRunStartError(t *testing.T) {
	c := config(t)
	c.Command = []string{filepath.Join(t.TempDir(), "missing", "prog"), "--secret-arg=hunter2"}
	_, err := Run(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "cannot start") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %v", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestOutputFile(t *testing.T) {
	const fresh = "fresh-token-from-command"
	freshResp := strings.Replace(okJSON(TokenTypeIDToken, "id_token", future()), secretToken, fresh, 1)
	tests := []struct {
		name     string
		content  *string // nil: no file
		mode     []string
		wantTok  string
		fromFile bool
		wantErr  string
	}{
		{name: "hit", content: ptr(okJSON(TokenTypeIDToken, "id_token", future())), mode: []string{"exit", "9", "must not run"}, wantTok: secretToken, fromFile: true},
		{name: "missing", mode: []string{"print", freshResp}, wantTok: fresh},
		{name: "empty", content: ptr(" \n"), mode: []string{"print", freshResp}, wantTok: fresh},
		{name: "expired", content: ptr(okJSON(TokenTypeIDToken, "id_token", testNow.Unix()-10)), mode: []string{"print", freshResp}, wantTok: fresh},
		{name: "within skew", content: ptr(okJSON(TokenTypeIDToken, "id_token", testNow.Unix()+10)), mode: []string{"print", freshResp}, wantTok: fresh},
		{name: "failed", content: ptr(`{"version":1,"success":false,"code":"E","message":"m"}`), mode: []string{"print", freshResp}, wantTok: fresh},
		{name: "corrupt", content: ptr(`{"version":1,"success":true,"id_token":"` + secretToken), mode: []string{"exit", "9", ""}, wantErr: "corrupt: executable: invalid response: malformed JSON"},
		{name: "garbage", content: ptr(secretToken), mode: []string{"exit", "9", ""}, wantErr: "corrupt"},
		{name: "wrong version", content: ptr(`{"version":2,"success":true}`), mode: []string{"exit", "9", ""}, wantErr: "unsupported version 2"},
		{name: "no expiry", content: ptr(okJSON(TokenTypeIDToken, "id_token", 0)), mode: []string{"exit", "9", ""}, wantErr: "missing expiration_time"},
		{name: "wrong type", content: ptr(okJSON(TokenTypeSAML2, "saml_response", future())), mode: []string{"exit", "9", ""}, wantErr: "does not match"},
		{name: "too large", content: ptr(strings.Repeat(" ", MaxOutput+1)), mode: []string{"exit", "9", ""}, wantErr: "larger than"},
		{name: "command needs expiry", mode: []string{"print", okJSON(TokenTypeIDToken, "id_token", 0)}, wantErr: "missing expiration_time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.json")
			if tt.content != nil {
				writeFile(t, out, *tt.content)
			}
			c := config(t, tt.mode...)
			c.OutputFile = out
			res, err := Run(context.Background(), c)
			noLeak(t, err)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Token != tt.wantTok || res.FromFile != tt.fromFile {
				t.Fatalf("got fromFile=%t, token match %t", res.FromFile, res.Token == tt.wantTok)
			}
		})
	}
}

func TestOutputFileNotRegular(t *testing.T) {
	c := config(t, "exit", "9", "")
	c.OutputFile = t.TempDir()
	if _, err := Run(context.Background(), c); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("error %v", err)
	}
}

func TestOutputFileUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any file")
	}
	out := filepath.Join(t.TempDir(), "out.json")
	writeFile(t, out, okJSON(TokenTypeIDToken, "id_token", future()))
	if err := os.Chmod(out, 0); err != nil {
		t.Fatal(err)
	}
	c := config(t, "exit", "9", "")
	c.OutputFile = out
	if _, err := Run(context.Background(), c); err == nil || !strings.Contains(err.Error(), "reading output file") {
		t.Fatalf("error %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
