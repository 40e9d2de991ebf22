package sts

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/internal/wire"
)

// isTransientTransport reports whether a failure to get a response is worth
// retrying: network errors and per-attempt time-outs are; a cancelled caller
// is not.
func isTransientTransport(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ue *url.Error
	return errors.As(err, &ue)
}

// checkEndpoint enforces that credentials only travel over https, except to
// loopback hosts (tests, emulators). field names the configuration field.
func checkEndpoint(field, raw string) error {
	u, err := parseURLField(field, raw)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if IsLoopback(u.Hostname()) {
			return nil
		}
		return invalid(field, "plain http is only allowed for loopback hosts, got host %q", u.Hostname())
	default:
		return invalid(field, "scheme must be https, got %q", u.Scheme)
	}
}

// checkUniverse rejects a universe domain that is set but is not a domain
// name. field names the configuration field.
func checkUniverse(field, domain string) error {
	if domain != "" && !validDomain(domain) {
		return invalid(field, "%q is not a domain name", truncateString(domain, 100))
	}
	return nil
}

// checkAttempts checks the Timeout and Retry fields every configuration of
// an HTTP caller has; config names the configuration type.
func checkAttempts(config string, timeout time.Duration, retry RetryPolicy) error {
	if timeout < 0 {
		return invalid(config+".Timeout", "must not be negative")
	}
	return retry.validate(config + ".Retry")
}

// stsEndpoint returns the default URL of an STS method, such as
// "/v1/token", in a universe ("" means DefaultUniverseDomain).
func stsEndpoint(universe, path string) string {
	if universe == "" {
		universe = DefaultUniverseDomain
	}
	return "https://sts." + universe + path
}

// checkSourceURL accepts absolute http and https URLs: subject tokens and
// AWS metadata are served over plain http by link-local metadata services.
func checkSourceURL(field, raw string) error {
	u, err := parseURLField(field, raw)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return invalid(field, "scheme must be http or https, got %q", truncateString(u.Scheme, 16))
	}
	return nil
}

// parseURLField parses the URL of a configuration field: it must be
// absolute, with a host and without user information (which would be a
// password in the configuration).
func parseURLField(field, raw string) (*url.URL, error) {
	if raw == "" {
		return nil, invalid(field, "must not be empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, invalid(field, "not a valid URL")
	}
	if u.Host == "" {
		return nil, invalid(field, "URL %q has no host", redactURL(u))
	}
	if u.User != nil {
		return nil, invalid(field, "URL must not carry user information")
	}
	return u, nil
}

// IsLoopback reports whether host (a host name or IP literal, without port)
// is a loopback address: "localhost", 127.0.0.0/8 or ::1.
func IsLoopback(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// redactURL renders u without user information or query string, which may
// carry secrets.
func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	c.Fragment = ""
	return c.String()
}

// RetryPolicy says how calls to STS and IAM endpoints are retried after a
// temporary failure (a network error, a time-out, HTTP 408, 429 or 5xx, or
// the OAuth code temporarily_unavailable). Permanent failures are never
// retried. Backoff is exponential with full jitter, and a longer Retry-After
// from the server is honoured; no retry starts that could not finish before
// the call's deadline.
//
// The zero value means 3 attempts, 250 ms initial backoff, 10 s maximum.
type RetryPolicy struct {
	// MaxAttempts is the number of attempts including the first. Zero
	// means 3; 1 disables retries; negative is invalid.
	MaxAttempts int
	// InitialBackoff is the upper bound of the first backoff. Zero means
	// 250 ms.
	InitialBackoff time.Duration
	// MaxBackoff caps every backoff, Retry-After included. Zero means 10 s.
	MaxBackoff time.Duration
}

func (p RetryPolicy) validate(field string) error {
	switch {
	case p.MaxAttempts < 0:
		return invalid(field+".MaxAttempts", "must not be negative")
	case p.MaxAttempts > 20:
		return invalid(field+".MaxAttempts", "must be at most 20, got %d", p.MaxAttempts)
	case p.InitialBackoff < 0:
		return invalid(field+".InitialBackoff", "must not be negative")
	case p.MaxBackoff < 0:
		return invalid(field+".MaxBackoff", "must not be negative")
	}
	return nil
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = 3
	}
	if p.InitialBackoff == 0 {
		p.InitialBackoff = 250 * time.Millisecond
	}
	if p.MaxBackoff == 0 {
		p.MaxBackoff = 10 * time.Second
	}
	if p.InitialBackoff > p.MaxBackoff {
		p.InitialBackoff = p.MaxBackoff
	}
	return p
}

// backoff returns the delay before retry number n (1-based).
func (p RetryPolicy) backoff(n int, retryAfter time.Duration) time.Duration {
	ceil := p.InitialBackoff << min(n-1, 30)
	if ceil <= 0 || ceil > p.MaxBackoff {
		ceil = p.MaxBackoff
	}
	d := time.Duration(rand.Int64N(int64(ceil) + 1))
	if retryAfter > d {
		d = min(retryAfter, p.MaxBackoff)
	}
	return d
}

// defaultAttemptTimeout bounds one HTTP attempt when no timeout is configured.
const defaultAttemptTimeout = 30 * time.Second

// httpDoer sends requests to one kind of endpoint with the package's rules:
// no redirects followed, bodies read through a limit, per-attempt deadlines,
// retries, typed errors and redacted logs.
type httpDoer struct {
	client  *http.Client
	timeout time.Duration
	retry   RetryPolicy
	logger  *slog.Logger
	apiInfo string // x-goog-api-client value
}

func newHTTPDoer(base *http.Client, timeout time.Duration, retry RetryPolicy, logger *slog.Logger, apiInfo string) *httpDoer {
	if timeout <= 0 {
		timeout = defaultAttemptTimeout
	}
	return &httpDoer{client: noRedirects(base), timeout: timeout, retry: retry.withDefaults(), logger: resolveLogger(logger), apiInfo: apiInfo}
}

// noRedirects returns a copy of base (nil means http.DefaultClient) that
// never follows a redirect: a redirect would carry credentials (an
// Authorization header, a request body with a token) wherever the server
// points.
func noRedirects(base *http.Client) *http.Client {
	if base == nil {
		base = http.DefaultClient
	}
	c := *base
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// request describes one call; body is re-sent on each attempt.
type request struct {
	op          string
	method      string
	url         string
	contentType string
	body        []byte
	header      http.Header // extra headers (Authorization among them)
	// secrets are the request's secret values (the subject token, the
	// refresh token, …): a server that quotes one in its error answer has
	// it replaced before the text reaches an *Error.
	secrets []string
}

// minScrubbed is the shortest secret scrubbed from error answers: shorter
// ones would match JSON syntax and field names, and cannot be real tokens.
const minScrubbed = 8

// scrubSecrets replaces every occurrence of one of secrets in body.
func scrubSecrets(body []byte, secrets []string) []byte {
	for _, s := range secrets {
		if len(s) >= minScrubbed && bytes.Contains(body, []byte(s)) {
			body = bytes.ReplaceAll(body, []byte(s), []byte("REDACTED"))
		}
	}
	return body
}

// do performs r, with retries, and returns the body of a 2xx answer. Any
// failure is an *Error.
func (d *httpDoer) do(ctx context.Context, r *request) ([]byte, error) {
	var lastErr *Error
	for attempt := 1; ; attempt++ {
		body, err := d.attempt(ctx, r, attempt)
		if err == nil {
			return body, nil
		}
		lastErr = err
		if !err.Temporary() || attempt >= d.retry.MaxAttempts || ctx.Err() != nil {
			return nil, err
		}
		wait := d.retry.backoff(attempt, err.RetryAfter)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return nil, lastErr
		}
		d.log(ctx, slog.LevelInfo, "sts: retrying", "op", r.op, "attempt", attempt+1, "backoff", wait, "cause", err.Error())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, lastErr
		case <-t.C:
		}
	}
}

func (d *httpDoer) attempt(ctx context.Context, r *request, n int) ([]byte, *Error) {
	actx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, r.method, r.url, bytes.NewReader(r.body))
	if err != nil {
		return nil, &Error{Op: r.op, Err: errors.New("cannot build request")}
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	req.Header.Set("Accept", "application/json")
	if d.apiInfo != "" {
		req.Header.Set("X-Goog-Api-Client", d.apiInfo)
	}
	if d.logger != nil {
		d.log(ctx, slog.LevelDebug, "sts: request", "op", r.op, "method", r.method, "url", redactURL(req.URL), "attempt", n)
	}
	start := time.Now()
	resp, err := d.client.Do(req)
	if err != nil {
		endpoint := redactURL(req.URL)
		if ctx.Err() != nil {
			// The call's own deadline is a time-out (temporary); a
			// cancellation is not.
			return nil, newTransportError(r.op, fmt.Errorf("%s %s: %w", r.method, endpoint, ctx.Err()))
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			// url.Error quotes the full URL; keep the redacted one.
			err = fmt.Errorf("%s %s: %w", r.method, endpoint, ue.Err)
		}
		if actx.Err() != nil {
			err = fmt.Errorf("%s %s: attempt timed out after %v: %w", r.method, endpoint, d.timeout, context.DeadlineExceeded)
		}
		d.log(ctx, slog.LevelDebug, "sts: transport error", "op", r.op, "error", err.Error())
		return nil, newTransportError(r.op, err)
	}
	defer resp.Body.Close()
	body, err := wire.ReadBody(resp.Body)
	if d.logger != nil { // the arguments would allocate even unlogged
		d.log(ctx, slog.LevelDebug, "sts: response", "op", r.op, "status", resp.StatusCode, "elapsed", time.Since(start))
	}
	if err != nil {
		if errors.Is(err, wire.ErrBodyTooLarge) {
			return nil, &Error{Op: r.op, StatusCode: resp.StatusCode, Err: err}
		}
		if ctx.Err() != nil {
			e := newTransportError(r.op, fmt.Errorf("reading response: %w", ctx.Err()))
			e.StatusCode = resp.StatusCode
			return nil, e
		}
		if actx.Err() != nil {
			err = fmt.Errorf("reading response timed out after %v: %w", d.timeout, context.DeadlineExceeded)
		} else {
			err = fmt.Errorf("reading response: %w", err)
		}
		// The connection broke mid-body (a truncated or stalled answer):
		// worth another attempt whatever the status was.
		return nil, &Error{Op: r.op, StatusCode: resp.StatusCode, Err: err, temporary: true}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if !wire.ContentTypeIsJSON(resp.Header.Get("Content-Type")) {
			return nil, &Error{Op: r.op, StatusCode: resp.StatusCode,
				Err: fmt.Errorf("response has content type %q, want JSON", truncateString(resp.Header.Get("Content-Type"), 64))}
		}
		return body, nil
	}
	retryAfter := wire.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		loc := resp.Header.Get("Location")
		host := ""
		if u, err := url.Parse(loc); err == nil {
			host = u.Host
		}
		return nil, newHTTPError(r.op, resp.StatusCode, "", fmt.Sprintf("redirect to host %q not followed", truncateString(host, 128)), "", 0)
	}
	eb, ok := wire.DecodeError(scrubSecrets(body, r.secrets))
	if !ok {
		eb.Description = http.StatusText(resp.StatusCode)
		if eb.Description == "" {
			eb.Description = "unexpected status"
		}
	}
	e := newHTTPError(r.op, resp.StatusCode, eb.Code, eb.Description, eb.URI, retryAfter)
	d.log(ctx, slog.LevelDebug, "sts: error response", "op", r.op, "status", resp.StatusCode, "code", eb.Code)
	return nil, e
}

// errNoExpiresIn is the cause when a token answer gives no lifetime where
// the protocol requires one.
var errNoExpiresIn = errors.New("response has no expires_in: a token without a lifetime is refused")

// postToken sends a form-encoded body to a token endpoint (STS's /v1/token
// or /v1/oauthtoken) and decodes the token answer; a malformed one is an
// *Error with Op op. secrets are scrubbed from error answers. The token's Expiry counts expires_in from when the
// call started, and is zero when the answer has none.
func (d *httpDoer) postToken(ctx context.Context, op, url string, form []byte, hdr http.Header, secrets ...string) (*oauth2.Token, *wire.TokenResponse, error) {
	start := time.Now()
	body, err := d.do(ctx, &request{
		op:          op,
		method:      http.MethodPost,
		url:         url,
		contentType: "application/x-www-form-urlencoded",
		body:        form,
		header:      hdr,
		secrets:     secrets,
	})
	if err != nil {
		return nil, nil, err
	}
	resp, derr := wire.DecodeTokenResponse(body)
	if derr != nil {
		return nil, nil, &Error{Op: op, StatusCode: http.StatusOK, Err: derr}
	}
	tok := &oauth2.Token{AccessToken: resp.AccessToken, TokenType: "Bearer"}
	if resp.HasExpiresIn {
		tok.Expiry = start.Add(resp.ExpiresIn)
	}
	return tok, resp, nil
}

func (d *httpDoer) log(ctx context.Context, level slog.Level, msg string, args ...any) {
	if d.logger != nil {
		d.logger.Log(ctx, level, msg, args...)
	}
}

func truncateString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// basicAuth returns the Authorization header value for client credentials,
// with both parts form-encoded as RFC 6749 section 2.3.1 requires.
func basicAuth(id, secret string) string {
	raw := url.QueryEscape(id) + ":" + url.QueryEscape(secret)
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(raw))
}
