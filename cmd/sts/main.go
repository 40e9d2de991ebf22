// Command sts exchanges, inspects and narrows Google Cloud credentials
// through Google's Security Token Service, and runs a local STS emulator.
//
// Usage:
//
//	sts <command> [flags]
//
// Commands:
//
//	demo        run every layer of the library end to end against an embedded emulator
//	emulator    run the STS emulator as a loopback server for other programs' tests
//	serve       serve tokens over the GCE metadata-server protocol, for programs in any language
//	token       print an access token for a credential configuration file
//	downscope   print a token narrowed by a Credential Access Boundary
//	introspect  show what STS knows about a token
//	login       sign in to a workforce identity pool
//	version     print the version (also: sts --version, sts -v)
//	completion  print a shell completion script (bash, zsh or fish)
//
// Every command takes --help. Results go to standard output; errors go to
// standard error, with a non-zero exit status (1 for a failure, 2 for a
// usage error). No command writes a secret to standard error. Set
// GOOGLE_SDK_GO_LOGGING_LEVEL=debug to log requests, responses, retries and
// refreshes (secrets redacted) as JSON on standard error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/stsgo/sts/internal/executable"
)

// env is what a command may touch of the outside world; tests replace none
// of it (they run the built binary), but it keeps commands honest about
// their streams.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// openTerminal opens the terminal for interactive executables; nil
	// means the process's controlling terminal (openTTY).
	openTerminal func() (*os.File, error)
}

// terminal opens the terminal interactive executables run on.
func (e *env) terminal() (*os.File, error) {
	if e.openTerminal != nil {
		return e.openTerminal()
	}
	return openTTY()
}

// command is one subcommand.
type command struct {
	summary string
	usage   string // the line after "Usage: "
	// setup defines the command's flags on fs and returns the function
	// that does the work once they are parsed; args are the positional
	// arguments left.
	setup func(fs *flag.FlagSet) func(ctx context.Context, e *env, args []string) error
}

var commands = map[string]*command{}

// register adds a command; each command file calls it from init.
func register(name string, c *command) { commands[name] = c }

// usageError is returned for bad command lines; it exits with status 2.
type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

// exitError ends a command with a given status and message, for outcomes
// that are answers rather than failures (an inactive token).
type exitError struct {
	code int
	msg  string
}

func (x *exitError) Error() string { return x.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func main() {
	ctx, stop := signalContext(os.Stderr)
	code := run(ctx, os.Args[1:], &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	exit(code, reapGrace)
}

// exit ends the process with code, killing first every credential
// executable still running (a refresh the command stopped waiting for) with
// its children, which would outlive it, and waiting at most wait for them
// to be reaped.
func exit(code int, wait time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	_ = executable.Shutdown(ctx)
	cancel()
	os.Exit(code)
}

// run executes one command line and returns the exit status.
func run(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 {
		topUsage(e.stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "-v", "--version", "-version":
		name = "version"
		args = append([]string{"version"}, args[1:]...)
	}
	switch name {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 {
			c, ok := commands[args[1]]
			if !ok {
				fmt.Fprintf(e.stderr, "sts: unknown command %q\n", truncate(args[1], 40))
				topUsage(e.stderr)
				return 2
			}
			fs := newFlagSet(args[1], e)
			c.setup(fs)
			printUsage(e.stdout, c, fs)
			return 0
		}
		topUsage(e.stdout)
		return 0
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(e.stderr, "sts: unknown command %q\n", truncate(name, 40))
		topUsage(e.stderr)
		return 2
	}
	fs := newFlagSet(name, e)
	runner := c.setup(fs)
	err := parse(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		printUsage(e.stdout, c, fs)
		return 0
	}
	start := time.Now()
	if err == nil {
		err = runner(ctx, e, fs.Args())
	}
	if err == nil {
		return 0
	}
	var se *signalError
	if errors.As(context.Cause(ctx), &se) {
		// Whatever failed, it failed because of the signal.
		fmt.Fprintf(e.stderr, "sts %s: %v\n", name, se)
		return se.exitCode()
	}
	var xe *exitError
	if errors.As(err, &xe) {
		if xe.msg != "" {
			fmt.Fprintf(e.stderr, "sts %s: %s\n", name, xe.msg)
		}
		return xe.code
	}
	var ue *usageError
	if errors.As(err, &ue) {
		if ue.msg != "" {
			fmt.Fprintf(e.stderr, "sts %s: %s\n", name, ue.msg)
		}
		fmt.Fprintf(e.stderr, "Run 'sts %s --help' for usage.\n", name)
		return 2
	}
	// Library errors start with "sts: "; the command's name already says it.
	msg := strings.ReplaceAll(strings.TrimPrefix(err.Error(), "sts: "), ": sts: ", ": ")
	// An operation named like the command ("introspect") is said once.
	msg = strings.TrimPrefix(msg, name+": ")
	if d := timeoutFlag(fs); d > 0 && time.Since(start) >= d && errors.Is(err, context.DeadlineExceeded) && !strings.Contains(msg, "(--timeout)") {
		// The library says which call ran out of time; say whose
		// deadline it was.
		msg += fmt.Sprintf("; gave up after %v (--timeout)", d)
	}
	fmt.Fprintf(e.stderr, "sts %s: %s\n", name, msg)
	return 1
}

// newFlagSet returns the command's flag set. Parse errors are printed by the
// flag package to stderr; help is printed by run to stdout.
func newFlagSet(name string, e *env) *flag.FlagSet {
	fs := flag.NewFlagSet("sts "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {}
	return fs
}

// parse parses args and maps flag errors to usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{} // the flag package already printed why
	}
	return nil
}

func printUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", c.usage, c.summary)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintf(w, "\nFlags:\n")
		printFlags(w, fs)
	}
}

// printFlags lists fs's flags the way they are typed on the command line,
// with two dashes (the flag package prints one).
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if typ != "" {
			line += " " + typ
		}
		fmt.Fprintf(w, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" && f.DefValue != "[]" {
			fmt.Fprintf(w, " (default %q)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

func topUsage(w io.Writer) {
	fmt.Fprintf(w, "sts exchanges, inspects and narrows Google Cloud credentials through the Security Token Service.\n\n")
	fmt.Fprintf(w, "Usage: sts <command> [flags]\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-11s %s\n", n, firstLine(commands[n].summary))
	}
	fmt.Fprintf(w, "\nRun 'sts <command> --help' for a command's flags; 'sts --version' prints the version.\n")
	fmt.Fprintf(w, "GOOGLE_SDK_GO_LOGGING_LEVEL=debug logs requests (secrets redacted) as JSON on standard error.\n")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSuffix(line, ".")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// preview shows a secret as a short prefix and its length, never whole.
func preview(secret string) string {
	if secret == "" {
		return `""`
	}
	n := min(12, len(secret)/4)
	return fmt.Sprintf("%s… (%d chars)", secret[:n], len(secret))
}
