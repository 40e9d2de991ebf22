package executable

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stsgo/sts/internal/ttytest"
)

// interactiveConfig is config for an interactive run on term, with an
// output file in a fresh directory.
func interactiveConfig(t *testing.T, term *os.File, mode ...string) Config {
	c := config(t, mode...)
	c.Terminal = term
	c.InteractiveTimeout = 20 * time.Second
	c.OutputFile = filepath.Join(t.TempDir(), "out.json")
	return c
}

// TestInteractiveSuccess: the command runs with the interactive flag,
// prompts on the terminal, reads the user's answer from it, and the token
// comes from the output file (its standard output, the terminal, is not
// JSON).
func TestInteractiveSuccess(t *testing.T) {
	u, term := ttytest.StartUser(t, "Password: ", "hunter2")
	c := interactiveConfig(t, term, "interact", "hunter2", okJSON(TokenTypeIDToken, "id_token", future()))
	res, err := Run(context.Background(), c)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Token != secretToken || res.FromFile || !res.Expiry.Equal(time.Unix(future(), 0)) {
		t.Fatalf("Run = %v", res)
	}
	u.Stop()
	if got := u.Transcript(); !strings.Contains(got, "Password: ") || !strings.Contains(got, "Signed in.") {
		t.Errorf("terminal transcript %q lacks the prompt or the command's output", got)
	}
}

// TestInteractiveFailureResponse: a failure response written by the
// interactive command is reported with its code and message.
func TestInteractiveFailureResponse(t *testing.T) {
	_, term := ttytest.StartUser(t, "Password: ", "wrong")
	c := interactiveConfig(t, term, "interact", "hunter2", okJSON(TokenTypeIDToken, "id_token", future()))
	_, err := Run(context.Background(), c)
	var fe *FailureError
	if !errors.As(err, &fe) || fe.Code != "denied" {
		t.Fatalf("Run: %v; want the command's failure response", err)
	}
}

// TestInteractiveCachedResponse: a valid response already in the output
// file is used without running the command (nor prompting).
func TestInteractiveCachedResponse(t *testing.T) {
	_, term := ttytest.StartUser(t, "", "")
	c := interactiveConfig(t, term, "exit", "7", "must not run")
	if err := os.WriteFile(c.OutputFile, []byte(okJSON(TokenTypeIDToken, "id_token", future())), 0o600); err != nil {
		t.Fatal(err)
	}
	if res := mustRun(t, c); !res.FromFile {
		t.Error("token not from the output file")
	}
}

// TestInteractiveTimeout: an interactive command still running at the
// interactive time-out is killed, with a *TimeoutError giving that
// time-out (not the non-interactive one).
func TestInteractiveTimeout(t *testing.T) {
	_, term := ttytest.StartUser(t, "", "") // nobody answers
	c := interactiveConfig(t, term, "interact", "hunter2", okJSON(TokenTypeIDToken, "id_token", future()))
	c.Timeout = time.Hour
	c.InteractiveTimeout = 300 * time.Millisecond
	start := time.Now()
	_, err := Run(context.Background(), c)
	var te *TimeoutError
	if !errors.As(err, &te) || te.Timeout != c.InteractiveTimeout {
		t.Fatalf("Run: %v; want a *TimeoutError for the interactive time-out", err)
	}
	if elapsed := time.Since(start); elapsed > 30*time.Second {
		t.Errorf("Run took %s after a 300ms interactive time-out", elapsed)
	}
}

// TestInteractiveNoResponse: an interactive command that exits 0 without
// writing the output file is an error saying so; one that exits non-zero
// is an *ExitError.
func TestInteractiveNoResponse(t *testing.T) {
	_, term := ttytest.StartUser(t, "", "")
	c := interactiveConfig(t, term, "prompt-only")
	if _, err := Run(context.Background(), c); !errors.Is(err, ErrNoInteractiveResponse) {
		t.Errorf("Run: %v; want ErrNoInteractiveResponse", err)
	}
	c = interactiveConfig(t, term, "exit", "3", "")
	var ee *ExitError
	if _, err := Run(context.Background(), c); !errors.As(err, &ee) || ee.Code != 3 {
		t.Errorf("Run: %v; want an *ExitError with status 3", err)
	}
}

// TestInteractiveRefused: interactive runs without an output file, or on
// something that is not a terminal, are refused before anything runs.
func TestInteractiveRefused(t *testing.T) {
	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	_, term := ttytest.StartUser(t, "", "")
	c := config(t, "touch", ran, okJSON(TokenTypeIDToken, "id_token", future()))
	c.Terminal = term
	if _, err := Run(context.Background(), c); !errors.Is(err, ErrInteractiveNoOutputFile) {
		t.Errorf("no output file: %v", err)
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	c.Terminal = null
	c.OutputFile = filepath.Join(dir, "out.json")
	if _, err := Run(context.Background(), c); !errors.Is(err, ErrNotTerminal) {
		t.Errorf("null device: %v", err)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Error("the command ran")
	}
}

// TestRevoke: revoke mode runs the command with GOOGLE_EXTERNAL_ACCOUNT_REVOKE=1
// on the terminal (it may ask there) and reads its answer from standard
// output: success, a failure response with its code, a malformed answer, a
// non-zero exit and the time-out are told apart.
func TestRevoke(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer string
		stdout string
		check  func(error) bool
	}{
		{"success", "yes", `{"version":1,"success":true}`, func(err error) bool { return err == nil }},
		{"failure", "yes", `{"version":1,"success":false,"code":"no_session","message":"not signed in"}`, func(err error) bool {
			var fe *FailureError
			return errors.As(err, &fe) && fe.Code == "no_session"
		}},
		{"no success", "yes", `{"version":1}`, func(err error) bool { var fe *FormatError; return errors.As(err, &fe) }},
		{"version 2", "yes", `{"version":2,"success":true}`, func(err error) bool { var fe *FormatError; return errors.As(err, &fe) }},
		{"not JSON", "yes", `signed out`, func(err error) bool { var fe *FormatError; return errors.As(err, &fe) }},
		{"refused at the prompt", "no", `{"version":1,"success":true}`, func(err error) bool {
			var ee *ExitError
			return errors.As(err, &ee) && ee.Code == 5
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, term := ttytest.StartUser(t, "Sign out? ", tc.answer)
			c := interactiveConfig(t, term, "revoke", "yes", tc.stdout)
			if err := Revoke(context.Background(), c); !tc.check(err) {
				t.Fatalf("Revoke: %v", err)
			}
			u.Stop()
			if !strings.Contains(u.Transcript(), "Sign out? ") {
				t.Errorf("terminal showed %q, not the command's question", u.Transcript())
			}
			if _, err := os.Stat(c.OutputFile); err == nil {
				t.Error("revoke created the output file")
			}
		})
	}
}

// TestRevokeRefusedAndTimeout: revoke mode needs an interactive
// configuration and the allow switch; a command that hangs is killed at
// the interactive time-out.
func TestRevokeRefusedAndTimeout(t *testing.T) {
	_, term := ttytest.StartUser(t, "", "")
	c := config(t, "revoke", "yes", `{"version":1,"success":true}`)
	if err := Revoke(context.Background(), c); !errors.Is(err, ErrRevokeNotInteractive) {
		t.Errorf("non-interactive: %v", err)
	}
	c = interactiveConfig(t, term, "revoke", "yes", `{"version":1,"success":true}`)
	c.Getenv = func(string) string { return "" }
	if err := Revoke(context.Background(), c); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("not allowed: %v", err)
	}
	c = interactiveConfig(t, term, "sleep")
	c.InteractiveTimeout = 300 * time.Millisecond
	var te *TimeoutError
	if err := Revoke(context.Background(), c); !errors.As(err, &te) {
		t.Errorf("hanging command: %v", err)
	}
}
