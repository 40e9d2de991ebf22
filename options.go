package sts

import (
	"context"
	"net/http"
	"time"

	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/httpx"
)

// HTTPOptions is the HTTP plumbing every configuration that calls Google
// endpoints embeds. The zero value is ready to use: http.DefaultClient,
// 30 s per attempt, up to 3 attempts, and the logging
// GOOGLE_SDK_GO_LOGGING_LEVEL asks for.
type HTTPOptions struct {
	// HTTPClient sends the requests (never following redirects). Nil
	// means http.DefaultClient.
	HTTPClient *http.Client
	// Timeout bounds each HTTP attempt. Zero means 30 s.
	Timeout time.Duration
	// Retry governs retries of temporary failures (zero: 3 attempts).
	Retry RetryPolicy
	// Logger (a *slog.Logger usually) receives request, response, retry
	// and refresh events, secrets redacted. Nil means what LoggingLevelEnv
	// asks for: by default, nothing.
	Logger Logger
}

// validate checks the Timeout and Retry fields; config names the
// configuration type, such as "Config".
func (o HTTPOptions) validate(config string) error {
	// The field names are built only for an error: a source is built per
	// exchange by some programs.
	if o.Timeout < 0 {
		return verr(check.NonNegative(config+".Timeout", o.Timeout))
	}
	if o.Retry.validate("") == nil {
		return nil
	}
	return o.Retry.validate(config + ".Retry")
}

// httpx returns the options of an internal Doer sending apiClient as its
// x-goog-api-client header.
func (o HTTPOptions) httpx(apiClient string) httpx.Options {
	return httpx.Options{Client: o.HTTPClient, Timeout: o.Timeout, Retry: httpx.Retry(o.Retry), Logger: o.Logger, APIClient: apiClient}
}

// RetryPolicy says how calls to Google endpoints are retried after a
// temporary failure (see Error.Temporary); permanent ones never are. Backoff
// is exponential with full jitter, a longer Retry-After is honoured, and no
// retry starts that could not finish before the call's deadline. The zero
// value means 3 attempts, 250 ms initial backoff, 10 s maximum.
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
	return verr(check.Retry(field, p.MaxAttempts, p.InitialBackoff, p.MaxBackoff))
}

// httpDoer is the root package's face of httpx.Doer: its errors come back
// as *Error.
type httpDoer struct{ *httpx.Doer }

func newHTTPDoer(o HTTPOptions, apiClient string) *httpDoer {
	return &httpDoer{httpx.NewDoer(o.httpx(apiClient))}
}

func (d *httpDoer) do(ctx context.Context, r *httpx.Request) ([]byte, error) {
	body, err := d.Do(ctx, r)
	return body, fromHTTP(err)
}

// stsEndpoint returns the default URL of an STS method, such as
// "/v1/token", in a universe ("" means DefaultUniverseDomain).
func stsEndpoint(universe, path string) string {
	if universe == "" {
		universe = DefaultUniverseDomain
	}
	return "https://sts." + universe + path
}
