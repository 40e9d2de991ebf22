//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stsgo/sts/internal/ttytest"
	"github.com/stsgo/sts/ststest"
)

// promptScript is a credential executable that asks for a password on its
// terminal and, given the right one, answers in the output file.
const promptScript = `#!/bin/sh
[ "$GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE" = 1 ] || exit 4
if [ "$GOOGLE_EXTERNAL_ACCOUNT_REVOKE" = 1 ]; then
	printf 'Sign out? ' >&2
	read answer
	[ "$answer" = yes ] || exit 6
	rm -f "$GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE"
	printf '{"version":1,"success":true}'
	exit 0
fi
printf 'Password: '
read answer
[ "$answer" = hunter2 ] || exit 5
printf '{"version":1,"success":true,"token_type":"urn:ietf:params:oauth:token-type:id_token","id_token":"%s","expiration_time":4102444800}' "$SUBJECT" > "$GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE"
echo "Signed in."
`

// interactiveCredFile writes a workforce file whose executable is
// promptScript; extra edits its executable section.
func interactiveCredFile(t *testing.T, emu *ststest.Server, edit func(map[string]any)) string {
	dir := t.TempDir()
	script := writeFile(t, dir, "sign-in.sh", promptScript)
	if err := os.Chmod(script, 0o700); err != nil {
		t.Fatal(err)
	}
	exe := map[string]any{
		"command": script, "interactive_timeout_millis": 60000, "output_file": filepath.Join(dir, "out.json"),
	}
	if edit != nil {
		edit(exe)
	}
	b, _ := json.Marshal(map[string]any{
		"type":                        "external_account",
		"audience":                    "//iam.googleapis.com/locations/global/workforcePools/corp/providers/exe",
		"subject_token_type":          "urn:ietf:params:oauth:token-type:id_token",
		"token_url":                   emu.TokenURL(),
		"workforce_pool_user_project": "demo-project",
		"credential_source":           map[string]any{"executable": exe},
	})
	return writeFile(t, dir, "cred.json", string(b))
}

// runOnTerminal runs sts with a pseudo-terminal as its controlling
// terminal and standard input (standard output and error are captured), and
// types answer once prompt appears on the terminal. The transcript is all
// the terminal showed: the user reads it to the end (every process holding
// the terminal gone) before its side is closed.
func runOnTerminal(t *testing.T, prompt, answer string, args ...string) (result, string) {
	t.Helper()
	u, term := ttytest.StartUser(t, prompt, answer)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(baseEnv(), "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1", "SUBJECT="+testSubject)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = term, &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	u.Stop()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}, u.Transcript()
}

// TestTokenInteractive: sts token --interactive runs the file's executable
// on the controlling terminal; the prompt and the typing stay there, and
// only the token reaches standard output.
func TestTokenInteractive(t *testing.T) {
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	file := interactiveCredFile(t, emu, nil)
	res, transcript := runOnTerminal(t, "Password: ", "hunter2", "token", "--interactive", "--credentials", file)
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	tok := strings.TrimSpace(res.stdout)
	if info, ok := emu.Lookup(tok); !ok || !strings.Contains(info.Audience, "workforcePools/corp") {
		t.Errorf("stdout %q is not a token the emulator issued for the workforce pool", res.stdout)
	}
	if !strings.Contains(transcript, "Password: ") || !strings.Contains(transcript, "Signed in.") {
		t.Errorf("terminal showed %q", transcript)
	}
	if strings.Contains(res.stdout, "Password") || strings.Contains(res.stdout, "Signed in") {
		t.Errorf("the executable's terminal output reached standard output: %q", res.stdout)
	}
}

// TestRevokeInteractive: sts revoke --interactive runs the executable in
// revoke mode on the terminal, where it asks for confirmation; the next
// sts token --interactive prompts again (the script dropped its cached
// answer).
func TestRevokeInteractive(t *testing.T) {
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	file := interactiveCredFile(t, emu, nil)
	if res, _ := runOnTerminal(t, "Password: ", "hunter2", "token", "--interactive", "--credentials", file); res.code != 0 {
		t.Fatalf("token: %+v", res)
	}
	res, transcript := runOnTerminal(t, "Sign out? ", "yes", "revoke", "--interactive", "--credentials", file)
	if res.code != 0 || strings.TrimSpace(res.stdout) != "revoked" || !strings.Contains(transcript, "Sign out? ") {
		t.Fatalf("revoke: %+v, terminal %q", res, transcript)
	}
	res, transcript = runOnTerminal(t, "Password: ", "hunter2", "token", "--interactive", "--credentials", file)
	if res.code != 0 || !strings.Contains(transcript, "Password: ") {
		t.Errorf("token after revoke did not prompt again: %+v, terminal %q", res, transcript)
	}
	res, _ = runOnTerminal(t, "Sign out? ", "no", "revoke", "--interactive", "--credentials", file)
	if res.code != 1 || !strings.Contains(res.stderr, "status 6") {
		t.Errorf("refused sign-out: %+v", res)
	}
}

// TestTokenInteractiveRefused: without an output file, or without a
// terminal, --interactive fails with a message saying why; without
// --interactive the same file runs the executable non-interactively (its
// script then refuses).
func TestTokenInteractiveRefused(t *testing.T) {
	emu := ststest.NewServer(ststest.Options{})
	defer emu.Close()
	noOutput := interactiveCredFile(t, emu, func(x map[string]any) { delete(x, "output_file") })
	res, _ := runOnTerminal(t, "", "", "token", "--interactive", "--credentials", noOutput)
	if res.code != 1 || !strings.Contains(res.stderr, "output_file") {
		t.Errorf("no output file: exit %d, %q", res.code, res.stderr)
	}
	file := interactiveCredFile(t, emu, nil)
	res = runDetached(t, "token", "--interactive", "--credentials", file)
	if res.code != 1 || !strings.Contains(res.stderr, "needs a terminal") {
		t.Errorf("no terminal: exit %d, %q", res.code, res.stderr)
	}
	res = runDetached(t, "token", "--credentials", file)
	if res.code != 1 || !strings.Contains(res.stderr, "status 4") {
		t.Errorf("non-interactive: exit %d, %q; want the script's refusal (status 4)", res.code, res.stderr)
	}
}

// runDetached runs sts in a session of its own, without a controlling
// terminal (whatever terminal the tests run on).
func runDetached(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(baseEnv(), "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1", "SUBJECT="+testSubject)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}
