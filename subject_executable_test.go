package sts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stsgo/sts/internal/executable"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/ststest"
)

// The test binary doubles as the credential executable (see
// fixture.ExecHelper).

const (
	execTestToken = fixture.ExecToken
	execTestAud   = fixture.ExecAud
)

var (
	execHelper       = fixture.ExecHelper
	allowExecutables = fixture.AllowExecutables
)

func TestExecutableHelperProcess(*testing.T) { fixture.ExecHelperProcess() }

func execResponse(tokenType string, exp time.Time) string {
	return fixture.ExecResponse(tokenType, execTestToken, exp)
}

func assertNoExecToken(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range []string{err.Error(), fmt.Sprintf("%v %+v %#v", err, err, err)} {
		if strings.Contains(s, execTestToken) || strings.Contains(s, "eyJ") {
			t.Errorf("error leaks the token: %s", s)
		}
	}
}

func TestExecutableSubjectValidate(t *testing.T) {
	tests := []struct {
		name  string
		e     ExecutableSubject
		field string
	}{
		{"zero", ExecutableSubject{}, "ExecutableSubject.Command"},
		{"empty program", ExecutableSubject{Command: []string{""}}, "ExecutableSubject.Command"},
		{"NUL", ExecutableSubject{Command: []string{"prog", "a\x00"}}, "ExecutableSubject.Command"},
		{"short timeout", ExecutableSubject{Command: []string{"prog"}, Timeout: 4999 * time.Millisecond}, "ExecutableSubject.Timeout"},
		{"long timeout", ExecutableSubject{Command: []string{"prog"}, Timeout: 121 * time.Second}, "ExecutableSubject.Timeout"},
		{"negative timeout", ExecutableSubject{Command: []string{"prog"}, Timeout: -time.Second}, "ExecutableSubject.Timeout"},
		{"NUL output file", ExecutableSubject{Command: []string{"prog"}, OutputFile: "a\x00"}, "ExecutableSubject.OutputFile"},
	}
	for _, tt := range tests {
		err := tt.e.Validate()
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != tt.field {
			t.Errorf("%s: Validate() = %v, want a *ValidationError for %s", tt.name, err, tt.field)
		}
		// SubjectToken reports the same error without running anything.
		_, err = tt.e.SubjectToken(context.Background(), SubjectRequest{SubjectTokenType: TokenTypeIDToken})
		if !errors.As(err, &ve) || ve.Field != tt.field {
			t.Errorf("%s: SubjectToken = %v", tt.name, err)
		}
	}
	for _, d := range []time.Duration{0, executable.MinTimeout, 30 * time.Second, executable.MaxTimeout} {
		if err := (ExecutableSubject{Command: []string{"prog"}, Timeout: d}).Validate(); err != nil {
			t.Errorf("Timeout %s: %v", d, err)
		}
	}
	var p SubjectTokenProvider = ExecutableSubject{}
	if subjectKind(p) != "executable" || subjectKind(&ExecutableSubject{}) != "executable" {
		t.Errorf("subjectKind = %q", subjectKind(p))
	}
}

func TestExecutableSubjectToken(t *testing.T) {
	ctx := context.Background()
	req := SubjectRequest{Audience: execTestAud, SubjectTokenType: TokenTypeIDToken}

	e := ExecutableSubject{Command: execHelper(t, "check-env", ""), Getenv: allowExecutables}
	tok, err := e.SubjectToken(ctx, req)
	if err != nil || tok != execTestToken {
		t.Fatalf("SubjectToken: %v (token match %t)", err, tok == execTestToken)
	}
	// As a pointer too, with impersonation.
	imp := req
	imp.ImpersonatedEmail = "sa@p.iam.gserviceaccount.com"
	e.Command = execHelper(t, "check-env", imp.ImpersonatedEmail)
	if tok, err := (&e).SubjectToken(ctx, imp); err != nil || tok != execTestToken {
		t.Fatalf("SubjectToken with impersonation: %v", err)
	}

	// A token type executables cannot supply.
	_, err = e.SubjectToken(ctx, SubjectRequest{Audience: execTestAud, SubjectTokenType: TokenTypeAWS4Request})
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Errorf("AWS token type: %v", err)
	}
}

func TestExecutableSubjectErrors(t *testing.T) {
	ctx := context.Background()
	req := SubjectRequest{Audience: execTestAud, SubjectTokenType: TokenTypeIDToken}
	tests := []struct {
		name string
		e    ExecutableSubject
		want string
	}{
		{"not allowed", ExecutableSubject{Command: execHelper(t, "print", execResponse(TokenTypeIDToken, time.Now().Add(time.Hour))),
			Getenv: func(string) string { return "" }}, "set the environment variable GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1"},
		{"exit with token on stderr", ExecutableSubject{Command: execHelper(t, "exit", "7", "cannot refresh "+execTestToken),
			Getenv: allowExecutables}, "status 7: stderr: cannot refresh [REDACTED]"},
		{"failure response", ExecutableSubject{Command: execHelper(t, "print", `{"version":1,"success":false,"code":"401","message":"IdP said no"}`),
			Getenv: allowExecutables}, `code "401": IdP said no`},
		{"type mismatch", ExecutableSubject{Command: execHelper(t, "print", execResponse(TokenTypeSAML2, time.Now().Add(time.Hour))),
			Getenv: allowExecutables}, "does not match the configured subject token type"},
		{"expired by injected clock", ExecutableSubject{Command: execHelper(t, "print", execResponse(TokenTypeIDToken, time.Unix(1_700_000_000, 0))),
			Getenv: allowExecutables, Now: func() time.Time { return time.Unix(1_700_000_000, 0) }}, "expired"},
		{"garbage", ExecutableSubject{Command: execHelper(t, "print", "token="+execTestToken),
			Getenv: allowExecutables}, "not a JSON object"},
		{"corrupt output file", ExecutableSubject{Command: execHelper(t, "exit", "9", ""), OutputFile: writeTemp(t, `{"version":1,`+execTestToken),
			Getenv: allowExecutables}, "output file"},
		{"no such program", ExecutableSubject{Command: []string{filepath.Join(t.TempDir(), "nope")}, Getenv: allowExecutables}, "cannot start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := tt.e.SubjectToken(ctx, req)
			var se *Error
			if !errors.As(err, &se) || se.Op != "subject" || tok != "" {
				t.Fatalf("error %v, want an *Error with Op subject", err)
			}
			if !strings.HasPrefix(err.Error(), "sts: subject: executable: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
			if se.Temporary() {
				t.Errorf("error %v is temporary", err)
			}
			assertNoExecToken(t, err)
		})
	}
}

func TestExecutableErrorTemporary(t *testing.T) {
	err := executableError(&executable.TimeoutError{Timeout: 5 * time.Second})
	if !err.Temporary() || !errors.Is(err, context.DeadlineExceeded) || err.Error() != "sts: subject: executable: command did not finish within 5s and was killed" {
		t.Errorf("time-out: %v, temporary %t", err, err.Temporary())
	}
	for _, cause := range []error{executable.ErrNotAllowed, fmt.Errorf("executable: %w", context.Canceled), &executable.ExitError{Code: 1}} {
		if err := executableError(cause); err.Temporary() {
			t.Errorf("%v is temporary", err)
		}
	}
}

func TestExecutableSubjectOutputFileHit(t *testing.T) {
	out := writeTemp(t, execResponse(TokenTypeIDToken, time.Now().Add(time.Hour)))
	e := ExecutableSubject{Command: execHelper(t, "exit", "9", "must not run"), OutputFile: out, Getenv: allowExecutables}
	tok, err := e.SubjectToken(context.Background(), SubjectRequest{Audience: execTestAud, SubjectTokenType: TokenTypeIDToken})
	if err != nil || tok != execTestToken {
		t.Fatalf("cached token: %v", err)
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "out.json")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExecutableSubjectExchangeEndToEnd(t *testing.T) {
	var seen atomic.Int32
	srv := ststest.NewServer(ststest.Options{ValidateSubject: func(typ, tok string) error {
		seen.Add(1)
		if typ != TokenTypeIDToken || tok != execTestToken {
			return errors.New("unexpected subject")
		}
		return nil
	}})
	defer srv.Close()

	ts, err := NewTokenSource(Config{
		Subject:          ExecutableSubject{Command: execHelper(t, "check-env", ""), Getenv: allowExecutables},
		SubjectTokenType: TokenTypeIDToken,
		Audience:         execTestAud,
		TokenURL:         srv.TokenURL(),
		HTTPOptions:      HTTPOptions{HTTPClient: srv.Client()},
	})
	if err != nil {
		t.Fatal(err)
	}
	fixture.WantOneExchange(t, ts, srv, &seen, "source/executable")

	// A bad configuration fails at construction, naming the field.
	_, err = NewTokenSource(Config{
		Subject:          &ExecutableSubject{Command: []string{"prog"}, Timeout: time.Second},
		SubjectTokenType: TokenTypeIDToken,
		Audience:         execTestAud,
		TokenURL:         srv.TokenURL(),
	})
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Field != "ExecutableSubject.Timeout" {
		t.Errorf("NewTokenSource with a 1s timeout: %v", err)
	}

	// A failing command surfaces from Token as the provider's *Error.
	ts, err = NewTokenSource(Config{
		Subject:          ExecutableSubject{Command: execHelper(t, "exit", "3", execTestToken), Getenv: allowExecutables},
		SubjectTokenType: TokenTypeIDToken,
		Audience:         execTestAud,
		TokenURL:         srv.TokenURL(),
		HTTPOptions:      HTTPOptions{HTTPClient: srv.Client()},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.Token()
	var se *Error
	if !errors.As(err, &se) || se.Op != "subject" || !strings.Contains(err.Error(), "status 3") {
		t.Errorf("Token with a failing command: %v", err)
	}
	assertNoExecToken(t, err)
}

func TestExecutableSubjectStringHidesArguments(t *testing.T) {
	e := ExecutableSubject{Command: []string{"/bin/idp", "--password", "hunter2-SECRET"}, Timeout: 10 * time.Second}
	for _, s := range []string{fmt.Sprint(e), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e), fmt.Sprint(&e)} {
		if strings.Contains(s, "hunter2-SECRET") {
			t.Fatalf("argument leaked: %s", s)
		}
		if !strings.Contains(s, "/bin/idp") {
			t.Fatalf("program missing: %s", s)
		}
	}
}
