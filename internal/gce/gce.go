// Package gce finds and reads the metadata server of Google Compute Engine
// (and of GKE, Cloud Run, App Engine and every platform serving its
// protocol, such as `sts serve`) through cloud.google.com/go/compute/metadata:
// a bounded probe, the default service account's access tokens, and the
// universe domain. The server is where GCE_METADATA_HOST (read from the
// process environment, as compute/metadata reads it) says, else
// 169.254.169.254.
package gce

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"cloud.google.com/go/compute/metadata"
	"golang.org/x/oauth2"

	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/wire"
)

// HostEnv names the metadata server's host (and port) when set.
const HostEnv = "GCE_METADATA_HOST"

// DefaultProbe bounds Probe when the caller gives no bound.
const DefaultProbe = 2 * time.Second

// Client talks to the metadata server. Its HTTP client is its own: no
// proxy, no redirects, a short dial time-out.
type Client struct {
	md *metadata.Client
	hc *http.Client
}

// NewClient returns a Client; hc nil means the package's own client.
func NewClient(hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			DialContext:     (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			IdleConnTimeout: 60 * time.Second,
		}}
	}
	hc = httpx.NoRedirects(hc)
	return &Client{md: metadata.NewWithOptions(&metadata.Options{Client: hc}), hc: hc}
}

// Probe reports, within timeout (0 means DefaultProbe), whether a metadata
// server answers. With GCE_METADATA_HOST set, that server must answer a
// request with the Metadata-Flavor: Google header (compute/metadata would
// trust the variable alone, and a stale one would be taken for a
// platform); otherwise compute/metadata's own probe decides (the link-local
// address and metadata.google.internal, raced).
func (c *Client) Probe(ctx context.Context, timeout time.Duration) bool {
	if timeout <= 0 {
		timeout = DefaultProbe
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	host := os.Getenv(HostEnv)
	if host == "" {
		return c.md.OnGCEWithContext(ctx)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/computeMetadata/v1/", nil)
	if err != nil {
		return false
	}
	req.Header.Set("Metadata-Flavor", "Google")
	resp, err := c.hc.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.Header.Get("Metadata-Flavor") == "Google"
}

// Endpoint returns the URL of a metadata path, for errors and logs.
func Endpoint(path string) string {
	host := os.Getenv(HostEnv)
	if host == "" {
		host = "169.254.169.254"
	}
	return "http://" + host + "/computeMetadata/v1/" + path
}

// Universe returns the server's universe domain, or "googleapis.com" when
// it defines none.
func (c *Client) Universe(ctx context.Context) (string, error) {
	v, err := c.md.GetWithContext(ctx, "universe/universe-domain")
	var nd metadata.NotDefinedError
	if errors.As(err, &nd) {
		return "googleapis.com", nil
	}
	if err != nil {
		return "", c.convert("detect", "universe/universe-domain", err)
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "googleapis.com", nil
	}
	return v, nil
}

// Email returns the default service account's e-mail address.
func (c *Client) Email(ctx context.Context) (string, error) {
	v, err := c.md.GetWithContext(ctx, "instance/service-accounts/default/email")
	if err != nil {
		return "", c.convert("detect", "instance/service-accounts/default/email", err)
	}
	return strings.TrimSpace(v), nil
}

// Tokens returns an uncached source of the default service account's
// access tokens for scopes (none means the instance's own).
func (c *Client) Tokens(scopes []string) *Tokens {
	path := "instance/service-accounts/default/token"
	if len(scopes) > 0 {
		path += "?scopes=" + url.QueryEscape(strings.Join(scopes, ","))
	}
	return &Tokens{c: c, path: path}
}

// Tokens fetches one access token per call. It is safe for concurrent use.
type Tokens struct {
	c    *Client
	path string
}

// Token is TokenContext with context.Background().
func (t *Tokens) Token() (*oauth2.Token, error) { return t.TokenContext(context.Background()) }

// TokenContext asks the metadata server for a token; a failure is an
// *httpx.Error with Op "token".
func (t *Tokens) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	start := time.Now()
	body, err := t.c.md.GetWithContext(ctx, t.path)
	if err != nil {
		return nil, t.c.convert("token", t.path, err)
	}
	r, derr := wire.DecodeTokenResponse([]byte(body))
	if derr == nil && !r.HasExpiresIn {
		derr = httpx.ErrNoExpiresIn
	}
	if derr != nil {
		return nil, httpx.BadAnswer("token", http.MethodGet, Endpoint(t.pathOnly()), derr)
	}
	return &oauth2.Token{AccessToken: r.AccessToken, TokenType: "Bearer", Expiry: start.Add(r.ExpiresIn)}, nil
}

func (t *Tokens) pathOnly() string { p, _, _ := strings.Cut(t.path, "?"); return p }

// String describes t.
func (t *Tokens) String() string { return fmt.Sprintf("gce.Tokens{URL:%q}", Endpoint(t.pathOnly())) }

// convert turns compute/metadata's errors into *httpx.Error: a status by
// its text (the body is not quoted), anything else as a temporary failure
// to reach the server.
func (c *Client) convert(op, path string, err error) *httpx.Error {
	p, _, _ := strings.Cut(path, "?")
	e := &httpx.Error{Op: op, Method: http.MethodGet, URL: Endpoint(p)}
	var me *metadata.Error
	var nd metadata.NotDefinedError
	switch {
	case errors.As(err, &nd):
		e.StatusCode, e.Description = http.StatusNotFound, "not defined"
	case errors.As(err, &me):
		e.StatusCode = me.Code
		if e.Description = http.StatusText(me.Code); e.Description == "" {
			e.Description = "unexpected status"
		}
	default:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.Canceled) {
			e.Err = err
		} else {
			e.Err = httpx.Retryable(err)
		}
	}
	return e
}
