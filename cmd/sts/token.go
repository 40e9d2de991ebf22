package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/credfile"
)

func init() {
	register("token", &command{
		summary: "Print an access token obtained with a credential configuration file.\n" +
			"The file is one gcloud writes (type external_account or external_account_authorized_user):\n" +
			"--credentials names it, or else the GOOGLE_APPLICATION_CREDENTIALS environment variable does.\n" +
			"The token goes to standard output only.",
		usage: "sts token [--credentials FILE] [--scope S]... [--format text|json]",
		setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			cf := credentialFlags(fs)
			format := fs.String("format", "text", "output `format`: text (the token alone) or json ({\"access_token\",\"token_type\",\"expiry\"})")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("takes no arguments")
				}
				if err := checkTokenFormat(*format); err != nil {
					return err
				}
				ctx, cancel := withTimeout(ctx, cf.timeout)
				defer cancel()
				creds, err := cf.load(ctx, e)
				if err != nil {
					return err
				}
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

// credFlags are the flags of commands that load a credential file.
type credFlags struct {
	path    string
	scopes  stringList
	timeout time.Duration
}

func credentialFlags(fs *flag.FlagSet) *credFlags {
	c := &credFlags{}
	fs.StringVar(&c.path, "credentials", "", "credential configuration `file`; empty means $GOOGLE_APPLICATION_CREDENTIALS")
	fs.Var(&c.scopes, "scope", "OAuth `scope` of the token (repeatable); none means https://www.googleapis.com/auth/cloud-platform")
	fs.DurationVar(&c.timeout, "timeout", time.Minute, "give up after this long")
	return c
}

// load loads the credential file the flags or the environment name, giving
// up when ctx ends (the file may be a named pipe nobody writes to).
func (c *credFlags) load(ctx context.Context, e *env) (*credfile.Credentials, error) {
	opts := credfile.Options{Getenv: e.getenv}
	if len(c.scopes) > 0 {
		opts.Scopes = c.scopes
	}
	path := c.path
	if path == "" {
		path = e.getenv(credfile.EnvCredentials)
	}
	if path == "" {
		return nil, usagef("no credentials: pass --credentials FILE or set %s", credfile.EnvCredentials)
	}
	opts.OnRefreshTokenRotated = saveRotatedRefreshToken(path, e.stderr)
	return await(ctx, "reading credential file "+path, func() (*credfile.Credentials, error) {
		return credfile.LoadFile(path, opts)
	})
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
