// Package googleoauth gets access tokens from Google's OAuth 2.0 token
// endpoint (oauth2.googleapis.com/token) for the two credential types
// gcloud writes that do not go through STS: a service account key
// (service_account: a JWT-bearer grant signed with the key) and a user's
// refresh token (authorized_user). The grants are golang.org/x/oauth2's
// (jwt for the key); this package gives them the
// module's rules: one fetch per call and no caching (the caller caches), no
// redirects followed, a deadline per attempt, retries of temporary
// failures, answers checked like every other token answer, and failures as
// *httpx.Error naming the request.
package googleoauth

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"

	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/scrub"
	"github.com/stsgo/sts/internal/wire"
)

// DefaultTokenURL is Google's OAuth 2.0 token endpoint, where gcloud's
// files send their grants when they name none.
const DefaultTokenURL = "https://oauth2.googleapis.com/token"

// Source fetches one access token per call. It is safe for concurrent use.
type Source struct {
	op    string // "token" for both grants
	url   string
	opts  httpx.Options
	retry httpx.Retry
	fetch func(ctx context.Context) (*oauth2.Token, error)
	kind  string
}

// ServiceAccount returns the source of a service_account key file (data,
// already checked by the caller) for scopes, at tokenURL ("" means the
// file's token_uri, else DefaultTokenURL).
//
// The key is read as golang.org/x/oauth2/google.JWTConfigFromJSON reads
// it, without importing that package: its imports' initialisation would
// link the regexp package into every program loading a credential file.
func ServiceAccount(data []byte, tokenURL string, scopes []string, o httpx.Options) (*Source, error) {
	var f struct {
		Type         string `json:"type"`
		ClientEmail  string `json:"client_email"`
		PrivateKey   string `json:"private_key"`
		PrivateKeyID string `json:"private_key_id"`
		TokenURL     string `json:"token_uri"`
		Audience     string `json:"audience"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	if f.Type != "service_account" {
		return nil, fmt.Errorf("type is %q, not service_account", f.Type)
	}
	cfg := &jwt.Config{
		Email:        f.ClientEmail,
		PrivateKey:   []byte(f.PrivateKey),
		PrivateKeyID: f.PrivateKeyID,
		Scopes:       append([]string(nil), scopes...),
		TokenURL:     cmp.Or(tokenURL, f.TokenURL, DefaultTokenURL),
		Audience:     f.Audience,
	}
	s := newSource("service_account", cfg.TokenURL, o)
	s.fetch = func(ctx context.Context) (*oauth2.Token, error) {
		// A new jwt source per call: its ReuseTokenSource wrapper holds
		// nothing yet, so Token signs and sends one grant.
		return cfg.TokenSource(ctx).Token()
	}
	return s, nil
}

// AuthorizedUser returns the source of an authorized_user file: a refresh
// token grant with the file's client ID and secret, at tokenURL ("" means
// DefaultTokenURL).
func AuthorizedUser(clientID, clientSecret, refreshToken, tokenURL string, o httpx.Options) *Source {
	if tokenURL == "" {
		tokenURL = DefaultTokenURL
	}
	cfg := &oauth2.Config{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		Endpoint:     oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams},
	}
	s := newSource("authorized_user", tokenURL, o)
	s.fetch = func(ctx context.Context) (*oauth2.Token, error) {
		return cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	}
	return s
}

func newSource(kind, tokenURL string, o httpx.Options) *Source {
	if o.Timeout <= 0 {
		o.Timeout = httpx.DefaultAttemptTimeout
	}
	return &Source{op: "token", url: tokenURL, opts: o, retry: o.Retry.WithDefaults(), kind: kind}
}

// CheckPrivateKey checks a service account's private_key: an RSA key, PEM
// (or bare DER) PKCS #8 or PKCS #1, without a passphrase. The error never
// quotes the key.
func CheckPrivateKey(key string) error {
	der := []byte(key)
	if block, _ := pem.Decode(der); block != nil {
		der = block.Bytes
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		if k, err = x509.ParsePKCS1PrivateKey(der); err != nil {
			return errors.New("is not a PEM PKCS #8 or PKCS #1 private key")
		}
	}
	if _, ok := k.(*rsa.PrivateKey); !ok {
		return errors.New("is not an RSA private key")
	}
	return nil
}

// Kind returns "service_account" or "authorized_user".
func (s *Source) Kind() string { return s.kind }

// URL returns the token endpoint.
func (s *Source) URL() string { return s.url }

// Token is TokenContext with context.Background().
func (s *Source) Token() (*oauth2.Token, error) { return s.TokenContext(context.Background()) }

// TokenContext sends one grant (retrying temporary failures) and returns
// the token. Every failure is an *httpx.Error with Op "token".
func (s *Source) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	for attempt := 1; ; attempt++ {
		tok, err := s.attempt(ctx)
		if err == nil {
			return tok, nil
		}
		if !err.Temporary() || attempt >= s.retry.MaxAttempts || ctx.Err() != nil {
			return nil, err
		}
		t := time.NewTimer(s.retry.Backoff(attempt, err.RetryAfter))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

func (s *Source) attempt(ctx context.Context) (*oauth2.Token, *httpx.Error) {
	actx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	client := httpx.NoRedirects(s.opts.Client)
	rec := &recorder{base: client.Transport}
	if rec.base == nil {
		rec.base = http.DefaultTransport
	}
	client.Transport = rec
	tok, err := s.fetch(context.WithValue(actx, oauth2.HTTPClient, client))
	if err != nil {
		secrets := rec.sent()
		return nil, httpx.Sanitize(s.convert(ctx, actx, err, rec.failure(), secrets), secrets)
	}
	if tok.Expiry.IsZero() { // checked in the answer already; kept as a guard
		return nil, httpx.BadAnswer(s.op, http.MethodPost, s.url, httpx.ErrNoExpiresIn)
	}
	return &oauth2.Token{AccessToken: tok.AccessToken, TokenType: "Bearer", Expiry: tok.Expiry}, nil
}

// convert turns a failed grant into an *httpx.Error: a server's refusal by
// its status and OAuth error (never its raw body), an answer the recorder
// refused as a bad answer, a transport failure as a temporary cause
// (x/oauth2 formats some of them with %v, so the recorder keeps the
// original). secrets are the credentials the request carried.
func (s *Source) convert(ctx, actx context.Context, err, recorded error, secrets []string) *httpx.Error {
	e := &httpx.Error{Op: s.op}
	if u, perr := url.Parse(s.url); perr == nil {
		e.Method, e.URL = http.MethodPost, httpx.RedactURL(u)
	}
	var re *oauth2.RetrieveError
	var ae *answerError
	switch {
	case errors.As(recorded, &ae):
		e.StatusCode, e.Err = http.StatusOK, ae.err
	case errors.As(err, &re) && re.Response != nil:
		e.StatusCode = re.Response.StatusCode
		if eb, ok := wire.DecodeError(re.Body, secrets); ok {
			e.Code, e.Description, e.URI = eb.Code, eb.Description, eb.URI
		} else if e.Description = http.StatusText(e.StatusCode); e.Description == "" {
			e.Description = "unexpected status"
		}
		e.RetryAfter = wire.ParseRetryAfter(re.Response.Header.Get("Retry-After"), time.Now())
	case ctx.Err() != nil:
		e.Err = httpx.Transient(ctx.Err())
	case actx.Err() != nil:
		e.Err = httpx.Retryable(fmt.Errorf("attempt timed out after %v: %w", s.opts.Timeout, context.DeadlineExceeded))
	case recorded != nil:
		e.Err = httpx.Retryable(recorded)
	default:
		// No request was sent, or x/oauth2 could not decode the
		// answer: its message, which quotes no secret, cut short.
		e.Err = errors.New(httpx.Truncate(err.Error(), 200))
	}
	return e
}

// recorder is the transport of one attempt: it keeps the transport's
// failure, and holds a successful answer to the rules every token answer
// of the module follows (wire.CheckMembers, wire.DecodeTokenResponse)
// before x/oauth2 decodes it.
type recorder struct {
	base    http.RoundTripper
	mu      sync.Mutex
	err     error
	secrets []string // the credentials the request carried
}

func (r *recorder) sent() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.secrets
}

// keep records the credentials req carries (its form's assertion, refresh
// token and client secret, its Authorization header), to scrub them from
// the answer's text.
func (r *recorder) keep(req *http.Request) {
	var secrets []string
	if req.GetBody != nil {
		if b, err := req.GetBody(); err == nil {
			data, _ := io.ReadAll(io.LimitReader(b, 1<<20))
			b.Close()
			if form, err := url.ParseQuery(string(data)); err == nil {
				for _, k := range []string{"assertion", "refresh_token", "client_secret"} {
					if v := form.Get(k); v != "" {
						secrets = append(secrets, v)
					}
				}
			}
		}
	}
	secrets = scrub.RequestSecrets(req.Header, secrets)
	r.mu.Lock()
	r.secrets = secrets
	r.mu.Unlock()
}

func (r *recorder) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *recorder) fail(err error) error {
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
	return err
}

// answerError is an answer the recorder refused.
type answerError struct{ err error }

func (e *answerError) Error() string { return e.err.Error() }

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.keep(req)
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // it quotes the full URL
		}
		return nil, r.fail(err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp, nil
	}
	body, err := wire.ReadBody(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, r.fail(fmt.Errorf("reading response: %w", err))
	}
	if !wire.ContentTypeIsJSON(resp.Header.Get("Content-Type")) {
		return nil, r.fail(&answerError{fmt.Errorf("response has content type %s, want JSON", wire.Quote(resp.Header.Get("Content-Type"), 64))})
	}
	tr, err := wire.DecodeTokenResponse(body)
	if err == nil && !tr.HasExpiresIn {
		err = httpx.ErrNoExpiresIn
	}
	if err != nil {
		return nil, r.fail(&answerError{err})
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// String describes s without secrets.
func (s *Source) String() string {
	return fmt.Sprintf("googleoauth.Source{Kind:%q URL:%q}", s.kind, s.url)
}
