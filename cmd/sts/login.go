package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/stsgo/sts/login"
)

// clientSecretEnv is the environment variable login reads the OAuth client
// secret from when --client-secret-file is not given.
const clientSecretEnv = "STS_CLIENT_SECRET"

func init() {
	register("login", &command{
		summary: "Sign in to a workforce identity pool in a browser and write an external_account_authorized_user\n" +
			"credential file (as gcloud auth application-default login --login-config does).\n" +
			"--login-config reads the file gcloud iam workforce-pools create-login-config writes; flags override it.\n" +
			"The OAuth client secret is read from --client-secret-file, else from $" + clientSecretEnv + ", never from\n" +
			"the command line. The credential file holds a refresh token: it is written with mode 0600.",
		usage: "sts login --client-id ID --output FILE [--login-config FILE | --audience AUD] [flags]",
		setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			loginConfig := fs.String("login-config", "", "gcloud workforce login configuration `file`")
			audience := fs.String("audience", "", "workforce pool provider (//iam.googleapis.com/locations/global/workforcePools/POOL/providers/PROVIDER)")
			clientID := fs.String("client-id", "", "OAuth client `ID` (required)")
			secretFile := fs.String("client-secret-file", "", "`file` holding the OAuth client secret; empty means $"+clientSecretEnv)
			authURL := fs.String("auth-url", "", "authorization `endpoint`; empty means the login configuration's, or https://auth.cloud.google/authorize")
			tokenURL := fs.String("token-url", "", "token `endpoint`; empty means the login configuration's, or https://sts.googleapis.com/v1/oauthtoken")
			infoURL := fs.String("token-info-url", "", "introspection `endpoint` written to the credential file")
			universe := fs.String("universe-domain", "", "Google Cloud universe `domain`; empty means the login configuration's, or googleapis.com")
			quota := fs.String("quota-project", "", "quota `project` written to the credential file")
			output := fs.String("output", "", "where to write the credential `file` (required; \"-\" means standard output)")
			listen := fs.String("listen", "127.0.0.1:0", "loopback `address` of the redirect listener")
			noBrowser := fs.Bool("no-browser", false, "print the sign-in URL instead of opening a browser")
			timeout := fs.Duration("timeout", 10*time.Minute, "how long to wait for the sign-in")
			var scopes stringList
			fs.Var(&scopes, "scope", "OAuth `scope` (repeatable); none means https://www.googleapis.com/auth/cloud-platform")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("takes no arguments")
				}
				if *clientID == "" {
					return usagef("--client-id is required")
				}
				if *output == "" {
					return usagef("--output is required (\"-\" for standard output)")
				}
				var cfg login.Config
				// The files are read within the same --timeout as the
				// sign-in (one may be a named pipe nobody writes to).
				rctx, rcancel := withTimeout(ctx, *timeout)
				defer rcancel()
				if *loginConfig != "" {
					lc, err := await(rctx, "reading", func() (*login.Config, error) {
						return login.ReadConfigFile(*loginConfig)
					})
					if err != nil {
						return fmt.Errorf("login configuration %s: %w", *loginConfig, err)
					}
					cfg = *lc
				}
				cfg.ClientID, cfg.Scopes, cfg.QuotaProjectID = *clientID, scopes, *quota
				cfg.ListenAddr, cfg.SignInTimeout, cfg.Output = *listen, *timeout, e.stderr
				for _, o := range []struct {
					flag string
					dst  *string
				}{{*audience, &cfg.Audience}, {*authURL, &cfg.AuthURL}, {*tokenURL, &cfg.TokenURL}, {*infoURL, &cfg.TokenInfoURL}, {*universe, &cfg.UniverseDomain}} {
					if o.flag != "" {
						*o.dst = o.flag
					}
				}
				if cfg.Audience == "" {
					return usagef("--audience or --login-config is required")
				}
				secret, err := clientSecret(rctx, e, *secretFile)
				if err != nil {
					return err
				}
				cfg.ClientSecret = secret
				if !*noBrowser {
					cfg.OpenURL = func(u string) error { return openBrowser(e.stderr, u) }
				}
				res, err := login.Run(ctx, cfg)
				if err != nil {
					return err
				}
				if *output == "-" {
					_, err := e.stdout.Write(res.CredentialsJSON())
					return err
				}
				if err := res.WriteCredentialsFile(*output); err != nil {
					return err
				}
				exp := "unknown"
				if !res.Token.Expiry.IsZero() {
					exp = relative(res.Token.Expiry)
				}
				fmt.Fprintf(e.stderr, "Signed in. Credential file written to %s (access token expires %s).\n", *output, exp)
				fmt.Fprintf(e.stderr, "Use it with: sts token --credentials %s, or GOOGLE_APPLICATION_CREDENTIALS=%s\n", *output, *output)
				return nil
			}
		},
	})
}

// clientSecret reads the OAuth client secret from a file or the environment.
func clientSecret(ctx context.Context, e *env, file string) (string, error) {
	var s string
	if file != "" {
		data, err := await(ctx, "reading client secret file "+file, func() ([]byte, error) { return readInputFile("client secret file", file) })
		if err != nil {
			return "", fmt.Errorf("client secret: %w", err)
		}
		s = strings.TrimSpace(string(data))
		if s == "" {
			return "", fmt.Errorf("client secret file %s is empty", file)
		}
		return s, nil
	}
	s = strings.TrimSpace(e.getenv(clientSecretEnv))
	if s == "" {
		return "", usagef("no client secret: pass --client-secret-file FILE or set %s", clientSecretEnv)
	}
	return s, nil
}

// openBrowser opens u in the user's browser. A failure makes login.Run
// print the URL instead.
func openBrowser(stderr io.Writer, u string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", u)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	default:
		cmd = exec.Command("xdg-open", u)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "Opening the sign-in page in your browser; if it does not open, run again with --no-browser.\n")
	go func() { _ = cmd.Wait() }() // reap it; the sign-in does not depend on it
	return nil
}
