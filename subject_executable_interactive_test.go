package sts

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/internal/ttytest"
	"github.com/stsgo/sts/ststest"
)

// TestExecutableSubjectInteractiveEndToEnd: with a Terminal, the command
// prompts its user on the terminal, reads the answer there, writes its
// response to the output file, and the exchange sends the token from that
// file.
func TestExecutableSubjectInteractiveEndToEnd(t *testing.T) {
	u, term := ttytest.StartUser(t, "Password: ", "hunter2")
	s := ststest.NewServer(ststest.Options{ValidateSubject: func(_, tok string) error {
		if tok != execTestToken {
			return errors.New("not the executable's token")
		}
		return nil
	}})
	defer s.Close()
	ts, err := NewTokenSource(Config{
		Subject: ExecutableSubject{
			Command:            execHelper(t, "interact", "hunter2"),
			OutputFile:         filepath.Join(t.TempDir(), "out.json"),
			Terminal:           term,
			InteractiveTimeout: 2 * time.Minute,
			Getenv:             allowExecutables,
		},
		SubjectTokenType: TokenTypeIDToken, Audience: execTestAud, TokenURL: s.TokenURL(),
		HTTPOptions: HTTPOptions{HTTPClient: s.Client()},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Token(); err != nil {
		t.Fatal(err)
	}
	u.Stop()
	if got := u.Transcript(); !strings.Contains(got, "Password: ") || !strings.Contains(got, "Signed in.") {
		t.Errorf("terminal showed %q; want the command's prompt and output", got)
	}
}

// TestExecutableSubjectInteractiveValidate: an interactive configuration
// without an output file, with something that is not a terminal, or with
// an interactive time-out out of 30 s..30 min fails validation (and so the
// construction), naming the field.
func TestExecutableSubjectInteractiveValidate(t *testing.T) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	out := filepath.Join(t.TempDir(), "out.json")
	cmd := []string{"prog"}
	for _, tc := range []struct {
		name  string
		e     ExecutableSubject
		field string
	}{
		{"not a terminal", ExecutableSubject{Command: cmd, OutputFile: out, Terminal: null}, "ExecutableSubject.Terminal"},
		{"short interactive timeout", ExecutableSubject{Command: cmd, InteractiveTimeout: 29 * time.Second}, "ExecutableSubject.InteractiveTimeout"},
		{"long interactive timeout", ExecutableSubject{Command: cmd, InteractiveTimeout: 31 * time.Minute}, "ExecutableSubject.InteractiveTimeout"},
	} {
		err := tc.e.Validate()
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("%s: Validate() = %v; want a *ValidationError for %s", tc.name, err, tc.field)
		}
		_, err = NewTokenSource(Config{Subject: tc.e, SubjectTokenType: TokenTypeIDToken, Audience: execTestAud})
		if !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("%s: NewTokenSource: %v", tc.name, err)
		}
	}
	_, term := ttytest.StartUser(t, "", "")
	err = ExecutableSubject{Command: cmd, Terminal: term}.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Field != "ExecutableSubject.OutputFile" {
		t.Errorf("terminal without output file: %v", err)
	}
	if err := (ExecutableSubject{Command: cmd, Terminal: term, OutputFile: out, InteractiveTimeout: 30 * time.Minute}).Validate(); err != nil {
		t.Errorf("valid interactive configuration: %v", err)
	}
	if s := (ExecutableSubject{Command: cmd, Terminal: term, OutputFile: out}).String(); !strings.Contains(s, "Interactive:true") {
		t.Errorf("String() = %s", s)
	}
}

// TestExecutableSubjectRevoke: an interactive configuration revokes by
// running the command in revoke mode; a non-interactive one refuses
// without running anything.
func TestExecutableSubjectRevoke(t *testing.T) {
	u, term := ttytest.StartUser(t, "", "")
	req := SubjectRequest{Audience: execTestAud, SubjectTokenType: TokenTypeIDToken}
	e := ExecutableSubject{
		Command:    fixture.ExecHelper(t, "revoke"),
		OutputFile: filepath.Join(t.TempDir(), "out.json"),
		Terminal:   term,
		Getenv:     fixture.AllowExecutables,
	}
	if err := e.Revoke(context.Background(), req); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	e.Command = fixture.ExecHelper(t, "exit", "3", "cannot sign out")
	err := e.Revoke(context.Background(), req)
	var se *Error
	if !errors.As(err, &se) || se.Op != "revoke" {
		t.Errorf("failing command: %v; want an *Error with Op revoke", err)
	}
	e.Terminal = nil
	var ve *ValidationError
	if err := e.Revoke(context.Background(), req); !errors.As(err, &ve) || ve.Field != "ExecutableSubject.Terminal" {
		t.Errorf("non-interactive: %v", err)
	}
	u.Stop()
}
