package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/stsgo/sts/internal/loopback"
	"github.com/stsgo/sts/internal/statusrec"
	"github.com/stsgo/sts/ststest"
)

func init() {
	register("emulator", &command{
		summary: "Run the STS emulator (package ststest) as a loopback HTTP server for other programs' tests.\n" +
			"It prints its base URL on the first line of standard output, logs one line per request\n" +
			"(method, path, status; never a token) on standard error, and stops cleanly on SIGINT or SIGTERM.\n" +
			"It keeps every request in memory: run it for tests, not as a service.",
		usage: "sts emulator [--listen 127.0.0.1:PORT] [--token-lifetime 1h] [--latency D] [--accept-any | --check-audience [--allowed-audience AUD]...]\n" +
			"       [--provider AUDIENCE]..." +
			" [--allowed-locations ENCODED[=LOCATION,...]] [--client-id ID [--require-client-auth] | --no-client-auth] [--quiet]",
		setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			listen := fs.String("listen", "127.0.0.1:0", "loopback `address` to listen on; port 0 picks a free port")
			lifetime := fs.Duration("token-lifetime", ststest.DefaultTokenLifetime, "lifetime of the tokens the emulator issues")
			quiet := fs.Bool("quiet", false, "do not log requests on standard error")
			latency := fs.Duration("latency", 0, "delay every answer by this long (to test time-outs and refresh-ahead)")
			clientID := fs.String("client-id", "", "the only OAuth client `ID` accepted; its secret is read from $"+clientSecretEnv)
			requireAuth := fs.Bool("require-client-auth", false, "reject requests without client credentials (needs --client-id)")
			noClientAuth := fs.Bool("no-client-auth", false, "reject any client credentials (to check that a client sends none)")
			acceptAny := fs.Bool("accept-any", false, "accept any subject token (by default, as STS, refuse a JWT or ID token subject that is not a JWT or has expired)")
			allowed := fs.String("allowed-locations", "", "answer regional access boundary lookups with `ENCODED[=LOCATION,...]` (for example 0xA30=us-central1,europe-west1); default 0x0, no restriction")
			checkAudience := fs.Bool("check-audience", false, "refuse, as STS, a JWT or ID token subject whose aud is neither https: followed by the exchange's audience nor an --allowed-audience")
			var allowedAuds stringList
			fs.Var(&allowedAuds, "allowed-audience", "an `aud` that subjects may name with --check-audience, besides the default (repeatable)")
			var providers stringList
			fs.Var(&providers, "provider", "the `audience` of a provider the emulator knows (repeatable); when given, exchanges for other providers are refused")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("takes no arguments")
				}
				if *lifetime <= 0 {
					return usagef("--token-lifetime must be positive")
				}
				if *latency < 0 {
					return usagef("--latency must not be negative")
				}
				if *acceptAny && *checkAudience {
					return usagef("--accept-any cannot be combined with --check-audience")
				}
				if len(allowedAuds) > 0 && !*checkAudience {
					return usagef("--allowed-audience needs --check-audience")
				}
				opts := ststest.Options{TokenLifetime: *lifetime, AcceptAnySubject: *acceptAny, NoClientAuth: *noClientAuth,
					CheckSubjectAudience: *checkAudience, AllowedAudiences: allowedAuds}
				for _, p := range providers {
					if !strings.HasPrefix(p, "//iam.") || !strings.Contains(p, "/providers/") {
						return usagef("--provider %q: want //iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER or //iam.googleapis.com/locations/global/workforcePools/POOL/providers/PROVIDER", truncate(p, 200))
					}
					opts.Providers = append(opts.Providers, p)
				}
				encoded, locations, _ := strings.Cut(*allowed, "=")
				if *allowed != "" && (!strings.HasPrefix(encoded, "0x") || len(encoded) < 3 || strings.Trim(encoded[2:], "0123456789abcdefABCDEF") != "") {
					return usagef("--allowed-locations %q: want a hexadecimal ENCODED such as 0xA30, then optionally =LOCATION,...", truncate(*allowed, 200))
				}
				if *noClientAuth && (*clientID != "" || *requireAuth) {
					return usagef("--no-client-auth cannot be combined with --client-id or --require-client-auth")
				}
				if *clientID != "" {
					secret := e.getenv(clientSecretEnv)
					if secret == "" {
						return usagef("--client-id needs the client secret in $%s", clientSecretEnv)
					}
					opts.ClientID, opts.ClientSecret, opts.RequireClientAuth = *clientID, secret, *requireAuth
				} else if *requireAuth {
					return usagef("--require-client-auth needs --client-id")
				}
				var locs []string
				if locations != "" {
					locs = strings.Split(locations, ",")
				}
				return runEmulator(ctx, e, *listen, opts, *latency, *quiet, func(emu *ststest.Server) {
					emu.SetAllowedLocations("", encoded, locs...)
				})
			}
		},
	})
}

func runEmulator(ctx context.Context, e *env, listen string, opts ststest.Options, latency time.Duration, quiet bool, setup func(*ststest.Server)) error {
	// Clients only accept plain http for loopback hosts, and the emulator
	// keeps credentials in memory: it never listens elsewhere, and binds
	// the literal address it checked (localhost is read from the hosts
	// file).
	ap, err := loopback.ResolveAddr(listen, loopback.HostsPath())
	if err != nil {
		return usagef("--listen %q: %v", truncate(listen, 64), err)
	}
	ln, err := net.Listen("tcp", ap.String())
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	emu := ststest.NewInMemoryServer(opts)
	emu.URL = "http://" + ln.Addr().String()
	emu.SetLatency(latency)
	setup(emu)
	var h http.Handler = emu
	if !quiet {
		h = logRequests(e, emu)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	fmt.Fprintf(e.stdout, "%s\n", emu.URL)
	fmt.Fprintf(e.stdout, "STS emulator listening. Endpoints (put them in credential files as token_url, ...):\n")
	for _, ep := range emulatorEndpoints(emu) {
		fmt.Fprintf(e.stdout, "  %-22s %s\n", ep[0], ep[1])
	}
	fmt.Fprintf(e.stdout, "Stop it with Ctrl-C or SIGTERM.\n")

	select {
	case <-ctx.Done():
	case err := <-served:
		emu.Close()
		return fmt.Errorf("serve: %w", err)
	}
	emu.Close() // releases requests held by latency or hang faults
	// Requests in flight get shutdownGrace; those still running then are
	// cut, so that a signal stops the emulator within a second.
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if srv.Shutdown(sctx) != nil {
		_ = srv.Close()
	}
	if serr := <-served; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", serr)
	}
	fmt.Fprintf(e.stdout, "STS emulator stopped after %d requests.\n", emu.Count(""))
	return nil
}

// emulatorEndpoints lists what the emulator serves, by name.
func emulatorEndpoints(emu *ststest.Server) [][2]string {
	return [][2]string{
		{"token exchange", emu.TokenURL()},
		{"impersonation", emu.ImpersonationURL("SERVICE_ACCOUNT_EMAIL")},
		{"ID tokens", strings.TrimSuffix(emu.ImpersonationURL("SERVICE_ACCOUNT_EMAIL"), ":generateAccessToken") + ":generateIdToken"},
		{"allowed locations", emu.URL + "/v1/projects/-/serviceAccounts/SERVICE_ACCOUNT_EMAIL/allowedLocations"},
		{"oauthtoken", emu.OAuthTokenURL()},
		{"introspection", emu.IntrospectURL()},
		{"revocation", emu.RevokeURL()},
		{"authorization (login)", emu.AuthorizeURL()},
	}
}

// logRequests logs method, path (no query), status and duration of each
// request: nothing that can hold a secret.
func logRequests(e *env, h http.Handler) http.Handler {
	var mu sync.Mutex
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusrec.Writer{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(e.stderr, "%s %s %s %d %s\n", start.UTC().Format(time.RFC3339), r.Method, truncate(r.URL.Path, 100), rec.Status(), time.Since(start).Round(time.Microsecond))
	})
}
