// Package login signs a user in to workforce identity federation in a
// browser, as "gcloud auth application-default login --login-config" does,
// and writes the external_account_authorized_user credential file that
// package credfile and gcloud read back.
//
// A program fills a Config (or reads gcloud's login configuration file
// with ReadConfigFile and adds its OAuth client), calls Run, and saves the
// Result with WriteCredentialsFile:
//
//	cfg, err := login.ReadConfigFile("login-config.json")
//	if err != nil { ... }
//	cfg.ClientID, cfg.ClientSecret = id, secret
//	cfg.OpenURL = openBrowser
//	res, err := login.Run(ctx, *cfg)
//	if err != nil { ... }
//	err = res.WriteCredentialsFile(path)
package login

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/fsutil"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/logenv"
	"github.com/stsgo/sts/internal/loopback"
	"github.com/stsgo/sts/internal/secret"
	"github.com/stsgo/sts/internal/wire"
)

// DefaultAuthURL is the authorization endpoint of workforce identity
// federation's browser sign-in in the googleapis.com universe.
const DefaultAuthURL = "https://auth.cloud.google/authorize"

// defaultSignInTimeout bounds the wait for the browser when the context has
// no earlier deadline.
const defaultSignInTimeout = 10 * time.Minute

// Config configures a workforce identity federation browser sign-in, as
// "gcloud auth login --login-config" performs it: the user signs in at the
// workforce pool provider's identity provider, the browser is redirected to
// a loopback listener with an authorization code, and the code is exchanged
// with PKCE (RFC 7636, S256) at STS's /v1/oauthtoken endpoint for an access
// token and a refresh token.
//
// Audience, ClientID and ClientSecret are required; every other field has a
// documented default. A Config is not used after Run returns.
type Config struct {
	// Audience is the workforce pool provider, such as
	// "//iam.googleapis.com/locations/global/workforcePools/POOL/providers/PROVIDER".
	// Required.
	Audience string
	// ClientID and ClientSecret are the OAuth client registered for the
	// sign-in. They authenticate the code exchange (HTTP Basic) and are
	// written to the credential file for later refreshes. Required.
	ClientID     string
	ClientSecret string `json:"-"`
	// Scopes are the OAuth scopes asked for. Nil means sts.CloudPlatformScope.
	Scopes []string
	// AuthURL is the authorization endpoint. Empty means
	// DefaultAuthURL; it is required in universes other than
	// googleapis.com. It must be https unless its host is a loopback
	// address.
	AuthURL string
	// TokenURL is the code exchange and refresh endpoint. Empty means
	// "https://sts.<UniverseDomain>/v1/oauthtoken".
	TokenURL string
	// TokenInfoURL and RevokeURL are written to the credential file. Empty
	// means "https://sts.<UniverseDomain>/v1/introspect" and
	// "https://sts.<UniverseDomain>/v1/revoke".
	TokenInfoURL, RevokeURL string
	// UniverseDomain is the Google Cloud universe. Empty means
	// "googleapis.com".
	UniverseDomain string
	// QuotaProjectID is written to the credential file when set.
	QuotaProjectID string
	// ListenAddr is the loopback address the redirect listener binds, as
	// "host:port". Empty means "127.0.0.1:0" (a free port). The host must
	// be a literal loopback IP address or localhost (read from the hosts
	// file); the listener binds that literal address.
	ListenAddr string
	// Listener, if set, is the redirect listener (ListenAddr is then
	// ignored); its address must be a loopback TCP address. Run closes
	// it. Nil means listening on ListenAddr.
	Listener net.Listener
	// RedirectPath is the path of the redirect URI. Empty means "/callback".
	RedirectPath string
	// OpenURL sends the user to the authorization URL, typically by opening
	// a browser. It is called once and should return quickly; if it fails,
	// the URL is printed to Output and the sign-in keeps waiting. Nil means
	// printing the URL to Output.
	OpenURL func(authURL string) error
	// Output receives the authorization URL when it is printed. Nil means
	// os.Stderr.
	Output io.Writer
	// SignInTimeout bounds the wait for the browser's redirect (the
	// context's deadline applies too). Zero means 10 minutes.
	SignInTimeout time.Duration
	// HTTPOptions holds the HTTP client, the time-out of the code exchange
	// and the logger; the zero value is ready to use. Its Retry is not
	// used: an authorization code is single use, so the exchange is never
	// retried.
	sts.HTTPOptions
}

// String describes c without its client secret.
func (c Config) String() string {
	cs := ""
	if c.ClientSecret != "" {
		cs = " ClientSecret:" + secret.Redacted
	}
	return fmt.Sprintf("login.Config{Audience:%q ClientID:%q%s AuthURL:%q TokenURL:%q}",
		c.Audience, c.ClientID, cs, c.AuthURL, c.TokenURL)
}

// Format prints String whatever the verb: no verb shows a secret.
func (c Config) Format(f fmt.State, verb rune) { secret.Format(f, verb, c.String()) }

// plan is a validated Config with defaults applied.
type plan struct {
	audience, provider                 string
	authURL, tokenURL, infoURL, revoke string
	universe, listen, path             string
	scopes                             []string
}

func (c *Config) validate() (*plan, error) {
	if c.Audience == "" {
		return nil, invalid("Config.Audience", "must not be empty")
	}
	if check.Audience("Config.Audience", c.Audience) != nil || !check.WorkforceAudience(c.Audience, "") {
		return nil, invalid("Config.Audience", "must name a workforce pool provider (//iam.googleapis.com/locations/LOCATION/workforcePools/POOL/providers/PROVIDER)")
	}
	if c.ClientID == "" {
		return nil, invalid("Config.ClientID", "must not be empty")
	}
	if c.ClientSecret == "" {
		return nil, invalid("Config.ClientSecret", "must not be empty")
	}
	if err := check.Scopes("Config.Scopes", c.Scopes); err != nil {
		return nil, verr(err)
	}
	p := &plan{audience: c.Audience, universe: c.UniverseDomain, path: c.RedirectPath, listen: c.ListenAddr}
	if err := verr(check.Universe("Config.UniverseDomain", p.universe)); err != nil {
		return nil, err
	}
	if p.universe == "" {
		p.universe = sts.DefaultUniverseDomain
	}
	// provider_name is the audience without its "//iam.<universe>/" prefix.
	_, p.provider, _ = strings.Cut(strings.TrimPrefix(c.Audience, "//"), "/")
	urls := []struct {
		field string
		val   string
		def   string
		dst   *string
	}{
		{"Config.AuthURL", c.AuthURL, "", &p.authURL},
		{"Config.TokenURL", c.TokenURL, "https://sts." + p.universe + "/v1/oauthtoken", &p.tokenURL},
		{"Config.TokenInfoURL", c.TokenInfoURL, "https://sts." + p.universe + "/v1/introspect", &p.infoURL},
		{"Config.RevokeURL", c.RevokeURL, "https://sts." + p.universe + "/v1/revoke", &p.revoke},
	}
	if p.universe == sts.DefaultUniverseDomain {
		urls[0].def = DefaultAuthURL
	}
	for _, u := range urls {
		if u.val == "" {
			if u.def == "" {
				return nil, invalid(u.field, "must be set outside the %s universe", sts.DefaultUniverseDomain)
			}
			*u.dst = u.def
			continue
		}
		if err := verr(check.Endpoint(u.field, u.val)); err != nil {
			return nil, err
		}
		*u.dst = u.val
	}
	if c.Listener != nil {
		a, ok := c.Listener.Addr().(*net.TCPAddr)
		if !ok || !a.IP.IsLoopback() {
			return nil, invalid("Config.Listener", "address %q is not a loopback TCP address", httpx.Truncate(c.Listener.Addr().String(), 100))
		}
	} else {
		if p.listen == "" {
			p.listen = "127.0.0.1:0"
		}
		// The listener binds the literal address checked here (localhost
		// is read from the hosts file), never a name resolved again.
		ap, err := loopback.ResolveAddr(p.listen, loopback.HostsPath())
		if err != nil {
			return nil, invalid("Config.ListenAddr", "%s", err)
		}
		p.listen = ap.String()
	}
	if p.path == "" {
		p.path = "/callback"
	}
	if !strings.HasPrefix(p.path, "/") || strings.ContainsAny(p.path, "?#%{} \t\r\n") {
		return nil, invalid("Config.RedirectPath", "must be an absolute URL path without query")
	}
	if c.SignInTimeout < 0 {
		return nil, invalid("Config.SignInTimeout", "must not be negative")
	}
	if c.Timeout < 0 {
		return nil, invalid("Config.Timeout", "must not be negative")
	}
	p.scopes = c.Scopes
	if p.scopes == nil {
		p.scopes = []string{sts.CloudPlatformScope}
	}
	return p, nil
}

// Result is the outcome of a successful Run: the user's tokens, and the
// external_account_authorized_user credential they make.
type Result struct {
	// Token holds the access token, its expiry and the refresh token. It
	// is secret.
	Token *oauth2.Token `json:"-"`
	// IDToken is the OpenID Connect ID token the server returned, or "".
	IDToken string `json:"-"`

	// cred is a pointer so that %v of a Result value (which does not
	// use String) prints an address, not the client secret and refresh
	// token.
	cred *credentialFile
}

// credentialFile is the JSON of an external_account_authorized_user
// credential file.
type credentialFile struct {
	Type           string `json:"type"`
	Audience       string `json:"audience"`
	ClientID       string `json:"client_id"`
	ClientSecret   string `json:"client_secret"`
	RefreshToken   string `json:"refresh_token"`
	TokenURL       string `json:"token_url"`
	TokenInfoURL   string `json:"token_info_url"`
	RevokeURL      string `json:"revoke_url,omitempty"`
	QuotaProjectID string `json:"quota_project_id,omitempty"`
	UniverseDomain string `json:"universe_domain"`
}

// String describes the result without any token or secret.
func (r *Result) String() string {
	if r == nil {
		return "login.Result(nil)"
	}
	var aud, id string
	if r.cred != nil {
		aud, id = r.cred.Audience, r.cred.ClientID
	}
	exp := "none"
	if r.Token != nil && !r.Token.Expiry.IsZero() {
		exp = r.Token.Expiry.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("login.Result{Audience:%q ClientID:%q Expiry:%s RefreshToken:REDACTED}", aud, id, exp)
}

// Format prints String whatever the verb: no verb shows a secret. It has
// a value receiver so that a dereferenced Result prints redacted too.
func (r Result) Format(f fmt.State, verb rune) { secret.Format(f, verb, r.String()) }

// CredentialsJSON returns the external_account_authorized_user credential
// file for the signed-in user (the format "gcloud auth application-default
// login --login-config" writes). It holds the refresh token and the client
// secret: keep it private.
func (r *Result) CredentialsJSON() []byte {
	b, _ := json.MarshalIndent(r.cred, "", "  ") // only strings: cannot fail
	return append(b, '\n')
}

// WriteCredentialsFile writes CredentialsJSON to path with mode 0600,
// atomically (a temporary file in the same directory is renamed over path),
// creating the directory with mode 0700 if needed. An empty path is a
// *sts.ValidationError; other failures are *sts.Error with Op "login".
func (r *Result) WriteCredentialsFile(path string) error {
	if path == "" {
		return invalid("path", "must not be empty")
	}
	err := os.MkdirAll(filepath.Dir(path), 0o700)
	if err == nil {
		err = fsutil.WriteFileAtomic(path, r.CredentialsJSON(), 0o600)
	}
	if err != nil {
		return &sts.Error{Op: "login", Err: fmt.Errorf("writing credential file: %w", err)}
	}
	return nil
}

// callbackResult is what the redirect listener got.
type callbackResult struct {
	code string
	err  *sts.Error
}

// Run runs a workforce identity federation browser sign-in:
//
//  1. It listens on a loopback address (Config.ListenAddr) for the
//     redirect.
//  2. It builds the authorization URL (client_id, redirect_uri,
//     response_type=code, scope, state, access_type=offline, PKCE
//     code_challenge with method S256, and provider_name, the workforce
//     pool provider) and hands it to Config.OpenURL.
//  3. It waits for one redirect carrying the state it sent. A request
//     without that state (missing, different, repeated) is answered with an
//     error page (400) and ignored, so that no other program or page can end
//     the sign-in; the first request with the state ends the wait, and later
//     ones are turned away (410).
//  4. It exchanges the code with its PKCE verifier at /v1/oauthtoken
//     (grant_type=authorization_code, HTTP Basic client authentication).
//
// The wait ends with ctx, or after Config.SignInTimeout. Configuration
// errors are *sts.ValidationError naming the Config field; every other
// failure is an *sts.Error with Op "login" (an error redirect from the
// authorization server carries its OAuth code). Use
// Result.WriteCredentialsFile to save the credential.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	p, err := cfg.validate()
	if err != nil {
		if cfg.Listener != nil {
			_ = cfg.Listener.Close()
		}
		return nil, err
	}
	cfg.Logger = logenv.Resolve(cfg.Logger)
	logf := func(msg string, args ...any) {
		if cfg.Logger != nil {
			cfg.Logger.Log(ctx, slog.LevelInfo, msg, args...)
		}
	}
	ln := cfg.Listener
	if ln == nil {
		ln, err = net.Listen("tcp", p.listen)
		if err != nil {
			return nil, &sts.Error{Op: "login", Err: fmt.Errorf("redirect listener: %w", err)}
		}
	}
	redirectURI := "http://" + ln.Addr().String() + p.path

	state := randomState()
	verifier := oauth2.GenerateVerifier()
	oc := &oauth2.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: p.authURL, TokenURL: p.tokenURL, AuthStyle: oauth2.AuthStyleInHeader},
		RedirectURL:  redirectURI,
		Scopes:       p.scopes,
	}
	authURL := oc.AuthCodeURL(state, oauth2.AccessTypeOffline, oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("provider_name", p.provider))

	results := make(chan callbackResult, 1)
	var handled atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc(p.path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet || r.URL.Path != p.path {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		q := r.URL.Query()
		if !stateMatches(q, state) {
			// Not the redirect of this sign-in (a stale tab, another
			// program, a forged link): answer it and keep waiting for
			// the right one, so that nobody else can end the sign-in.
			logf("sts: login: ignored a request whose state does not match this sign-in")
			http.Error(w, "Sign-in failed: this request does not belong to the sign-in in progress (its state does not match). Use the link the application printed.", http.StatusBadRequest)
			return
		}
		if !handled.CompareAndSwap(false, true) {
			http.Error(w, "This sign-in has already been handled; start a new one.", http.StatusGone)
			return
		}
		res := readCallback(q)
		status, page := http.StatusOK, "Sign-in received. You can close this window and return to the application.\n"
		if res.err != nil {
			status, page = http.StatusBadRequest, "Sign-in failed: "+res.err.Error()+"\n"
		}
		// The whole page goes out before Run may close the listener.
		w.Header().Set("Content-Length", strconv.Itoa(len(page)))
		w.WriteHeader(status)
		_, _ = io.WriteString(w, page)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		results <- res
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			_ = srv.Close()
		}
		<-served
	}()

	out := cfg.Output
	if out == nil {
		out = os.Stderr
	}
	printURL := func() {
		_, _ = fmt.Fprintf(out, "Go to the following link in your browser to sign in:\n\n    %s\n\n", authURL)
	}
	logf("sts: login: waiting for the browser", "redirect_uri", redirectURI)
	if cfg.OpenURL == nil {
		printURL()
	} else if err := cfg.OpenURL(authURL); err != nil {
		logf("sts: login: could not open the browser", "error", err.Error())
		printURL()
	}

	wait := cfg.SignInTimeout
	if wait == 0 {
		wait = defaultSignInTimeout
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var res callbackResult
	select {
	case res = <-results:
	case <-wctx.Done():
		if ctx.Err() != nil {
			return nil, &sts.Error{Op: "login", Err: fmt.Errorf("waiting for the browser: %w", ctx.Err())}
		}
		return nil, &sts.Error{Op: "login", Err: fmt.Errorf("no sign-in within %v: %w", wait, context.DeadlineExceeded)}
	}
	if res.err != nil {
		return nil, res.err
	}
	return exchangeCode(ctx, &cfg, p, redirectURI, res.code, verifier)
}

// stateMatches reports whether the redirect's query carries exactly one
// state, equal to the one this sign-in sent.
func stateMatches(q url.Values, state string) bool {
	got := q["state"]
	return len(got) == 1 && got[0] != "" && subtle.ConstantTimeCompare([]byte(got[0]), []byte(state)) == 1
}

// readCallback reads the code or the error of a redirect whose state
// matched.
func readCallback(q url.Values) callbackResult {
	if code := q.Get("error"); code != "" {
		b, _ := json.Marshal(map[string]string{"error": code, "error_description": q.Get("error_description")})
		eb, _ := wire.DecodeError(b, nil) // cleans and bounds server text
		return callbackResult{err: &sts.Error{Op: "login", Code: eb.Code, Description: eb.Description}}
	}
	code := q.Get("code")
	if code == "" || len(q["code"]) != 1 {
		return callbackResult{err: &sts.Error{Op: "login", Description: "the redirect carries no authorization code"}}
	}
	return callbackResult{code: code}
}

// exchangeCode redeems the authorization code at the token endpoint, with
// PKCE's verifier and HTTP Basic client authentication, through the
// package's HTTP layer: one attempt (a code is single use), no redirect
// followed, cfg.Timeout as its deadline.
func exchangeCode(ctx context.Context, cfg *Config, p *plan, redirectURI, code, verifier string) (*Result, error) {
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {redirectURI},
		"code_verifier": {verifier},
	}
	hdr := http.Header{}
	hdr.Set("Authorization", httpx.BasicAuth(cfg.ClientID, cfg.ClientSecret))
	doer := httpx.NewDoer(httpx.Options{Client: cfg.HTTPClient, Timeout: cfg.Timeout, Retry: httpx.Retry{MaxAttempts: 1},
		Logger: cfg.Logger, APIClient: httpx.BaseAPIClient()})
	tok, resp, herr := doer.PostToken(ctx, "login", p.tokenURL, []byte(form.Encode()), hdr, code, verifier, cfg.ClientSecret)
	if herr != nil {
		return nil, (*sts.Error)(herr)
	}
	if resp.RefreshToken == "" {
		return nil, (*sts.Error)(httpx.BadAnswer("login", http.MethodPost, p.tokenURL, errors.New("response has no refresh_token")))
	}
	if !resp.HasExpiresIn {
		return nil, (*sts.Error)(httpx.BadAnswer("login", http.MethodPost, p.tokenURL, httpx.ErrNoExpiresIn))
	}
	tok.RefreshToken = resp.RefreshToken
	tok.ExpiresIn = int64(resp.ExpiresIn / time.Second)
	if resp.IDToken != "" {
		tok = tok.WithExtra(map[string]any{"id_token": resp.IDToken})
	}
	res := &Result{Token: tok, IDToken: resp.IDToken}
	res.cred = &credentialFile{
		Type:           "external_account_authorized_user",
		Audience:       p.audience,
		ClientID:       cfg.ClientID,
		ClientSecret:   cfg.ClientSecret,
		RefreshToken:   tok.RefreshToken,
		TokenURL:       p.tokenURL,
		TokenInfoURL:   p.infoURL,
		RevokeURL:      p.revoke,
		QuotaProjectID: cfg.QuotaProjectID,
		UniverseDomain: p.universe,
	}
	return res, nil
}

// randomState returns 256 random bits in unpadded base64url.
func randomState() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
