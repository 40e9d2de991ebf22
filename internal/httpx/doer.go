package httpx

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/internal/deadline"
	"github.com/stsgo/sts/internal/errs"
	"github.com/stsgo/sts/internal/errtree"
	"github.com/stsgo/sts/internal/logenv"
	"github.com/stsgo/sts/internal/scrub"
	"github.com/stsgo/sts/internal/wire"
)

// Version is the module's version as sent in the x-goog-api-client header.
const Version = "0.1.0"

// DefaultAttemptTimeout bounds one HTTP attempt when no timeout is set.
const DefaultAttemptTimeout = 30 * time.Second

// Retry is the retry policy (sts.RetryPolicy has the same fields).
type Retry struct {
	MaxAttempts    int
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
}

// WithDefaults fills the zero fields: 3 attempts, 250 ms, 10 s.
func (p Retry) WithDefaults() Retry {
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

// Backoff returns the delay before retry number n (1-based): full jitter
// under an exponential ceiling, or a longer retryAfter, capped by
// MaxBackoff.
func (p Retry) Backoff(n int, retryAfter time.Duration) time.Duration {
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

// Options configures a Doer. The zero value uses http.DefaultClient, 30 s
// attempts, the default retry policy and the environment's logger.
type Options struct {
	Client  *http.Client
	Timeout time.Duration
	Retry   Retry
	Logger  logenv.Logger
	// APIClient is the x-goog-api-client value; empty sends none.
	APIClient string
}

// Doer sends requests to one kind of endpoint with the module's rules: no
// redirects followed, bodies read through a limit, per-attempt deadlines,
// retries, typed errors and redacted logs. Create it with NewDoer, or Init a
// zero Doer in place (in the struct of its owner). It is safe for
// concurrent use.
type Doer struct {
	// client is the caller's *http.Client, never nil (see send), held as
	// an unsafe.Pointer so that the type graph of a Doer does not reach
	// http.Client: a value converted to an interface keeps the methods of
	// every type its fields reach, and through Client.Jar that would keep
	// http.Cookie's String and its helpers (11 KB) in every program.
	client unsafe.Pointer
	*doerConfig
}

// doerConfig is the rest of a Doer's configuration, shared by the Doers
// configured alike (see Init): a source idle among thousands holds a
// pointer to it.
type doerConfig struct {
	timeout time.Duration
	retry   Retry
	logger  logenv.Logger
	apiInfo []string // the x-goog-api-client header's value, nil for none
}

// NewDoer returns a Doer for o; the logger is resolved with logenv.
func NewDoer(o Options) *Doer {
	d := new(Doer)
	d.Init(o)
	return d
}

// Init configures a zero Doer as NewDoer does.
func (d *Doer) Init(o Options) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultAttemptTimeout
	}
	if o.Client == nil {
		o.Client = http.DefaultClient
	}
	d.client = unsafe.Pointer(o.Client)
	key := doerKey{o.Timeout, o.Retry.WithDefaults(), o.APIClient}
	logger := logenv.Resolve(o.Logger)
	if logger != nil { // a logger may not be comparable: its Doers share nothing
		d.doerConfig = &doerConfig{timeout: key.timeout, retry: key.retry, logger: logger, apiInfo: headerValue(o.APIClient)}
		return
	}
	// (No deferred unlocks here and below: nothing in the critical
	// sections can panic, and each defer costs a function of its own.)
	doerConfigsMu.Lock()
	c, ok := doerConfigs[key]
	if !ok {
		c = &doerConfig{timeout: key.timeout, retry: key.retry, apiInfo: headerValue(o.APIClient)}
		if doerConfigs == nil {
			doerConfigs = make(map[doerKey]*doerConfig)
		}
		if len(doerConfigs) < maxDoerConfigs {
			doerConfigs[key] = c
		}
	}
	doerConfigsMu.Unlock()
	d.doerConfig = c
}

// doerKey identifies the configurations Doers without a logger share.
type doerKey struct {
	timeout time.Duration
	retry   Retry
	api     string
}

// doerConfigs holds the shared configurations, at most maxDoerConfigs of
// them: a program that varies its options endlessly gets a configuration
// per Doer, as it would without sharing.
var (
	doerConfigsMu sync.Mutex
	doerConfigs   map[doerKey]*doerConfig // made at the first use
)

const maxDoerConfigs = 64

// Header values the Doer sets, shared by every request: a request's Header
// map is its own, but the slices of values are these (a RoundTripper that
// adds a value appends, which copies a slice of length and capacity 1).
//
// Accept-Encoding is identity, and no Accept is sent (Google's endpoints
// answer JSON without one): an http.Transport adds "Accept-Encoding: gzip"
// to a request that names no encoding, at the cost of a header map and a
// value per request (and a decompressor per compressed answer), for
// answers of a few hundred bytes.
var (
	identity = []string{"identity"}
	jsonType = []string{"application/json"}
	formType = []string{"application/x-www-form-urlencoded"}
)

// headerValue returns the shared one-value slice for s, nil for "". Values
// are memoized: there are a handful of x-goog-api-client values.
func headerValue(s string) []string {
	if s == "" {
		return nil
	}
	headerValuesMu.Lock()
	v, ok := headerValues[s]
	if !ok {
		v = []string{s}
		if headerValues == nil {
			headerValues = make(map[string][]string)
		}
		if len(headerValues) < maxDoerConfigs {
			headerValues[s] = v
		}
	}
	headerValuesMu.Unlock()
	return v
}

var (
	headerValuesMu sync.Mutex
	headerValues   map[string][]string // made at the first use
)

// Logger returns the resolved logger, nil for none.
func (d *Doer) Logger() logenv.Logger { return d.logger }

// Request describes one call; Body is re-sent on each attempt.
type Request struct {
	Op          string
	Method      string
	URL         string
	ContentType string
	Body        []byte
	Header      http.Header // extra headers (Authorization among them)
	// Secrets are the request's secret values (the subject token, the
	// refresh token, …): a server that quotes one in its error answer has
	// it replaced before the text reaches an *Error.
	Secrets []string
	// EmptyOK accepts a 2xx answer with an empty body whatever its
	// content type (token revocation answers so).
	EmptyOK bool
}

// Do performs r, with retries, and returns the body of a 2xx JSON answer.
// Any failure is an *Error.
func (d *Doer) Do(ctx context.Context, r *Request) ([]byte, *Error) {
	// The secrets of the request include those of its headers.
	req := *r
	req.Secrets = scrub.RequestSecrets(r.Header, r.Secrets)
	r = &req
	var lastErr *Error
	for attempt := 1; ; attempt++ {
		body, err := d.attempt(ctx, r, attempt)
		if err == nil {
			return body, nil
		}
		err = Sanitize(err, r.Secrets)
		if u, perr := url.Parse(r.URL); perr == nil {
			err.Method, err.URL = r.Method, RedactURL(u)
		}
		lastErr = err
		if !err.Temporary() || attempt >= d.retry.MaxAttempts || ctx.Err() != nil {
			return nil, err
		}
		wait := d.retry.Backoff(attempt, err.RetryAfter)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return nil, lastErr
		}
		d.Log(ctx, slog.LevelInfo, "sts: retrying", "op", r.Op, "attempt", attempt+1, "backoff", wait, "cause", err.Error())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, lastErr
		case <-t.C:
		}
	}
}

// attemptState is what an attempt allocates, in one piece: its deadline
// (under a refresh's context) and the reader of its body.
type attemptState struct {
	ctx  deadline.Context
	body bytes.Reader
}

func (d *Doer) attempt(ctx context.Context, r *Request, n int) ([]byte, *Error) {
	st := new(attemptState)
	actx, cancel := d.attemptContext(ctx, &st.ctx)
	if cancel != nil {
		defer cancel()
	} else {
		defer st.ctx.Cancel()
	}
	// A *bytes.Reader: the transport knows it is in memory and sends the
	// headers and the body in one write (for another reader it flushes the
	// headers first), and NewRequestWithContext gives the request its
	// length and a GetBody, with which the transport resends it on a fresh
	// connection when an idle one turned out to be closed before anything
	// was written.
	st.body.Reset(r.Body)
	req, err := http.NewRequestWithContext(actx, r.Method, r.URL, &st.body)
	if err != nil {
		return nil, failure(r.Op, 0, errs.New("cannot build request"))
	}
	// The keys are canonical already and the values shared: no
	// canonicalizing and no slice per value, as Header.Set would.
	for k, v := range r.Header {
		req.Header[k] = v
	}
	switch r.ContentType {
	case "":
	case formType[0]:
		req.Header["Content-Type"] = formType
	case jsonType[0]:
		req.Header["Content-Type"] = jsonType
	default:
		req.Header.Set("Content-Type", r.ContentType)
	}
	req.Header["Accept-Encoding"] = identity
	if d.apiInfo != nil {
		req.Header["X-Goog-Api-Client"] = d.apiInfo
	}
	if d.logger != nil {
		d.Log(ctx, slog.LevelDebug, "sts: request", "op", r.Op, "method", r.Method, "url", RedactURL(req.URL), "attempt", n)
	}
	var start time.Time
	if d.logger != nil {
		start = time.Now()
	}
	resp, err := d.send(req)
	if err != nil {
		// The method and the redacted URL are the *Error's fields.
		if ctx.Err() != nil {
			// The call's own deadline is a time-out (temporary); a
			// cancellation is not.
			return nil, failure(r.Op, 0, Transient(ctx.Err()))
		}
		// Every failure to reach the server is worth another attempt.
		// url.Error quotes the full URL, query included.
		err = URLErrorCause(err)
		if actx.Err() != nil {
			err = errs.Errorf("attempt timed out after %v: %w", d.timeout, context.DeadlineExceeded)
		}
		if d.logger != nil {
			d.Log(ctx, slog.LevelDebug, "sts: transport error", "op", r.Op, "error", scrub.Clean(scrub.Secrets(err.Error(), r.Secrets), maxCause))
		}
		return nil, failure(r.Op, 0, Retryable(err))
	}
	defer resp.Body.Close()
	status := resp.StatusCode
	body, err := wire.ReadBodyOf(resp)
	if d.logger != nil { // the arguments would allocate even unlogged
		d.Log(ctx, slog.LevelDebug, "sts: response", "op", r.Op, "status", status, "elapsed", time.Since(start))
	}
	if err != nil {
		switch {
		case errors.Is(err, wire.ErrBodyTooLarge):
		case ctx.Err() != nil:
			err = Transient(errs.Errorf("reading response: %w", ctx.Err()))
		default:
			if actx.Err() != nil {
				err = errs.Errorf("reading response timed out after %v: %w", d.timeout, context.DeadlineExceeded)
			} else {
				err = errs.Errorf("reading response: %w", err)
			}
			// The connection broke mid-body (a truncated or stalled
			// answer): worth another attempt whatever the status was.
			err = Retryable(err)
		}
		return nil, failure(r.Op, status, err)
	}
	if status >= 200 && status < 300 {
		if r.EmptyOK && len(bytes.TrimSpace(body)) == 0 {
			return body, nil
		}
		if ct := resp.Header.Get("Content-Type"); !wire.ContentTypeIsJSON(ct) {
			return nil, failure(r.Op, status, errs.Errorf("response has content type %s, want JSON", wire.Quote(ct, 64)))
		}
		return body, nil
	}
	var eb wire.ErrorBody
	retryAfter := time.Duration(0)
	if status >= 300 && status < 400 {
		eb.Description = "redirect not followed (its Location header is not a URL)"
		if u, err := url.Parse(resp.Header.Get("Location")); err == nil {
			eb.Description = "redirect to host " + wire.Quote(u.Host, 128) + " not followed"
		}
	} else {
		retryAfter = wire.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		var ok bool
		if eb, ok = wire.DecodeError(body, r.Secrets); !ok {
			eb.Description = http.StatusText(status)
			if eb.Description == "" {
				eb.Description = "unexpected status"
			}
		}
		if d.logger != nil {
			d.Log(ctx, slog.LevelDebug, "sts: error response", "op", r.Op, "status", status, "code", eb.Code)
		}
	}
	return nil, HTTPError(r.Op, status, eb.Code, eb.Description, eb.URI, retryAfter)
}

// failure returns the *Error of a failed attempt (kept out of line: it
// has many callers).
//
//go:noinline
func failure(op string, status int, err error) *Error {
	return &Error{Op: op, StatusCode: status, Err: err}
}

// attemptContext returns the context of one attempt: ctx's, ending after
// the attempt time-out at the latest, and its cancel function. Under a
// refresh's context (a *deadline.Context, which carries no values) it is
// slot, initialized, to be ended with its Cancel method (cancel is then
// nil): it costs less than a context.WithTimeout and its parent's
// bookkeeping.
func (d *Doer) attemptContext(ctx context.Context, slot *deadline.Context) (actx context.Context, cancel context.CancelFunc) {
	if p, ok := ctx.(*deadline.Context); ok {
		slot.Init(p, time.Now().Add(d.timeout))
		return slot, nil
	}
	return context.WithTimeout(ctx, d.timeout)
}

// send sends req with the Doer's client, following no redirect. A client
// with a cookie jar or an overall time-out is used as it is (with redirects
// turned off); any other goes straight to its transport, which is all that
// http.Client.Do would do for it, without its per-request copies of the
// headers and the URL kept for redirects.
func (d *Doer) send(req *http.Request) (*http.Response, error) {
	c := (*http.Client)(d.client)
	if c.Jar != nil || c.Timeout != 0 || req.URL.User != nil {
		nc := *c
		nc.CheckRedirect = noRedirect
		return nc.Do(req)
	}
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		// errors.As for a tls.RecordHeaderError, walked (see errtree).
		var tlsErr tls.RecordHeaderError
		if errtree.Walk(err, func(e error) bool {
			switch e := e.(type) {
			case tls.RecordHeaderError:
				tlsErr = e
				return true
			case interface{ As(any) bool }:
				return e.As(&tlsErr)
			}
			return false
		}) && string(tlsErr.RecordHeader[:]) == "HTTP/" {
			err = http.ErrSchemeMismatch
		}
		return nil, err
	}
	if resp == nil {
		return nil, errs.Errorf("the client's RoundTripper (%T) returned neither a response nor an error", rt)
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	return resp, nil
}

// PostToken sends a form-encoded body to a token endpoint (STS's /v1/token
// or /v1/oauthtoken, Google's OAuth token endpoint) and decodes the token
// answer; a malformed one is an *Error with Op op. secrets are scrubbed
// from error answers. The token's Expiry counts expires_in from when the
// call started, and is zero when the answer has none.
func (d *Doer) PostToken(ctx context.Context, op, url string, form []byte, hdr http.Header, secrets ...string) (*oauth2.Token, *wire.TokenResponse, *Error) {
	start := time.Now()
	body, err := d.Do(ctx, &Request{
		Op:          op,
		Method:      http.MethodPost,
		URL:         url,
		ContentType: "application/x-www-form-urlencoded",
		Body:        form,
		Header:      hdr,
		Secrets:     secrets,
	})
	if err != nil {
		return nil, nil, err
	}
	resp, derr := wire.DecodeTokenResponse(body)
	if derr != nil {
		return nil, nil, Sanitize(BadAnswer(op, http.MethodPost, url, derr), scrub.RequestSecrets(hdr, secrets))
	}
	tok := &oauth2.Token{AccessToken: resp.AccessToken, TokenType: "Bearer"}
	if resp.HasExpiresIn {
		tok.Expiry = start.Add(resp.ExpiresIn)
	}
	return tok, resp, nil
}

// maxCause bounds the text of an error's cause that Sanitize had to change.
const maxCause = 1024

// Sanitize makes the server-provided text of e safe to show (see package
// scrub): every spelling of secrets removed, then escape sequences and
// control and format characters. Code, Description and URI are replaced
// in place. A cause whose text changes is replaced by one with the clean
// text, still temporary if e was, and still matching the sentinel errors
// (errors.Is) of the original, but no longer unwrapping to it (which
// would give the text back). It returns e.
func Sanitize(e *Error, secrets []string) *Error {
	if e == nil {
		return nil
	}
	safe := func(s string, max int) string { return scrub.Clean(scrub.Secrets(s, secrets), max) }
	e.Code, e.Description, e.URI = safe(e.Code, 64), safe(e.Description, 512), safe(e.URI, 256)
	// e.Err: see SafeCause.
	if e.Err != nil {
		temporary := e.Temporary()
		if c := SafeCause(e.Err, secrets); c != e.Err {
			e.Err = c
			if temporary {
				e.Err = Retryable(e.Err)
			}
		}
	}
	return e
}

// SafeCause returns err if its text is safe to show, and otherwise an
// error with the text cleaned of secrets and control characters (see
// Sanitize), matching what err matched with errors.Is but not unwrapping to
// it.
func SafeCause(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	safe := scrub.Clean(scrub.Secrets(msg, secrets), maxCause)
	if safe == msg {
		return err
	}
	return &cleanCause{msg: safe, orig: err}
}

// cleanCause stands for a cause whose text held a secret or control
// characters: it has the clean text, and matches what the original matched
// with errors.Is, without unwrapping to it.
type cleanCause struct {
	// Not comparable, so that no equality function is linked for it.
	_    [0]func()
	msg  string
	orig error
}

func (c *cleanCause) Error() string        { return c.msg }
func (c *cleanCause) Is(target error) bool { return errors.Is(c.orig, target) }

// BadAnswer builds the error of a successful (200) answer to method
// rawURL that cannot be used: undecodable, incomplete or implausible.
func BadAnswer(op, method, rawURL string, cause error) *Error {
	e := &Error{Op: op, StatusCode: http.StatusOK, Err: cause}
	if u, err := url.Parse(rawURL); err == nil {
		e.Method, e.URL = method, RedactURL(u)
	}
	return e
}

// Log logs through the Doer's logger, if any.
func (d *Doer) Log(ctx context.Context, level slog.Level, msg string, args ...any) {
	if d.logger != nil {
		d.logger.Log(ctx, level, msg, args...)
	}
}

// BaseAPIClient is the start of every x-goog-api-client value the module
// sends: the Go version and this module's.
func BaseAPIClient() string {
	return fmt.Sprintf("gl-go/%s sts/%s", strings.TrimPrefix(runtime.Version(), "go"), Version)
}

// ExternalAccountAPIClient builds the x-goog-api-client value Google's
// libraries send for external accounts, naming this module.
func ExternalAccountAPIClient(source string, impersonating, lifetime bool) string {
	key := apiClientKey{source, impersonating, lifetime}
	if h, ok := apiClientHeaders.Load(key); ok {
		return h.(string)
	}
	h := fmt.Sprintf("%s google-byoid-sdk source/%s sa-impersonation/%t config-lifetime/%t",
		BaseAPIClient(), source, impersonating, lifetime)
	apiClientHeaders.Store(key, h)
	return h
}

// apiClientHeaders memoizes ExternalAccountAPIClient, so that sources
// share one string (there are a handful of source kinds).
var apiClientHeaders sync.Map // apiClientKey → string

type apiClientKey struct {
	source                  string
	impersonating, lifetime bool
}

// APIClient returns the x-goog-api-client value the Doer sends.
func (d *Doer) APIClient() string {
	if d.apiInfo == nil {
		return ""
	}
	return d.apiInfo[0]
}
