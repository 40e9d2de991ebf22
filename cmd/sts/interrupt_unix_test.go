//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/ststest"
)

// Every command ends at its --timeout, and soon after SIGINT or SIGTERM,
// while something blocks: a named pipe nobody writes to (as the boundary
// file or the client secret, which the command reads itself and which may be
// a shell's <(...)),
// standard input that never closes, an STS that never answers, a subject
// URL that never answers, an executable that never ends.

// failAfter bounds every wait of these tests: a command still running then
// has ignored its deadline or the signal.
const failAfter = 15 * time.Second

// blockers holds what the blocking scenarios need.
type blockers struct {
	dir   string
	fifo  string // a named pipe nobody writes to
	emu   *ststest.Server
	files map[string]string // credential files by kind
	// exchanges is how many token requests the emulator had when the
	// latest command started.
	exchanges int
}

func newBlockers(t *testing.T) *blockers {
	t.Helper()
	dir := t.TempDir()
	fifo := fixture.FIFO(t)
	emu := ststest.NewServer(ststest.Options{})
	t.Cleanup(emu.Close)
	files := credFiles(t, emu)

	// A subject URL that answers nothing until the test ends.
	stop := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(stop) })

	// An executable that marks that it started, then outlasts every wait
	// of the test. The command kills it as it exits
	// (TestExecutableEndsWithCommand checks that); a cleanup kills it
	// should the command fail to, and should the command end before it
	// even wrote its pid, it ends by itself a minute later.
	marker := filepath.Join(dir, "started")
	script := writeFile(t, dir, "slow.sh", "#!/bin/sh\necho $$ > '"+marker+"'\nexec sleep 60\n")
	if err := os.Chmod(script, 0o755); err != nil {
		t.Fatal(err)
	}
	js := func(source map[string]any) string {
		b, _ := json.Marshal(map[string]any{
			"type": "external_account", "audience": testAudience, "token_url": emu.TokenURL(),
			"subject_token_type": "urn:ietf:params:oauth:token-type:jwt", "credential_source": source,
		})
		return string(b)
	}
	files["url"] = writeFile(t, dir, "url.json", js(map[string]any{"url": hang.URL + "/token"}))
	files["executable"] = writeFile(t, dir, "exe.json", js(map[string]any{"executable": map[string]any{"command": script, "timeout_millis": 120000}}))
	files["subject fifo"] = writeFile(t, dir, "fifo-subject.json", js(map[string]any{"file": fifo}))
	files["boundary"] = writeFile(t, dir, "boundary.json", `{"accessBoundary":{"accessBoundaryRules":[{"availableResource":"//storage.googleapis.com/projects/_/buckets/b","availablePermissions":["inRole:roles/storage.objectViewer"]}]}}`)
	files["marker"] = marker
	return &blockers{dir: dir, fifo: fifo, emu: emu, files: files}
}

// blockedCase is one command that blocks until its deadline or a signal.
type blockedCase struct {
	name  string
	args  []string
	env   []string
	stdin bool // standard input is a pipe that stays open and empty
	hang  bool // the emulator's token endpoint never answers
	// blocked reports whether the command has reached the blocking
	// operation; nil means the case is only run with --timeout.
	blocked func() bool
	want    string // what the deadline error says
}

func (b *blockers) cases(t *testing.T) []blockedCase {
	fifoHasReader := func() bool { return fifoOpenedForReading(t, b.fifo) }
	allow := []string{"GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1"}
	return []blockedCase{
		{name: "boundary file is a named pipe", args: []string{"downscope", "--credentials", b.files["oidc"], "--boundary", b.fifo}, blocked: fifoHasReader,
			want: "reading boundary file " + b.fifo + ": gave up after 1s (--timeout)"},
		{name: "client secret file is a named pipe", args: []string{"login", "--audience", "//iam.googleapis.com/locations/global/workforcePools/p/providers/q",
			"--client-id", "c", "--client-secret-file", b.fifo, "--output", "-", "--no-browser"},
			blocked: fifoHasReader, want: "reading client secret file " + b.fifo + ": gave up after 1s (--timeout)"},
		{name: "introspect standard input never closes", args: []string{"introspect", "--url", b.emu.IntrospectURL()}, stdin: true,
			want: "reading the token from standard input: gave up after 1s (--timeout)"},
		{name: "downscope standard input never closes", args: []string{"downscope", "--stdin", "--boundary", b.files["boundary"], "--token-url", b.emu.TokenURL()}, stdin: true,
			want: "reading the token from standard input: gave up after 1s (--timeout)"},
		{name: "STS never answers", args: []string{"token", "--credentials", b.files["oidc"]}, hang: true,
			blocked: func() bool { return b.emu.Count("/v1/token") > b.exchanges }, want: "deadline exceeded; gave up after 1s (--timeout)"},
		{name: "subject URL never answers", args: []string{"token", "--credentials", b.files["url"]}, want: "deadline exceeded; gave up after 1s (--timeout)"},
		{name: "executable never ends", args: []string{"token", "--credentials", b.files["executable"]}, env: allow,
			blocked: func() bool { _, err := os.Stat(b.files["marker"]); return err == nil }, want: "deadline exceeded; gave up after 1s (--timeout)"},
	}
}

// fifoOpenedForReading reports whether some process has path open for
// reading (or is opening it): only then does a non-blocking open for
// writing succeed. The write end it opens stays open until the test ends,
// without data: the reader, released from its open, then waits in read
// instead (still blocked), rather than seeing end of file.
func fifoOpenedForReading(t *testing.T, path string) bool {
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return false
	}
	t.Cleanup(func() { f.Close() })
	return true
}

// startBlocked starts the binary for c.
func startBlocked(t *testing.T, b *blockers, c blockedCase, extra ...string) (cmd *exec.Cmd, stderr *bytes.Buffer, stdinW io.Closer) {
	t.Helper()
	if c.hang {
		for range 4 {
			b.emu.PushFaults(ststest.Fault{Path: "/v1/token", Hang: true})
		}
		t.Cleanup(func() { b.emu.ClearFaults() })
	}
	ctx, cancel := context.WithTimeout(context.Background(), failAfter+5*time.Second)
	t.Cleanup(cancel)
	cmd = exec.CommandContext(ctx, binary, append(c.args, extra...)...)
	cmd.Env = append(baseEnv(), c.env...)
	stderr = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = io.Discard, stderr
	if c.stdin {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdin = r
		t.Cleanup(func() { r.Close(); w.Close() })
		stdinW = w
	}
	// Kill the executable's group, whose id is its pid.
	t.Cleanup(func() {
		if data, err := os.ReadFile(b.files["marker"]); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 1 {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
		_ = os.Remove(b.files["marker"])
	})
	b.exchanges = b.emu.Count("/v1/token")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, stderr, stdinW
}

// waitExit waits for cmd, at most failAfter, and returns its exit status.
func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode()
	case <-time.After(failAfter):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("still running after %v", failAfter)
		return 0
	}
}

// TestTimeoutEndsBlockedCommands: with --timeout 1s, each command ends
// after a second with an error saying what it was doing and why it stopped.
func TestTimeoutEndsBlockedCommands(t *testing.T) {
	b := newBlockers(t)
	for _, c := range b.cases(t) {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			cmd, stderr, _ := startBlocked(t, b, c, "--timeout", "1s")
			code := waitExit(t, cmd)
			took := time.Since(start)
			t.Logf("ended after %v: %s", took.Round(time.Millisecond), strings.TrimSpace(stderr.String()))
			if code != 1 || !strings.Contains(stderr.String(), c.want) || !strings.HasPrefix(stderr.String(), "sts "+c.args[0]+": ") {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr.String(), c.want)
			}
			if took < time.Second {
				t.Errorf("ended after %v, before its 1s deadline", took)
			}
			if s := secretsIn(stderr.String()); len(s) > 0 {
				t.Errorf("stderr holds secrets %q", s)
			}
		})
	}
	// A file the library reads (a credential file, a subject token file,
	// a sign-in configuration) that is a named pipe is refused at once.
	for _, c := range []blockedCase{
		{name: "subject file", args: []string{"token", "--credentials", b.files["subject fifo"]}},
		{name: "credential file", args: []string{"token", "--credentials", b.fifo}},
		{name: "GOOGLE_APPLICATION_CREDENTIALS", args: []string{"token"}, env: []string{"GOOGLE_APPLICATION_CREDENTIALS=" + b.fifo}},
		{name: "introspect credential file", args: []string{"introspect", "--credentials", b.fifo}},
		{name: "login configuration", args: []string{"login", "--login-config", b.fifo, "--client-id", "c", "--output", "-", "--no-browser"}},
	} {
		cmd, stderr, _ := startBlocked(t, b, c, "--timeout", "1m")
		if code := waitExit(t, cmd); code != 1 || !strings.Contains(stderr.String(), "not a regular file") {
			t.Errorf("%s is a named pipe: exit %d, stderr %q", c.name, code, stderr.String())
		}
	}
}

// TestSignalEndsBlockedCommands: SIGINT and SIGTERM end each blocked
// command (with a minute of --timeout left) with the shell's status for the
// signal, by the command's own cancellation: the watchdog, which would
// print "did not stop", is not needed.
func TestSignalEndsBlockedCommands(t *testing.T) {
	b := newBlockers(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		for _, c := range b.cases(t) {
			if c.blocked == nil {
				continue
			}
			t.Run(sig.String()+"/"+c.name, func(t *testing.T) {
				cmd, stderr, _ := startBlocked(t, b, c, "--timeout", "1m")
				deadline := time.Now().Add(failAfter)
				for !c.blocked() {
					if time.Now().After(deadline) {
						_ = cmd.Process.Kill()
						_ = cmd.Wait()
						t.Fatalf("never reached the blocking operation; stderr %q", stderr.String())
					}
					time.Sleep(5 * time.Millisecond)
				}
				sent := time.Now()
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				code := waitExit(t, cmd)
				t.Logf("ended %v after the signal", time.Since(sent).Round(time.Millisecond))
				name := map[syscall.Signal]string{syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM"}[sig]
				if want := "sts " + c.args[0] + ": interrupted (" + name + ")\n"; code != 128+int(sig) || stderr.String() != want {
					t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), 128+int(sig), want)
				}
			})
		}
	}
}
