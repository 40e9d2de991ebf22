package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/credfile"
)

func init() {
	register("token", &command{
		summary: "Print an access token obtained with a credential configuration file, or with the\n" +
			"credentials found the way Google's libraries find them.\n" +
			"--credentials names a file gcloud writes (any type: external_account, external_account_authorized_user,\n" +
			"impersonated_service_account, service_account, authorized_user). Without it, the credentials are\n" +
			"detected: the file GOOGLE_APPLICATION_CREDENTIALS names, else gcloud's application default credentials\n" +
			"file ($CLOUDSDK_CONFIG, else ~/.config/gcloud, %APPDATA%\\gcloud on Windows), else the metadata server\n" +
			"(GCE_METADATA_HOST, else the platform's). A file may send credentials only to Google's endpoints and\n" +
			"loopback unless --allow-host names more. The token goes to standard output only. In GitHub Actions, the\n" +
			"file google-github-actions/auth writes works as it is, asking the runtime for a fresh OIDC token at each\n" +
			"exchange.\n\n" +
			"With --interactive, the executable source of a workforce pool file runs as gcloud runs it for\n" +
			"sign-ins that prompt a person: on this terminal (/dev/tty, whatever standard input and output are),\n" +
			"with GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE=1, within the file's interactive_timeout_millis, answering\n" +
			"in its output_file (both required). Executables must be allowed (GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1).",
		usage: "sts token [--credentials FILE] [--scope S]... [--format text|json] [--interactive] [--allow-host HOST]...",
		setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			cf := credentialFlags(fs)
			format := fs.String("format", "text", "output `format`: text (the token alone) or json ({\"access_token\",\"token_type\",\"expiry\"})")
			interactive := fs.Bool("interactive", false, "run the file's executable interactively on this terminal (workforce pools; "+
				"--timeout then defaults to 31m)")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("takes no arguments")
				}
				if err := checkTokenFormat(*format); err != nil {
					return err
				}
				ctx, creds, done, err := cf.open(ctx, fs, e, *interactive)
				if err != nil {
					return err
				}
				defer done()
				tok, err := creds.TokenSource().TokenContext(ctx)
				if err != nil {
					return err
				}
				return printToken(e.stdout, tok, *format)
			}
		},
	})
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, " ") }

func (s *stringList) Set(v string) error {
	v = strings.TrimSpace(v)
	if v == "" {
		return fmt.Errorf("must not be empty")
	}
	*s = append(*s, v)
	return nil
}

// interactiveTimeout is sts token --interactive's default --timeout: past
// the longest interactive_timeout_millis (30 min).
const interactiveTimeout = 31 * time.Minute

// flagSet reports whether the command line set the flag name.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// credFlags are the flags of commands that load a credential file.
type credFlags struct {
	path     string
	scopes   stringList
	timeout  time.Duration
	allow    stringList
	universe string
	// terminal, if set, runs executable sources interactively on it.
	terminal *os.File
}

func credentialFlags(fs *flag.FlagSet) *credFlags {
	c := &credFlags{}
	fs.StringVar(&c.path, "credentials", "", "credential configuration `file`; empty means detect: $GOOGLE_APPLICATION_CREDENTIALS, gcloud's file, the metadata server")
	fs.Var(&c.scopes, "scope", "OAuth `scope` of the token (repeatable); none means https://www.googleapis.com/auth/cloud-platform")
	fs.DurationVar(&c.timeout, "timeout", time.Minute, "give up after this long")
	c.endpointFlags(fs)
	return c
}

// endpointFlags registers the flags that widen where a file may send
// credentials.
func (c *credFlags) endpointFlags(fs *flag.FlagSet) {
	fs.Var(&c.allow, "allow-host", "a `host` (or *.DOMAIN) the credential file may send credentials to besides Google's endpoints and loopback (repeatable)")
	fs.StringVar(&c.universe, "universe-domain", "", "the `domain` of the Google universe the file must belong to; empty means googleapis.com")
}

// open loads the credential file under the command's time-out (--timeout,
// which defaults to interactiveTimeout with --interactive), with the
// terminal open for executable sources to run on when interactive is set.
// It returns the context bounded by the time-out, and done, which ends it
// and closes the terminal.
func (c *credFlags) open(ctx context.Context, fs *flag.FlagSet, e *env, interactive bool) (context.Context, *credfile.Credentials, func(), error) {
	timeout := c.timeout
	closeTerm := func() {}
	if interactive {
		term, err := e.terminal()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("--interactive needs a terminal: %w", err)
		}
		c.terminal, closeTerm = term, func() { term.Close() }
		if !flagSet(fs, "timeout") {
			timeout = interactiveTimeout
		}
	}
	ctx, cancel := withTimeout(ctx, timeout)
	done := func() { cancel(); closeTerm() }
	creds, err := c.load(ctx, e)
	if err != nil {
		done()
		return nil, nil, nil, err
	}
	return ctx, creds, done, nil
}

// load loads the credential file the flags name, or detects credentials
// (the file $GOOGLE_APPLICATION_CREDENTIALS names, gcloud's well-known
// file, the metadata server), giving up when ctx ends (a file may be a
// named pipe nobody writes to). A rotated refresh token is written back to
// the file it came from.
func (c *credFlags) load(ctx context.Context, e *env) (*credfile.Credentials, error) {
	opts := credfile.Options{Getenv: e.getenv, Terminal: c.terminal, AllowedHosts: c.allow, UniverseDomain: c.universe}
	if len(c.scopes) > 0 {
		opts.Scopes = c.scopes
	}
	if c.path != "" {
		opts.OnRefreshTokenRotated = saveRotatedRefreshToken(c.path, e.stderr)
		return await(ctx, "reading credential file "+c.path, func() (*credfile.Credentials, error) {
			return credfile.LoadFile(c.path, opts)
		})
	}
	// The file is known once detected; no token (and so no rotation)
	// is fetched before.
	var found atomic.Pointer[string]
	opts.OnRefreshTokenRotated = func(tok string) {
		if p := found.Load(); p != nil {
			saveRotatedRefreshToken(*p, e.stderr)(tok)
		}
	}
	creds, err := await(ctx, "detecting credentials", func() (*credfile.Credentials, error) {
		return credfile.Detect(ctx, opts)
	})
	if errors.Is(err, credfile.ErrNoCredentials) {
		var se *sts.Error
		errors.As(err, &se)
		return nil, usagef("%v; pass --credentials FILE", se.Err)
	}
	if err != nil {
		return nil, err
	}
	if p := creds.Path(); p != "" {
		found.Store(&p)
	}
	return creds, nil
}

func checkTokenFormat(f string) error {
	if f != "text" && f != "json" {
		return usagef("--format must be text or json, got %q", truncate(f, 20))
	}
	return nil
}

// printToken writes tok to w (standard output: the one place a token goes).
func printToken(w io.Writer, tok *oauth2.Token, format string) error {
	if format == "text" {
		_, err := fmt.Fprintln(w, tok.AccessToken)
		return err
	}
	out := struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		Expiry      string `json:"expiry,omitempty"`
	}{AccessToken: tok.AccessToken, TokenType: tok.Type()}
	if !tok.Expiry.IsZero() {
		out.Expiry = tok.Expiry.UTC().Format(time.RFC3339)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
