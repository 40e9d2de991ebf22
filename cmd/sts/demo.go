package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/credfile"
	"github.com/stsgo/sts/downscope"
	"github.com/stsgo/sts/impersonate"
	"github.com/stsgo/sts/ststest"
)

func init() {
	register("demo", &command{
		summary: "Run every layer of the library end to end against an embedded STS emulator on loopback.\n" +
			"Nothing leaves the machine; the subject token is an unsigned, made-up JWT. Tokens are shown\n" +
			"as a short prefix and their length, never whole.",
		usage: "sts demo",
		setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			timeout := fs.Duration("timeout", time.Minute, "give up after this long")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("takes no arguments")
				}
				if *timeout <= 0 {
					return usagef("--timeout must be positive")
				}
				ctx, cancel := withTimeout(ctx, *timeout)
				defer cancel()
				return runDemo(ctx, e.stdout)
			}
		},
	})
}

// demoAudience is a made-up workload identity pool provider.
const demoAudience = "//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/demo-pool/providers/demo-oidc"

// demo holds the state the steps share.
type demo struct {
	w       io.Writer
	step    int
	emu     *ststest.Server
	dir     string
	subject string // path of the subject token file
	base    *sts.CachedTokenSource
	tok     *oauth2.Token
	sa      *sts.CachedTokenSource // impersonated
	down    *oauth2.Token          // server-side downscoped
	minted  *oauth2.Token          // client-side downscoped
}

func (d *demo) header(title string) {
	d.step++
	fmt.Fprintf(d.w, "\n%d. %s\n", d.step, title)
}

func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.w, "   "+format+"\n", args...)
}

func runDemo(ctx context.Context, w io.Writer) error {
	d := &demo{w: w}
	fmt.Fprintf(w, "sts demo: the library's layers, one step at a time, against a local STS emulator.\n")

	d.header("Start the STS emulator")
	d.emu = ststest.NewServer(ststest.Options{
		TokenLifetime:   time.Hour,
		ValidateSubject: checkDemoSubject,
	})
	defer d.emu.Close()
	d.say("emulator listening on %s (token endpoint %s)", d.emu.URL, d.emu.TokenURL())

	dir, err := os.MkdirTemp("", "sts-demo-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	d.dir = dir

	steps := []func(context.Context) error{
		d.writeSubject,
		d.exchange,
		d.cached,
		d.rotate,
		d.retry,
		d.impersonate,
		d.serverSide,
		d.clientSide,
		d.introspect,
		d.credentialFile,
	}
	for _, s := range steps {
		if err := s(ctx); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\nDone: %d requests reached the emulator in all. Temporary files removed.\n", d.emu.Count(""))
	return nil
}

// demoJWT builds an unsigned, JWT-shaped OIDC token. It is a demo: real
// subject tokens come from an identity provider and are signed.
func demoJWT(sub string, now time.Time) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	header := enc(map[string]string{"alg": "none", "typ": "JWT"})
	claims := enc(map[string]any{
		"iss": "https://issuer.demo.invalid",
		"sub": sub,
		"aud": "https:" + demoAudience,
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	})
	return header + "." + claims + "."
}

// checkDemoSubject is the emulator's subject check: it accepts the demo's
// JWT-shaped tokens and nothing else.
func checkDemoSubject(tokenType, token string) error {
	if tokenType == sts.TokenTypeAccessToken {
		return nil // downscoping an emulator-issued token
	}
	if strings.Count(token, ".") != 2 {
		return errors.New("subject token is not a JWT")
	}
	return nil
}

func (d *demo) writeSubject(context.Context) error {
	d.header("Write an OIDC-shaped subject token to a file")
	d.subject = filepath.Join(d.dir, "oidc-token.jwt")
	tok := demoJWT("demo-workload", time.Now())
	if err := os.WriteFile(d.subject, []byte(tok+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing subject token: %w", err)
	}
	d.say("file %s", d.subject)
	d.say("token %s, claims sub=demo-workload (unsigned: a demo, not a real credential)", preview(tok))
	return nil
}

func (d *demo) exchange(ctx context.Context) error {
	d.header("Exchange it at STS: FileSubject + NewTokenSource")
	d.say("sts.NewTokenSource(sts.Config{Subject: sts.FileSubject{Path: ...}, SubjectTokenType: %s,", shortURN(sts.TokenTypeJWT))
	d.say("    Audience: %s,", truncate(demoAudience, 60))
	d.say("    TokenURL: %s})", d.emu.TokenURL())
	ts, err := sts.NewTokenSource(sts.Config{
		Subject:          sts.FileSubject{Path: d.subject},
		SubjectTokenType: sts.TokenTypeJWT,
		Audience:         demoAudience,
		TokenURL:         d.emu.TokenURL(),
	})
	if err != nil {
		return err
	}
	d.base = ts
	before := d.emu.Count("/v1/token")
	tok, err := ts.TokenContext(ctx)
	if err != nil {
		return err
	}
	d.tok = tok
	d.say("access token %s, type %s, expires in %s", preview(tok.AccessToken), tok.Type(), until(tok.Expiry))
	d.say("emulator token requests: %d -> %d", before, d.emu.Count("/v1/token"))
	if info, ok := d.emu.Lookup(tok.AccessToken); ok {
		d.say("the emulator issued it to subject %q with scopes %v", info.Subject, info.Scopes)
	}
	return nil
}

func (d *demo) cached(ctx context.Context) error {
	d.header("Ask again: the refresh-ahead cache answers without a request")
	before := d.emu.Count("/v1/token")
	start := time.Now()
	tok, err := d.base.TokenContext(ctx)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	d.say("same token: %t, served in %s", tok.AccessToken == d.tok.AccessToken, elapsed)
	d.say("emulator token requests: %d -> %d", before, d.emu.Count("/v1/token"))
	d.say("it is refreshed in the background once 75%% of its lifetime has passed (jittered),")
	d.say("and callers only wait when a token is actually about to expire")
	return nil
}

func (d *demo) rotate(ctx context.Context) error {
	d.header("Rotate the subject token file and force a refresh (as after an HTTP 401)")
	tok := demoJWT("demo-workload-rotated", time.Now())
	if err := os.WriteFile(d.subject, []byte(tok+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing subject token: %w", err)
	}
	d.say("new subject token %s, sub=demo-workload-rotated", preview(tok))
	d.base.Invalidate(d.tok)
	before := d.emu.Count("/v1/token")
	nt, err := d.base.TokenContext(ctx)
	if err != nil {
		return err
	}
	d.say("Invalidate(old token) then Token(): new token %s (different: %t)", preview(nt.AccessToken), nt.AccessToken != d.tok.AccessToken)
	d.say("emulator token requests: %d -> %d", before, d.emu.Count("/v1/token"))
	if info, ok := d.emu.Lookup(nt.AccessToken); ok {
		d.say("the file is re-read at every exchange: issued to subject %q", info.Subject)
	}
	d.tok = nt
	return nil
}

// demoServiceAccount is the service account the demo impersonates.
const demoServiceAccount = "demo-runner@demo-project.iam.gserviceaccount.com"

func (d *demo) impersonate(ctx context.Context) error {
	d.header("Impersonate a service account with the federated token (IAM Credentials generateAccessToken)")
	d.say("impersonate.NewTokenSource(impersonate.Config{Source: <the exchange source>,")
	d.say("    TargetPrincipal: %s, Lifetime: 30m}) (here with the emulator's URL)", demoServiceAccount)
	ts, err := impersonate.NewTokenSource(impersonate.Config{
		Source:   d.base,
		URL:      d.emu.ImpersonationURL(demoServiceAccount),
		Lifetime: 30 * time.Minute,
	})
	if err != nil {
		return err
	}
	d.sa = ts
	path := "/v1/projects/-/serviceAccounts/" + demoServiceAccount + ":generateAccessToken"
	before, exBefore := d.emu.Count(path), d.emu.Count("/v1/token")
	tok, err := ts.TokenContext(ctx)
	if err != nil {
		return err
	}
	if _, err := ts.TokenContext(ctx); err != nil {
		return err
	}
	d.say("service account token %s, expires in %s", preview(tok.AccessToken), until(tok.Expiry))
	d.say("two Token() calls: generateAccessToken requests %d -> %d, exchanges %d -> %d (the federated token was cached)",
		before, d.emu.Count(path), exBefore, d.emu.Count("/v1/token"))
	if info, ok := d.emu.Lookup(tok.AccessToken); ok {
		d.say("the emulator issued it as %q to %q", info.Kind, info.Subject)
	}
	return nil
}

// demoBucket is the bucket the demo's boundaries name.
const demoBucket = "demo-bucket"

func (d *demo) serverSide(ctx context.Context) error {
	d.header("Downscope server-side: STS applies a Credential Access Boundary")
	b := &sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{sts.BucketRule(demoBucket, "roles/storage.objectViewer")}}
	d.say("downscope.NewTokenSource(downscope.Config{Source: <the impersonated source>,")
	d.say("    Boundary: {BucketRule(%q, \"roles/storage.objectViewer\")}})", demoBucket)
	ts, err := downscope.NewTokenSource(downscope.Config{Source: d.sa, Boundary: b, TokenURL: d.emu.TokenURL()})
	if err != nil {
		return err
	}
	before := d.emu.Count("/v1/token")
	tok, err := ts.TokenContext(ctx)
	if err != nil {
		return err
	}
	d.down = tok
	again, err := ts.TokenContext(ctx)
	if err != nil {
		return err
	}
	d.say("downscoped token %s, expires with its root token in %s", preview(tok.AccessToken), until(tok.Expiry))
	d.say("two Token() calls: exchanges %d -> %d, same token: %t (downscoped tokens are cached too)",
		before, d.emu.Count("/v1/token"), again.AccessToken == tok.AccessToken)
	if info, ok := d.emu.Lookup(tok.AccessToken); ok {
		d.say("the emulator issued it as %q to %q with boundary %s", info.Kind, info.Subject, truncate(string(info.AccessBoundary), 120))
	}
	return nil
}

func (d *demo) clientSide(ctx context.Context) error {
	d.header("Downscope client-side: one intermediary token, any number of boundaries minted locally")
	m, err := downscope.NewMinter(downscope.Config{Source: d.sa, TokenURL: d.emu.TokenURL()})
	if err != nil {
		return err
	}
	d.say("m := downscope.NewMinter(downscope.Config{Source: <the impersonated source>})")
	before := d.emu.Count("/v1/token")
	var first string
	for _, customer := range []string{"customer-a/", "customer-b/"} {
		b := &sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{sts.ObjectPrefixRule(demoBucket, customer, "roles/storage.objectViewer")}}
		cb, err := downscope.Compile(b)
		if err != nil {
			return err
		}
		tok, err := m.TokenSource(cb).TokenContext(ctx)
		if err != nil {
			return err
		}
		intermediary, sealed, _ := strings.Cut(tok.AccessToken, ".")
		d.say("objects under %s%s: token = intermediary %s + \".\" + encrypted boundary %s",
			demoBucket+"/", customer, preview(intermediary), preview(sealed))
		if first == "" {
			first = intermediary
			d.minted = tok
		} else {
			d.say("same intermediary token: %t", first == intermediary)
		}
	}
	d.say("exchanges for both tokens: %d -> %d (the intermediary token and its session key are reused;", before, d.emu.Count("/v1/token"))
	d.say("each boundary is encrypted locally with AES-256-GCM, about a microsecond per token)")
	if info, ok := d.emu.Lookup(first); ok {
		d.say("the emulator issued the intermediary token as %q to %q", info.Kind, info.Subject)
	}
	return nil
}

func (d *demo) introspect(ctx context.Context) error {
	d.header("Introspect tokens: what does STS say about them? (POST /v1/introspect)")
	opts := sts.IntrospectOptions{URL: d.emu.IntrospectURL()}
	saTok, err := d.sa.TokenContext(ctx)
	if err != nil {
		return err
	}
	for _, c := range []struct {
		name  string
		token string
	}{
		{"federated token", d.tok.AccessToken},
		{"service account token", saTok.AccessToken},
		{"server-side downscoped token", d.down.AccessToken},
		{"client-side downscoped token", d.minted.AccessToken},
		{"a made-up token", "not-a-token-the-emulator-issued"},
	} {
		r, err := sts.Introspect(ctx, c.token, opts)
		if err != nil {
			return err
		}
		if !r.Active {
			d.say("%-38s active=false", c.name+":")
			continue
		}
		d.say("%-38s active=true sub=%q expires in %s", c.name+":", r.Subject, until(r.Expiry))
	}
	return nil
}

func (d *demo) retry(ctx context.Context) error {
	d.header("Survive the server: a 503 temporarily_unavailable is retried with jittered backoff")
	d.emu.PushFaults(ststest.UnavailableFault(0))
	d.base.Invalidate(nil)
	before := d.emu.Count("/v1/token")
	tok, err := d.base.TokenContext(ctx)
	if err != nil {
		return err
	}
	d.say("the emulator answered the next exchange with 503; Token() still returned %s", preview(tok.AccessToken))
	d.say("emulator token requests: %d -> %d (one failure, one retry); 400, 401, 403 and invalid_grant are not retried",
		before, d.emu.Count("/v1/token"))
	d.tok = tok
	return nil
}

func (d *demo) credentialFile(ctx context.Context) error {
	d.header("Load a credential configuration file, as gcloud iam workload-identity-pools create-cred-config writes")
	cfg := map[string]any{
		"type":                              "external_account",
		"audience":                          demoAudience,
		"subject_token_type":                sts.TokenTypeJWT,
		"token_url":                         d.emu.TokenURL(),
		"service_account_impersonation_url": d.emu.ImpersonationURL(demoServiceAccount),
		"credential_source":                 map[string]any{"file": d.subject, "format": map[string]any{"type": "text"}},
	}
	raw, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(d.dir, "credentials.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		return fmt.Errorf("writing credential file: %w", err)
	}
	d.say("file %s: external_account, file source, impersonation of %s", path, demoServiceAccount)
	creds, err := credfile.LoadFile(path, credfile.Options{})
	if err != nil {
		return err
	}
	d.say("credfile.LoadFile: %v", creds)
	tok, err := creds.TokenSource().TokenContext(ctx)
	if err != nil {
		return err
	}
	d.say("token %s, expires in %s", preview(tok.AccessToken), until(tok.Expiry))
	if info, ok := d.emu.Lookup(tok.AccessToken); ok {
		d.say("the emulator issued it as %q to %q: the same pipeline, from the file", info.Kind, info.Subject)
	}
	d.say("the same file works with sts token --credentials FILE, and with Google Cloud clients")
	d.say("through creds.TokenSource() (option.WithTokenSource) or googlecreds.From(creds)")
	return nil
}

func shortURN(urn string) string {
	i := strings.LastIndex(urn, ":")
	return "…" + urn[i:]
}

func until(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return time.Until(t).Round(time.Second).String()
}
