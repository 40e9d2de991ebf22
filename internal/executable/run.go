// Package executable runs a credential executable ("pluggable auth") and
// validates its response, for the root package's ExecutableSubject.
//
// The command runs only when the environment allows it, as an argv (never
// through a shell), with a deadline that kills its whole process group, with
// bounded output, and with the response contract checked field by field.
// An interactive run (Config.Terminal) gets the terminal instead and answers
// in the output file. Errors never contain the token or the command's
// standard output.
package executable

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stsgo/sts/internal/errs"
	"github.com/stsgo/sts/internal/errtree"
	"github.com/stsgo/sts/internal/fsutil"
	"github.com/stsgo/sts/internal/tty"
)

// Environment variables of the executable contract.
const (
	EnvAllow             = "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES"
	EnvAudience          = "GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE"
	EnvTokenType         = "GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE"
	EnvInteractive       = "GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE"
	EnvImpersonatedEmail = "GOOGLE_EXTERNAL_ACCOUNT_IMPERSONATED_EMAIL"
	EnvOutputFile        = "GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE"
	// EnvRevoke is "1" when the command is asked to revoke what it
	// signed in, "0" when it is asked for a token.
	EnvRevoke = "GOOGLE_EXTERNAL_ACCOUNT_REVOKE"
)

// Limits. MinTimeout and MaxTimeout are the range the public configuration
// accepts; Run itself accepts any positive timeout so tests can be fast.
const (
	DefaultTimeout = 30 * time.Second
	MinTimeout     = 5 * time.Second
	MaxTimeout     = 120 * time.Second
	// MinInteractiveTimeout and MaxInteractiveTimeout bound the time-out of
	// an interactive run, as credential files accept it.
	MinInteractiveTimeout = 30 * time.Second
	MaxInteractiveTimeout = 30 * time.Minute
	// DefaultInteractiveTimeout bounds an interactive run whose time-out
	// is not set.
	DefaultInteractiveTimeout = 5 * time.Minute
	// MaxOutput bounds the command's standard output and the output file.
	MaxOutput = 1 << 20
	// StderrReport is how much of the (redacted) standard error an
	// ExitError reports.
	StderrReport = 256
	stderrKeep   = 4 << 10
	// waitDelay bounds how long Run waits for the command's pipes to close
	// after it exits or is killed (a detached grandchild may hold them).
	waitDelay = time.Second
)

// ErrNotAllowed is returned when the environment does not allow executables.
var ErrNotAllowed = errs.New("executable: running credential executables is not allowed; " +
	"set the environment variable " + EnvAllow + "=1 to allow it")

// ErrInteractiveNoOutputFile is returned for an interactive run without an
// output file: the command's standard output is the terminal, so its
// response can only come from the file.
var ErrInteractiveNoOutputFile = errs.New("executable: an interactive run needs an output file " +
	"(the command answers in it, its standard output being the terminal)")

// ErrNotTerminal is returned for an interactive run whose terminal is not
// one.
var ErrNotTerminal = errs.New("executable: an interactive run needs a terminal, and the file given is not one")

// ErrNoInteractiveResponse is returned when an interactive command exits
// successfully without writing a response to the output file.
var ErrNoInteractiveResponse = errs.New("executable: the interactive command exited without writing a response to the output file")

// ErrOutputTooLarge is returned when the command writes more than MaxOutput
// bytes to its standard output.
var ErrOutputTooLarge = errs.Errorf("executable: command wrote more than %d bytes to standard output", MaxOutput)

// Config configures one Run.
type Config struct {
	// Command is the argv; Command[0] is the program. Required.
	Command []string
	// Timeout bounds the run; 0 means DefaultTimeout. Not range-checked.
	Timeout time.Duration
	// OutputFile, if set, is read before running the command: a valid,
	// unexpired success response there is used instead. It is also passed to
	// the command, which is expected to write its response there.
	OutputFile string
	// Audience, TokenType and ImpersonatedEmail describe the exchange; they
	// are passed to the command. TokenType is required and must be one of
	// the token types an executable may return.
	Audience          string
	TokenType         string
	ImpersonatedEmail string
	// Getenv reads the allow switch; nil means os.Getenv.
	Getenv func(string) string
	// Environ gives the parent environment handed to the command; nil
	// means os.Environ.
	Environ func() []string
	// Now is the clock for expiry checks; nil means time.Now.
	Now func() time.Time
	// Terminal, when set, makes the run interactive: the command gets
	// GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE=1 and Terminal as its standard
	// input, output and error, so it can prompt its user; it stays in the
	// caller's process group (so it may read the terminal) and only it is
	// killed at the deadline. OutputFile is then required, and the response
	// is read from it after the command exits.
	Terminal *os.File
	// InteractiveTimeout bounds an interactive run; 0 means
	// DefaultInteractiveTimeout. Not range-checked.
	InteractiveTimeout time.Duration

	revoke bool   // set by Revoke
	procs  *procs // where the run is recorded; nil means running (tests set their own)
}

// interactive reports whether c asks for an interactive run.
func (c *Config) interactive() bool { return c.Terminal != nil }

// timeout is the deadline of c's run.
func (c *Config) timeout() time.Duration {
	switch {
	case c.interactive() && c.InteractiveTimeout > 0:
		return c.InteractiveTimeout
	case c.interactive():
		return DefaultInteractiveTimeout
	case c.Timeout > 0:
		return c.Timeout
	}
	return DefaultTimeout
}

// Result is a token obtained by Run. Never print Token.
type Result struct {
	Token    string
	Expiry   time.Time // zero when the response carried no expiration_time
	FromFile bool      // the token came from the output file
}

// String implements fmt.Stringer without the token.
func (r Result) String() string {
	return fmt.Sprintf("executable.Result{Expiry: %s, FromFile: %t}", r.Expiry, r.FromFile)
}

// GoString implements fmt.GoStringer without the token.
func (r Result) GoString() string { return r.String() }

// ExitError reports a command that exited unsuccessfully.
type ExitError struct {
	// Not comparable, so that no equality function is linked for it.
	_ [0]func()
	// Code is the exit status, or -1 when the process was killed by a
	// signal.
	Code int
	// State describes how the process ended, such as "exit status 3" or
	// "signal: killed".
	State string
	// Stderr is the start of the command's standard error, with
	// token-shaped text redacted and control characters removed.
	Stderr string
}

// Error implements the error interface.
func (e *ExitError) Error() string {
	msg := fmt.Sprintf("executable: command exited with status %d", e.Code)
	if e.Code < 0 {
		msg = "executable: command was terminated"
		if e.State != "" {
			msg += " (" + e.State + ")"
		}
	}
	if e.Stderr != "" {
		msg += ": stderr: " + e.Stderr
	}
	return msg
}

// TimeoutError reports a command killed at its deadline. It unwraps to
// context.DeadlineExceeded.
type TimeoutError struct {
	Timeout time.Duration
}

// Error implements the error interface.
func (e *TimeoutError) Error() string {
	return fmt.Sprintf("executable: command did not finish within %s and was killed", e.Timeout)
}

// Unwrap returns context.DeadlineExceeded.
func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// check validates c; it does not check the timeout range.
func (c *Config) check() error {
	if len(c.Command) == 0 || c.Command[0] == "" {
		return errs.New("executable: no command configured")
	}
	for _, a := range c.Command {
		if strings.IndexByte(a, 0) >= 0 {
			return errs.New("executable: command contains a NUL byte")
		}
	}
	if c.Timeout < 0 || c.InteractiveTimeout < 0 {
		return errs.New("executable: negative timeout")
	}
	if c.interactive() && c.OutputFile == "" {
		return ErrInteractiveNoOutputFile
	}
	if !KnownTokenType(c.TokenType) {
		return errs.Errorf("executable: subject token type %q cannot be supplied by an executable (want %s, %s or %s)",
			c.TokenType, TokenTypeJWT, TokenTypeIDToken, TokenTypeSAML2)
	}
	return nil
}

// Allowed reports whether getenv (nil means os.Getenv) allows executables.
func Allowed(getenv func(string) string) bool {
	if getenv == nil {
		getenv = os.Getenv
	}
	return getenv(EnvAllow) == "1"
}

// Run returns a subject token: from the output file when it holds a valid,
// unexpired success response, otherwise from running the command.
func Run(ctx context.Context, c Config) (Result, error) {
	if err := c.check(); err != nil {
		return Result{}, err
	}
	if !Allowed(c.Getenv) {
		return Result{}, ErrNotAllowed
	}
	if c.interactive() && !tty.IsTerminal(c.Terminal) {
		return Result{}, ErrNotTerminal
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	requireExpiry := c.OutputFile != ""
	if c.OutputFile != "" {
		res, ok, err := outputFile(c.OutputFile, c.TokenType, now(), false)
		if err != nil || ok {
			return res, err
		}
	}
	if err := ctx.Err(); err != nil {
		return Result{}, errs.Errorf("executable: %w", err)
	}
	out, err := execute(ctx, c)
	if err != nil {
		return Result{}, err
	}
	if c.interactive() {
		res, _, err := outputFile(c.OutputFile, c.TokenType, now(), true)
		return res, err
	}
	r, err := ParseResponse(out)
	if err != nil {
		return Result{}, err
	}
	tok, exp, err := Validate(r, c.TokenType, now(), requireExpiry)
	if err != nil {
		return Result{}, err
	}
	return Result{Token: tok, Expiry: exp}, nil
}

// readFile returns the content of the output file, nil (without an error)
// when it does not exist, and an error when it cannot be read, is not a
// regular file or is too large.
func readFile(path string) ([]byte, error) {
	// Opened without blocking and checked on the handle: opening a named
	// pipe would block until a writer comes, which may be never.
	f, err := fsutil.OpenRegular(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if errors.Is(err, fsutil.ErrNotRegular) {
		return nil, errs.Errorf("executable: output file %s: %w", path, fsutil.ErrNotRegular)
	}
	if err != nil {
		return nil, errs.Errorf("executable: reading output file: %w", err)
	}
	defer f.Close()
	data, err := fsutil.ReadUpTo(f, MaxOutput)
	if err != nil {
		return nil, errs.Errorf("executable: reading output file: %w", err)
	}
	if len(data) > MaxOutput {
		return nil, errs.Errorf("executable: output file %s is larger than %d bytes", path, MaxOutput)
	}
	return data, nil
}

// outputFile reads the response in the output file. Before a run (after
// false) it reports ok with a usable cached token, neither ok nor an error
// when the command must run (no file, an empty one, an expired or failure
// response), and an error for an unreadable or corrupt file. After an
// interactive run (after true) the response must be there, well formed,
// successful and unexpired.
func outputFile(path, tokenType string, now time.Time, after bool) (Result, bool, error) {
	data, err := readFile(path)
	if err != nil {
		return Result{}, false, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if after {
			return Result{}, false, ErrNoInteractiveResponse
		}
		// An empty file is what a command that has not written yet leaves.
		return Result{}, false, nil
	}
	corrupt := "executable: output file %s is corrupt: %w"
	if after {
		corrupt = "executable: output file %s: %w"
	}
	r, err := ParseResponse(data)
	if err != nil {
		return Result{}, false, errs.Errorf(corrupt, path, err)
	}
	tok, exp, err := Validate(r, tokenType, now, true)
	switch {
	case err == nil:
		return Result{Token: tok, Expiry: exp, FromFile: !after}, true, nil
	case after:
		return Result{}, false, err
	case errors.Is(err, ErrExpired), isFailure(err):
		return Result{}, false, nil
	}
	return Result{}, false, errs.Errorf(corrupt, path, err)
}

// ErrRevokeNotInteractive is returned by Revoke for a configuration that
// is not interactive: gcloud's revoke contract is for interactive
// executables only.
var ErrRevokeNotInteractive = errs.New("executable: revoking needs an interactive configuration (a terminal and an output file)")

// Revoke runs the command in revoke mode, as gcloud does to sign out of
// an interactive executable: GOOGLE_EXTERNAL_ACCOUNT_REVOKE=1 and
// GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE=1, the terminal as standard input and
// error, the interactive time-out. It must print {"version": 1, "success":
// true} on standard output; a failure response is a *FailureError. The
// output file is neither read nor touched (the command clears what it
// cached).
func Revoke(ctx context.Context, c Config) error {
	if err := c.check(); err != nil {
		return err
	}
	if !c.interactive() {
		return ErrRevokeNotInteractive
	}
	if !Allowed(c.Getenv) {
		return ErrNotAllowed
	}
	if !tty.IsTerminal(c.Terminal) {
		return ErrNotTerminal
	}
	if err := ctx.Err(); err != nil {
		return errs.Errorf("executable: %w", err)
	}
	c.revoke = true
	out, err := execute(ctx, c)
	if err != nil {
		return err
	}
	r, err := ParseResponse(out)
	if err != nil {
		return err
	}
	return validateRevoke(r)
}

// validateRevoke checks a revoke response: version 1 and success; a
// failure carries its code and message.
func validateRevoke(r *Response) error {
	switch {
	case r.Version == nil:
		return formatErr("missing version")
	case *r.Version != 1:
		return formatErr("unsupported version %d (want 1)", *r.Version)
	case r.Success == nil:
		return formatErr("missing success")
	case !*r.Success:
		return failure(r)
	}
	return nil
}

// childEnv is the parent environment without the contract's variables,
// followed by the contract's variables for this run. As os/exec does, a
// variable the parent has twice is passed once, with its last value, and
// one holding a NUL byte is refused.
func childEnv(parent []string, c *Config) ([]string, error) {
	own := []string{EnvAudience, EnvTokenType, EnvInteractive, EnvImpersonatedEmail, EnvOutputFile, EnvRevoke}
	interactive, revoke := "0", "0"
	if c.interactive() {
		interactive = "1"
	}
	if c.revoke {
		revoke = "1"
	}
	env := make([]string, 0, len(parent)+len(own))
	seen := make(map[string]bool, len(parent))
	// The parent's variables last to first, so that the last value of
	// each stays; then put back in order.
outer:
	for i := len(parent) - 1; i >= 0; i-- {
		kv := parent[i]
		k, _, _ := strings.Cut(kv, "=")
		if kv == "" || seen[k] {
			continue
		}
		for _, o := range own {
			if strings.EqualFold(k, o) {
				continue outer
			}
		}
		seen[k] = true
		env = append(env, kv)
	}
	slices.Reverse(env)
	env = append(env,
		EnvAudience+"="+c.Audience,
		EnvTokenType+"="+c.TokenType,
		EnvInteractive+"="+interactive,
		EnvRevoke+"="+revoke,
	)
	if c.ImpersonatedEmail != "" {
		env = append(env, EnvImpersonatedEmail+"="+c.ImpersonatedEmail)
	}
	if c.OutputFile != "" {
		env = append(env, EnvOutputFile+"="+c.OutputFile)
	}
	for _, kv := range env {
		if strings.IndexByte(kv, 0) >= 0 {
			return nil, errs.New("executable: an environment variable contains a NUL byte")
		}
	}
	return env, nil
}

// execute runs the command and returns its standard output (nil for an
// interactive run, whose output goes to the terminal).
func execute(ctx context.Context, c Config) ([]byte, error) {
	timeout := c.timeout()
	environ := os.Environ
	if c.Environ != nil {
		environ = c.Environ
	}
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	stdout := &capped{max: MaxOutput, onOverflow: cancel}
	stderr := &capped{max: stderrKeep, discard: true}
	env, err := childEnv(environ(), &c)
	if err != nil {
		return nil, err
	}
	cmd := &command{argv: c.Command, env: env}
	switch {
	case c.revoke:
		// The answer comes on standard output; the terminal is there
		// for anything the command asks.
		cmd.stdin, cmd.stdout, cmd.stderr = c.Terminal, stdout, c.Terminal
	case c.interactive():
		// The terminal is the command's, and the command stays in the
		// caller's process group: a process group other than the
		// terminal's foreground one is stopped when it reads it.
		cmd.stdin, cmd.stdout, cmd.stderr = c.Terminal, c.Terminal, c.Terminal
	default:
		// Standard input is the null device: the command is not
		// interactive.
		cmd.stdout, cmd.stderr, cmd.ownGroup = stdout, stderr, true
	}

	procs := c.procs
	if procs == nil {
		procs = &running
	}
	reaped, err := procs.start(runCtx, cmd)
	if err != nil {
		if err == ErrShutdown {
			return nil, err
		}
		return nil, errs.Errorf("executable: cannot start %s: %w", c.Command[0], startErr(err))
	}
	state, err := cmd.wait()
	if !c.interactive() && (err == errWaitDelay || runCtx.Err() != nil) {
		// Whatever is left of the command's process group goes too.
		cmd.killGroup()
	}
	switch {
	case reaped():
		return nil, ErrShutdown
	case stdout.overflowed():
		return nil, ErrOutputTooLarge
	case ctx.Err() != nil:
		return nil, errs.Errorf("executable: %w", ctx.Err())
	case runCtx.Err() != nil:
		return nil, &TimeoutError{Timeout: timeout}
	case state != nil && !state.Success():
		// An interactive command's stderr went to the terminal.
		return nil, &ExitError{Code: state.ExitCode(), State: state.String(),
			Stderr: clip(Redact(string(stderr.bytes())), StderrReport)}
	case err != nil && err != errWaitDelay:
		return nil, errs.Errorf("executable: running command: %w", err)
	}
	// On errWaitDelay, the command exited successfully but left a process
	// holding its output open; what it wrote is complete.
	return stdout.bytes(), nil
}

// startErr strips the command path that start's errors repeat.
func startErr(err error) error {
	if pe, ok := errtree.As[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

// isFailure reports whether err is a *FailureError, or wraps one.
func isFailure(err error) bool {
	_, ok := errtree.As[*FailureError](err)
	return ok
}

// capped is a concurrency-safe buffer that keeps at most max bytes. Beyond
// that it either discards silently or records the overflow, calls
// onOverflow and fails the write (which closes the pipe).
type capped struct {
	mu         sync.Mutex
	buf        []byte
	max        int
	discard    bool
	over       bool
	onOverflow func()
}

func (w *capped) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	room := w.max - len(w.buf)
	if len(p) <= room {
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	w.buf = append(w.buf, p[:max(room, 0)]...)
	if w.discard {
		return len(p), nil
	}
	if !w.over {
		w.over = true
		if w.onOverflow != nil {
			w.onOverflow()
		}
	}
	return 0, ErrOutputTooLarge
}

func (w *capped) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf
}

func (w *capped) overflowed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.over
}
