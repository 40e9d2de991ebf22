package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/credfile"
	"github.com/stsgo/sts/downscope"
	"github.com/stsgo/sts/impersonate"
	"github.com/stsgo/sts/internal/fsutil"
	"github.com/stsgo/sts/metaserver"
)

func init() {
	register("serve", &command{
		summary: "Serve tokens over the GCE metadata-server protocol, for programs in any language.\n" +
			"Every Google client library asks the metadata server for credentials when it finds no other,\n" +
			"and GCE_METADATA_HOST points it here: run a program with GCE_METADATA_HOST=127.0.0.1:PORT.\n" +
			"Tokens come from one cached source built from the credential file (--credentials, else\n" +
			"GOOGLE_APPLICATION_CREDENTIALS); --boundary downscopes every token served. The server listens\n" +
			"on a loopback address or a Unix socket only, refuses requests without Metadata-Flavor: Google\n" +
			"or with X-Forwarded-For, and never logs a token. It prints its base URL on the first line of\n" +
			"standard output and stops cleanly on SIGINT or SIGTERM.",
		usage: "sts serve [--credentials FILE] [--listen 127.0.0.1:PORT | --socket PATH [--socket-group G]] [--scope S]... [--boundary FILE] [--project-id ID] [--health-listen ADDR]",
		setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			cf := &credFlags{}
			fs.StringVar(&cf.path, "credentials", "", "credential configuration `file`; empty means $GOOGLE_APPLICATION_CREDENTIALS")
			fs.Var(&cf.scopes, "scope", "OAuth `scope` of the tokens served (repeatable); none means https://www.googleapis.com/auth/cloud-platform")
			listen := fs.String("listen", "127.0.0.1:0", "loopback `address` to listen on (127.0.0.1, ::1 or localhost); port 0 picks a free port")
			socket := fs.String("socket", "", "listen on a Unix socket at `path` (mode 0600) instead of TCP")
			group := fs.String("socket-group", "", "give the socket to this `group` with mode 0660")
			boundary := fs.String("boundary", "", "Credential Access Boundary JSON `file`: every token served is downscoped by it")
			projectID := fs.String("project-id", "", "project `ID` answered at project/project-id")
			health := fs.String("health-listen", "", "also answer "+metaserver.ReadinessPath+" (and nothing else) on this `address`, for probes")
			logRequests := fs.Bool("log-requests", false, "log every request (method, path, status; never a token) on standard error")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("takes no arguments")
				}
				if *group != "" && *socket == "" {
					return usagef("--socket-group needs --socket")
				}
				level := slog.LevelInfo
				if *logRequests {
					level = slog.LevelDebug
				}
				logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
				cfg, err := serveConfig(ctx, e, cf, *boundary, *projectID)
				if err != nil {
					return err
				}
				cfg.Logger = logger
				ln, base, err := serveListener(fs, *listen, *socket, *group)
				if err != nil {
					return err
				}
				if *socket != "" {
					cfg.AllowedHosts = []string{"*"} // no browser reaches a Unix socket
				}
				return runServe(ctx, e, cfg, ln, base, *health)
			}
		},
	})
}

// serveConfig builds what the server serves from the credential file and
// the flags. It is the one place that knows the loading API. ctx bounds
// reading the files, then and for the scoped sources loaded later.
func serveConfig(ctx context.Context, e *env, cf *credFlags, boundaryPath, projectID string) (metaserver.Config, error) {
	var b *sts.AccessBoundary
	if boundaryPath != "" {
		var err error
		if b, err = readBoundary(ctx, boundaryPath); err != nil {
			return metaserver.Config{}, err
		}
	}
	creds, err := cf.load(ctx, e)
	if err != nil {
		return metaserver.Config{}, err
	}
	if b != nil && creds.Type() != credfile.TypeExternalAccount {
		return metaserver.Config{}, errors.New("--boundary needs an external_account credential file: STS does not apply access boundaries to workforce user tokens")
	}
	// wrap downscopes a source when a boundary is set.
	wrap := func(c *credfile.Credentials) (oauth2.TokenSource, error) {
		if b == nil {
			return c.TokenSource(), nil
		}
		return downscope.NewTokenSource(downscope.Config{Source: c.TokenSource(), Boundary: b, TokenURL: c.TokenURL(), UniverseDomain: c.UniverseDomain()})
	}
	src, err := wrap(creds)
	if err != nil {
		return metaserver.Config{}, err
	}
	cfg := metaserver.Config{
		TokenSource:      src,
		Email:            creds.ServiceAccount(),
		ProjectID:        projectID,
		NumericProjectID: projectNumber(creds.Audience()),
		UniverseDomain:   creds.UniverseDomain(),
	}
	if len(cf.scopes) > 0 {
		cfg.Scopes = cf.scopes
	}
	switch creds.Type() {
	case credfile.TypeExternalAccount, credfile.TypeImpersonatedServiceAccount, credfile.TypeServiceAccount, credfile.TypeMetadataServer:
		// These ask for their scopes, so other scope sets are honoured
		// with sources of their own.
		cfg.ScopedTokenSource = func(scopes []string) (oauth2.TokenSource, error) {
			scoped := *cf
			scoped.path, scoped.scopes = creds.Path(), scopes
			c, err := scoped.load(ctx, e)
			if err != nil {
				return nil, err
			}
			return wrap(c)
		}
	}
	switch {
	case b != nil:
		cfg.IDTokenUnavailable = "an ID token is not narrowed by --boundary, so none is served"
	case creds.Type() != credfile.TypeExternalAccount && creds.Type() != credfile.TypeImpersonatedServiceAccount:
		cfg.IDTokenUnavailable = "ID tokens are served for credential files that impersonate a service account"
	case creds.ServiceAccount() == "":
		cfg.IDTokenUnavailable = "the credential impersonates no service account (ID tokens are minted for one)"
	default:
		if cfg.IDToken, err = idTokens(ctx, e, cf, creds); err != nil {
			return metaserver.Config{}, err
		}
	}
	return cfg, nil
}

// idTokens returns a func minting ID tokens (IAM generateIdToken) for the
// service account a credential file impersonates. The caller's token comes
// from the same file loaded without its impersonation.
func idTokens(ctx context.Context, e *env, cf *credFlags, creds *credfile.Credentials) (func(context.Context, string) (string, error), error) {
	path := creds.Path()
	data, err := await(ctx, "reading credential file "+path, func() ([]byte, error) { return fsutil.ReadFileLimited(path, 1<<20) })
	if err != nil {
		return nil, fmt.Errorf("reading credential file %s: %w", path, err)
	}
	var file map[string]json.RawMessage
	var url string
	if err := json.Unmarshal(data, &file); err != nil || json.Unmarshal(file["service_account_impersonation_url"], &url) != nil {
		return nil, fmt.Errorf("credential file %s: no service_account_impersonation_url", path)
	}
	var plain []byte
	if creds.Type() == credfile.TypeImpersonatedServiceAccount {
		plain = file["source_credentials"] // the caller is the source
	} else {
		delete(file, "service_account_impersonation_url")
		delete(file, "service_account_impersonation")
		plain, _ = json.Marshal(file)
	}
	caller, err := await(ctx, "loading credential file "+path, func() (*credfile.Credentials, error) {
		return credfile.Load(plain, credfile.Options{Getenv: e.getenv, AllowedHosts: cf.allow, UniverseDomain: cf.universe})
	})
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, audience string) (string, error) {
		ts, err := impersonate.NewIDTokenSource(impersonate.Config{Source: caller.TokenSource(), URL: url, UniverseDomain: creds.UniverseDomain()}, audience)
		if err != nil {
			return "", err
		}
		tok, err := ts.TokenContext(ctx)
		if err != nil {
			return "", err
		}
		return tok.AccessToken, nil
	}, nil
}

// projectNumber returns the project number of a workload identity pool
// provider's audience, or "".
func projectNumber(audience string) string {
	rest, ok := strings.CutPrefix(audience, "//iam.googleapis.com/projects/")
	if !ok {
		return ""
	}
	num, _, _ := strings.Cut(rest, "/")
	for _, c := range num {
		if c < '0' || c > '9' {
			return ""
		}
	}
	return num
}

// serveListener opens the loopback or Unix-socket listener the flags ask
// for and returns it with the base URL to print.
func serveListener(fs *flag.FlagSet, listen, socket, group string) (net.Listener, string, error) {
	if socket != "" {
		listenSet := false
		fs.Visit(func(f *flag.Flag) { listenSet = listenSet || f.Name == "listen" })
		if listenSet {
			return nil, "", usagef("--listen and --socket exclude each other")
		}
		ln, err := metaserver.ListenUnix(socket, metaserver.UnixOptions{Group: group})
		if err != nil {
			return nil, "", fmt.Errorf("--socket: %w", err)
		}
		return ln, "unix:" + socket, nil
	}
	ln, err := metaserver.Listen(listen)
	var ve *sts.ValidationError
	if errors.As(err, &ve) {
		return nil, "", usagef("--listen %q: %s", truncate(listen, 64), ve.Reason)
	}
	if err != nil {
		return nil, "", fmt.Errorf("listen: %w", err)
	}
	return ln, "http://" + ln.Addr().String(), nil
}

func runServe(ctx context.Context, e *env, cfg metaserver.Config, ln net.Listener, base, health string) error {
	s, err := metaserver.New(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	servers := []*http.Server{{Handler: s, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}}
	listeners := []net.Listener{ln}
	if health != "" {
		hl, err := net.Listen("tcp", health)
		if err != nil {
			ln.Close()
			return fmt.Errorf("--health-listen: %w", err)
		}
		servers = append(servers, &http.Server{Handler: s.ReadinessHandler(), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10})
		listeners = append(listeners, hl)
	}
	served := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { served <- srv.Serve(listeners[i]) }()
	}

	fmt.Fprintf(e.stdout, "%s\n", base)
	if host, ok := strings.CutPrefix(base, "http://"); ok {
		fmt.Fprintf(e.stdout, "Metadata server listening. Run programs with GCE_METADATA_HOST=%s\n", host)
	} else {
		fmt.Fprintf(e.stdout, "Metadata server listening on a Unix socket.\n")
	}
	if health != "" {
		fmt.Fprintf(e.stdout, "Readiness: http://%s%s\n", listeners[1].Addr(), metaserver.ReadinessPath)
	}
	fmt.Fprintf(e.stdout, "Stop it with Ctrl-C or SIGTERM.\n")
	go func() {
		if err := s.Check(ctx); err != nil && ctx.Err() == nil {
			cfg.Logger.Log(ctx, slog.LevelWarn, "sts serve: the first access token could not be fetched; requests get 503 until one is", "error", err.Error())
		}
	}()

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	// Requests in flight get shutdownGrace; those still running then are
	// cut, so that a signal stops the server within a second.
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	fmt.Fprintf(e.stdout, "Metadata server stopped.\n")
	return nil
}
