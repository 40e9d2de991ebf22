package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/stsgo/sts"
)

// errInactive makes introspect --active exit with status 3.
var errInactive = &exitError{code: 3, msg: "the token is not active"}

func init() {
	register("introspect", &command{
		summary: "Show what STS knows about an access token (POST /v1/introspect).\n" +
			"The token is read from standard input when no argument is given, or when the argument is \"-\";\n" +
			"prefer standard input: an argument is visible to other users in the process list.\n" +
			"With --credentials FILE, the credential file's own current token is introspected instead, at the\n" +
			"file's token_info_url (else the introspection endpoint next to its token_url), with its client_id and\n" +
			"client_secret when it has them.",
		usage: "sts introspect [--url URL] [--format text|json] [--active] [TOKEN | --credentials FILE]",
		setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			endpoint := fs.String("url", "", "introspection `endpoint`; empty means the credential file's (its token_info_url, else next to its token_url), else https://sts.googleapis.com/v1/introspect")
			format := fs.String("format", "text", "output `format`: text or json (RFC 7662 field names)")
			active := fs.Bool("active", false, "exit with status 3 when the token is not active")
			timeout := fs.Duration("timeout", time.Minute, "give up after this long")
			credentials := fs.String("credentials", "", "introspect the current token of this credential configuration `file`")
			cf := &credFlags{}
			cf.endpointFlags(fs)
			return func(ctx context.Context, e *env, args []string) error {
				if *format != "text" && *format != "json" {
					return usagef("--format must be text or json, got %q", truncate(*format, 20))
				}
				if len(args) > 1 {
					return usagef("takes at most one token argument")
				}
				ctx, cancel := withTimeout(ctx, *timeout)
				defer cancel()
				var in *sts.Introspection
				if *credentials != "" {
					if len(args) > 0 {
						return usagef("--credentials introspects the file's token: give no TOKEN")
					}
					cf.path = *credentials
					creds, err := cf.load(ctx, e)
					if err != nil {
						return err
					}
					opts := creds.IntrospectOptions()
					if *endpoint != "" {
						opts.URL = *endpoint
					}
					tok, err := creds.TokenSource().TokenContext(ctx)
					if err != nil {
						return err
					}
					if in, err = sts.Introspect(ctx, tok.AccessToken, opts); err != nil {
						return err
					}
				} else {
					token, err := tokenArg(ctx, e, args)
					if err != nil {
						return err
					}
					if in, err = sts.Introspect(ctx, token, sts.IntrospectOptions{URL: *endpoint}); err != nil {
						return err
					}
				}
				if err := printIntrospection(e.stdout, in, *format); err != nil {
					return err
				}
				if *active && !in.Active {
					return errInactive
				}
				return nil
			}
		},
	})
}

// maxTokenInput bounds a token read from standard input.
const maxTokenInput = 1 << 20

// tokenArg returns the token named on the command line, or read from
// stdin (giving up when ctx ends).
func tokenArg(ctx context.Context, e *env, args []string) (string, error) {
	if len(args) == 1 && args[0] != "-" {
		if strings.TrimSpace(args[0]) == "" {
			return "", usagef("the token argument is empty")
		}
		return strings.TrimSpace(args[0]), nil
	}
	raw, err := await(ctx, "reading the token from standard input", func() ([]byte, error) {
		return io.ReadAll(io.LimitReader(e.stdin, maxTokenInput+1))
	})
	if err != nil {
		if ctx.Err() != nil {
			return "", err
		}
		return "", fmt.Errorf("reading the token from standard input: %w", err)
	}
	if len(raw) > maxTokenInput {
		return "", errors.New("the token on standard input is larger than 1 MiB")
	}
	tok := strings.TrimSpace(string(raw))
	if tok == "" {
		return "", usagef("no token: give it as an argument or on standard input")
	}
	if strings.ContainsAny(tok, " \t\r\n") {
		return "", errors.New("standard input holds more than one token")
	}
	return tok, nil
}

func printIntrospection(w io.Writer, in *sts.Introspection, format string) error {
	if format == "json" {
		m := map[string]any{"active": in.Active}
		put := func(k, v string) {
			if v != "" {
				m[k] = v
			}
		}
		put("client_id", in.ClientID)
		put("iss", in.Issuer)
		put("sub", in.Subject)
		put("username", in.Username)
		put("scope", strings.Join(in.Scopes, " "))
		if !in.Expiry.IsZero() {
			m["exp"] = in.Expiry.Unix()
		}
		if !in.IssuedAt.IsZero() {
			m["iat"] = in.IssuedAt.Unix()
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	}
	fmt.Fprintf(w, "active:     %t\n", in.Active)
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%-11s %s\n", k+":", v)
		}
	}
	line("subject", in.Subject)
	line("username", in.Username)
	line("client_id", in.ClientID)
	line("issuer", in.Issuer)
	line("scopes", strings.Join(in.Scopes, " "))
	if !in.IssuedAt.IsZero() {
		line("issued_at", in.IssuedAt.UTC().Format(time.RFC3339))
	}
	if !in.Expiry.IsZero() {
		line("expiry", fmt.Sprintf("%s (%s)", in.Expiry.UTC().Format(time.RFC3339), relative(in.Expiry)))
	}
	return nil
}

// relative describes t relative to now.
func relative(t time.Time) string {
	d := time.Until(t).Round(time.Second)
	if d < 0 {
		return "expired " + (-d).String() + " ago"
	}
	return "in " + d.String()
}
