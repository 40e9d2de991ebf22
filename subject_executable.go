package sts

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/errtree"
	"github.com/stsgo/sts/internal/executable"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/tty"
)

// ExecutableSubject is a SubjectTokenProvider that runs a local command (the
// "executable-sourced credentials" or pluggable auth of Google's client
// libraries) and returns the token it prints.
//
// Nothing runs unless the environment holds
// GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1. The command runs from its
// argv, never through a shell, with empty standard input, the parent
// environment plus the GOOGLE_EXTERNAL_ACCOUNT_ variables of the protocol
// (AUDIENCE, TOKEN_TYPE, INTERACTIVE, REVOKE=0, IMPERSONATED_EMAIL,
// OUTPUT_FILE), a deadline at which its whole process group is killed
// (Unix), and 1 MiB of standard output. It prints a JSON response,
//
//	{"version": 1, "success": true, "token_type": "urn:ietf:params:oauth:token-type:id_token",
//	 "id_token": "…", "expiration_time": 1700000000}
//
// (saml_response for SAML; {"version": 1, "success": false, "code": …,
// "message": …} on failure), checked fully: version 1, token_type equal to
// the exchange's (JWT, ID token or SAML 2), its token field, and an
// expiration_time at least 30 s ahead when present (required with
// OutputFile). A valid unexpired success response in OutputFile is used
// without running the command; an expired, failed, missing or empty one
// makes it run; a corrupt one is an error.
//
// With Terminal set, runs are interactive, as gcloud runs them for
// workforce sign-in: INTERACTIVE=1, the terminal as the command's standard
// streams (so it can prompt), InteractiveTimeout as its deadline, the
// command in the caller's process group (only it is killed at the
// deadline), and the response read from OutputFile, then required. Such a
// source may prompt at any refresh, also in the background.
//
// The zero value is not usable (Command is required: a *ValidationError);
// every other zero field selects its default. It holds no state, is safe
// for concurrent use, and must not be modified while in use.
type ExecutableSubject struct {
	// Command is the program and its arguments. Required.
	Command []string
	// Timeout bounds one run of the command. 0 means 30 s; otherwise it
	// must be between 5 s and 120 s.
	Timeout time.Duration
	// OutputFile, if set, is a file where the command caches its response;
	// see the type's documentation.
	OutputFile string
	// Getenv reads GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES. nil means
	// os.Getenv. The command itself always receives the process
	// environment.
	Getenv func(string) string
	// Now is the clock used to check expiration_time. nil means time.Now.
	Now func() time.Time
	// Terminal, if set, makes runs interactive (see the type's
	// documentation). It must be a terminal (such as /dev/tty opened for
	// reading and writing); the caller keeps it open while the provider
	// is in use and closes it. Interactive runs are supported where the
	// package can tell a terminal: Linux, macOS and the BSDs. nil means
	// non-interactive runs.
	Terminal *os.File
	// InteractiveTimeout bounds one interactive run. 0 means 5 minutes;
	// otherwise it must be between 30 s and 30 min (the
	// interactive_timeout_millis of credential files).
	InteractiveTimeout time.Duration
}

// SourceKind returns "executable".
func (ExecutableSubject) SourceKind() string { return "executable" }

// bounded: the command is killed at the context's deadline.
func (ExecutableSubject) bounded() bool { return true }

// SubjectTokenTypes returns TokenTypeJWT, TokenTypeIDToken and TokenTypeSAML2.
func (ExecutableSubject) SubjectTokenTypes() []string {
	return []string{TokenTypeJWT, TokenTypeIDToken, TokenTypeSAML2}
}

// Validate checks Command, Timeout, OutputFile, InteractiveTimeout and
// Terminal: an interactive configuration needs an output file and a
// terminal. Errors are *ValidationError.
func (e ExecutableSubject) Validate() error {
	if err := check.Command("ExecutableSubject.Command", e.Command); err != nil {
		return verr(err)
	}
	if e.Timeout != 0 {
		if err := check.ExecutableTimeout("ExecutableSubject.Timeout", e.Timeout); err != nil {
			return verr(err)
		}
	}
	if err := check.FileName("ExecutableSubject.OutputFile", e.OutputFile); err != nil {
		return verr(err)
	}
	if e.InteractiveTimeout != 0 {
		if err := check.InteractiveTimeout("ExecutableSubject.InteractiveTimeout", e.InteractiveTimeout); err != nil {
			return verr(err)
		}
	}
	if e.Terminal != nil {
		if e.OutputFile == "" {
			return invalid("ExecutableSubject.OutputFile", "must be set for interactive runs: the command answers in it, its standard output being the terminal")
		}
		if !tty.IsTerminal(e.Terminal) {
			return invalid("ExecutableSubject.Terminal", "is not a terminal (interactive runs need one)")
		}
	}
	return nil
}

// SubjectToken implements SubjectTokenProvider. req.SubjectTokenType must be
// TokenTypeJWT, TokenTypeIDToken or TokenTypeSAML2; req.Audience and
// req.ImpersonatedEmail are passed to the command.
//
// A configuration error is a *ValidationError; any other failure (not
// allowed, cannot start, time-out, non-zero exit, bad or failure response,
// corrupt output file) is an *Error with Op "subject" that wraps the cause.
// Errors never contain the token or the command's standard output; the part
// of standard error they quote has token-shaped text redacted.
func (e ExecutableSubject) SubjectToken(ctx context.Context, req SubjectRequest) (string, error) {
	if err := e.Validate(); err != nil {
		return "", err
	}
	c, err := e.runConfig(req)
	if err != nil {
		return "", err
	}
	res, err := executable.Run(ctx, c)
	if err != nil {
		return "", executableError(err)
	}
	return res.Token, nil
}

// Revoke runs the command in revoke mode, gcloud's contract for signing
// out of an interactive executable: with GOOGLE_EXTERNAL_ACCOUNT_REVOKE=1
// and GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE=1 (and the other variables of a
// run for req), Terminal as its standard input and error, the
// InteractiveTimeout as its deadline; it must print {"version": 1,
// "success": true}. Only an interactive configuration (Terminal set) can
// revoke; otherwise, and when executables are not allowed, the command
// does not run. A configuration error is a *ValidationError, any other
// failure an *Error with Op "revoke".
func (e ExecutableSubject) Revoke(ctx context.Context, req SubjectRequest) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if e.Terminal == nil {
		return invalid("ExecutableSubject.Terminal", "must be set to revoke: only interactive executables can")
	}
	c, err := e.runConfig(req)
	if err != nil {
		return err
	}
	if err := executable.Revoke(ctx, c); err != nil {
		xe := executableError(err)
		xe.Op = "revoke"
		return xe
	}
	return nil
}

// runConfig is the runner's configuration of a run for req, whose subject
// token type must be one an executable supplies.
func (e ExecutableSubject) runConfig(req SubjectRequest) (executable.Config, error) {
	if !executable.KnownTokenType(req.SubjectTokenType) {
		return executable.Config{}, invalid("SubjectTokenType", "%q cannot be supplied by an executable (want %s, %s or %s)",
			req.SubjectTokenType, TokenTypeJWT, TokenTypeIDToken, TokenTypeSAML2)
	}
	return executable.Config{
		Command:            e.Command,
		Timeout:            e.Timeout,
		OutputFile:         e.OutputFile,
		Audience:           req.Audience,
		TokenType:          req.SubjectTokenType,
		ImpersonatedEmail:  req.ImpersonatedEmail,
		Getenv:             e.Getenv,
		Now:                e.Now,
		Terminal:           e.Terminal,
		InteractiveTimeout: e.InteractiveTimeout,
	}, nil
}

// executableError wraps a failure of the executable runner. Only a command
// killed at its deadline is temporary: a retry may be faster. A cancelled
// caller, a refusal, a bad response or a failed command are not.
func executableError(err error) *Error {
	if _, ok := errtree.As[*executable.TimeoutError](err); ok {
		err = httpx.Retryable(err)
	}
	return &Error{Op: "subject", Err: err}
}

// String shows the program and argument count only (arguments may be secret).
func (e ExecutableSubject) String() string {
	prog := ""
	if len(e.Command) > 0 {
		prog = e.Command[0]
	}
	return fmt.Sprintf("sts.ExecutableSubject{Program:%q Args:%d Timeout:%v OutputFile:%q Interactive:%t}",
		prog, max(len(e.Command)-1, 0), e.Timeout, e.OutputFile, e.Terminal != nil)
}

// GoString is String.
func (e ExecutableSubject) GoString() string { return e.String() }
