package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/credfile"
	"github.com/stsgo/sts/downscope"
)

// maxInputFile bounds a file named on the command line and read by the
// command itself (a boundary, a client secret).
const maxInputFile = 1 << 20

// readInputFile reads a file named on the command line, at most 1 MiB. It
// may be a named pipe (a shell's <(...) is one): the caller bounds the read
// with await. Files the library reads (credential files, subject token
// files, sign-in configurations) must be regular files instead.
func readInputFile(what, path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxInputFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if len(data) > maxInputFile {
		return nil, fmt.Errorf("%s %s is larger than 1 MiB", what, path)
	}
	return data, nil
}

func init() {
	register("downscope", &command{
		summary: "Print a token narrowed by a Credential Access Boundary.\n" +
			"The root token comes from the credential file (--credentials, else GOOGLE_APPLICATION_CREDENTIALS),\n" +
			"or with --stdin from standard input (for example: gcloud auth print-access-token | sts downscope --stdin ...).\n" +
			"The boundary file is {\"accessBoundary\":{\"accessBoundaryRules\":[...]}} as Google documents it.\n" +
			"By default STS applies the boundary (server-side); with --client-side the token is minted locally\n" +
			"from an intermediary token and session key, with one STS request for any number of boundaries.",
		usage: "sts downscope --boundary FILE [--client-side] [--credentials FILE | --stdin] [--format text|json]",
		setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			cf := credentialFlags(fs)
			boundary := fs.String("boundary", "", "Credential Access Boundary JSON `file` (required)")
			clientSide := fs.Bool("client-side", false, "mint the token locally (client-side Credential Access Boundary)")
			stdin := fs.Bool("stdin", false, "downscope the access token read from standard input instead of a credential file's")
			tokenURL := fs.String("token-url", "", "STS token `endpoint`; empty means the credential file's, or https://sts.googleapis.com/v1/token with --stdin")
			format := fs.String("format", "text", "output `format`: text (the token alone) or json ({\"access_token\",\"token_type\",\"expiry\"})")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("takes no arguments")
				}
				if *boundary == "" {
					return usagef("--boundary is required")
				}
				if err := checkTokenFormat(*format); err != nil {
					return err
				}
				if *stdin && (cf.path != "" || len(cf.scopes) > 0) {
					return usagef("--stdin excludes --credentials and --scope")
				}
				ctx, cancel := withTimeout(ctx, cf.timeout)
				defer cancel()
				b, err := readBoundary(ctx, *boundary)
				if err != nil {
					return err
				}
				var src oauth2.TokenSource
				url, universe := *tokenURL, ""
				if *stdin {
					tok, err := tokenArg(ctx, e, nil)
					if err != nil {
						return err
					}
					src = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok, TokenType: "Bearer"})
				} else {
					creds, err := cf.load(ctx, e)
					if err != nil {
						return err
					}
					if creds.Type() != credfile.TypeExternalAccount {
						return errors.New("downscoping needs an external_account credential file: STS does not apply access boundaries to workforce user tokens")
					}
					src = creds.TokenSource()
					universe = creds.UniverseDomain()
					if url == "" {
						url = creds.TokenURL()
					}
				}
				var tok *oauth2.Token
				if *clientSide {
					tok, err = clientSideToken(ctx, src, b, url, universe)
				} else {
					tok, err = serverSideToken(ctx, src, b, url, universe)
				}
				if err != nil {
					return err
				}
				return printToken(e.stdout, tok, *format)
			}
		},
	})
}

// readBoundary reads and parses a boundary file, giving up when ctx ends.
func readBoundary(ctx context.Context, path string) (*sts.AccessBoundary, error) {
	data, err := await(ctx, "reading boundary file "+path, func() ([]byte, error) { return readInputFile("boundary file", path) })
	if err != nil {
		return nil, err
	}
	b, err := sts.ParseAccessBoundary(data)
	if err != nil {
		return nil, fmt.Errorf("boundary file %s: %w", path, err)
	}
	return b, nil
}

func serverSideToken(ctx context.Context, src oauth2.TokenSource, b *sts.AccessBoundary, url, universe string) (*oauth2.Token, error) {
	ts, err := downscope.NewTokenSource(downscope.Config{Source: src, Boundary: b, TokenURL: url, UniverseDomain: universe})
	if err != nil {
		return nil, err
	}
	return ts.TokenContext(ctx)
}

func clientSideToken(ctx context.Context, src oauth2.TokenSource, b *sts.AccessBoundary, url, universe string) (*oauth2.Token, error) {
	cb, err := downscope.Compile(b)
	if err != nil {
		return nil, err
	}
	m, err := downscope.NewMinter(downscope.Config{Source: src, TokenURL: url, UniverseDomain: universe})
	if err != nil {
		return nil, err
	}
	return m.TokenSource(cb).TokenContext(ctx)
}
