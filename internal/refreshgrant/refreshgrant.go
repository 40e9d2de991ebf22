// Package refreshgrant is the engine of a workforce identity federation
// user's credentials (a credential file of type
// external_account_authorized_user): a refresh_token grant at STS's
// /v1/oauthtoken endpoint, authenticated with the OAuth client's ID and
// secret (HTTP Basic), following the server's rotations of the refresh
// token.
//
// It is built from values already checked by its caller (the credential
// loader checks a file by JSON paths); it validates nothing. Its failures
// are *httpx.Error with Op "refresh".
package refreshgrant

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/internal/httpx"
)

// APIClient is the x-goog-api-client value of the grants.
func APIClient() string { return httpx.BaseAPIClient() + " cred-type/external-account-authorized-user" }

// Config is a checked refresher. RefreshToken, ClientID, ClientSecret and
// TokenURL are required.
type Config struct {
	RefreshToken           string
	ClientID, ClientSecret string
	TokenURL               string
	// OnRotate, if set, is called with the new refresh token whenever the
	// server returns one that differs from the current one, after it is in
	// use; one call at a time. A panic in it is logged and ignored.
	OnRotate func(newToken string)
	// HTTP configures the Doer (HTTP.APIClient: see APIClient).
	HTTP httpx.Options
}

// Refresher performs one refresh_token grant per call, without caching, and
// keeps the refresh token the server last returned. It is safe for
// concurrent use; grants run one at a time, so that a rotation is never
// raced by a grant using the token it replaces.
type Refresher struct {
	tokenURL   string
	authHeader string
	onRotate   func(string)
	doer       *httpx.Doer

	grant   chan struct{}          // holds one token while a grant runs
	current atomic.Pointer[string] // the refresh token in use
}

// New returns the engine of c.
func New(c Config) *Refresher {
	r := &Refresher{
		grant:      make(chan struct{}, 1),
		tokenURL:   c.TokenURL,
		authHeader: httpx.BasicAuth(c.ClientID, c.ClientSecret),
		onRotate:   c.OnRotate,
		doer:       httpx.NewDoer(c.HTTP),
	}
	rt := c.RefreshToken
	r.current.Store(&rt)
	return r
}

// RefreshToken returns the refresh token currently in use: the configured
// one, or the last one the server rotated to.
func (r *Refresher) RefreshToken() string { return *r.current.Load() }

// String describes r without its secrets.
func (r *Refresher) String() string {
	return fmt.Sprintf("refreshgrant{TokenURL:%q}", r.tokenURL)
}

// GoString is String, so %#v redacts too.
func (r *Refresher) GoString() string { return r.String() }

// Token refreshes with context.Background().
func (r *Refresher) Token() (*oauth2.Token, error) { return r.TokenContext(context.Background()) }

// TokenContext performs a refresh_token grant; a caller waiting behind a
// running grant stops when ctx ends. invalid_grant means the refresh token
// was revoked or expired and the user must sign in again.
func (r *Refresher) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	tok, err := r.refresh(ctx)
	if err != nil {
		return nil, err // not a typed nil
	}
	return tok, nil
}

func (r *Refresher) refresh(ctx context.Context) (*oauth2.Token, *httpx.Error) {
	select {
	case r.grant <- struct{}{}:
	case <-ctx.Done():
		return nil, &httpx.Error{Op: "refresh", Err: ctx.Err()}
	}
	defer func() { <-r.grant }()
	current := *r.current.Load()
	form := "grant_type=refresh_token&refresh_token=" + url.QueryEscape(current)
	hdr := http.Header{"Authorization": {r.authHeader}}
	tok, resp, err := r.doer.PostToken(ctx, "refresh", r.tokenURL, []byte(form), hdr, current)
	if err != nil {
		return nil, err
	}
	if !resp.HasExpiresIn {
		return nil, &httpx.Error{Op: "refresh", StatusCode: http.StatusOK, Err: httpx.ErrNoExpiresIn}
	}
	if rt := resp.RefreshToken; rt != "" && rt != current {
		r.current.Store(&rt)
		r.doer.Log(ctx, slog.LevelInfo, "sts: refresh token rotated")
		if r.onRotate != nil {
			r.callHook(ctx, rt)
		}
	}
	return tok, nil
}

// Revoke revokes the refresh token in use at revokeURL (RFC 7009: a form
// with token and token_type_hint=refresh_token, the client's HTTP Basic
// credentials), waiting for a running grant first so that a rotation is not
// missed. Once it succeeds, the server refuses every later grant with the
// token (invalid_grant). Its failures are *httpx.Error with Op "revoke".
func (r *Refresher) Revoke(ctx context.Context, revokeURL string) *httpx.Error {
	select {
	case r.grant <- struct{}{}:
	case <-ctx.Done():
		return &httpx.Error{Op: "revoke", Err: ctx.Err()}
	}
	defer func() { <-r.grant }()
	current := *r.current.Load()
	form := "token=" + url.QueryEscape(current) + "&token_type_hint=refresh_token"
	_, err := r.doer.Do(ctx, &httpx.Request{
		Op: "revoke", Method: http.MethodPost, URL: revokeURL,
		ContentType: "application/x-www-form-urlencoded", Body: []byte(form),
		Header: http.Header{"Authorization": {r.authHeader}}, Secrets: []string{current}, EmptyOK: true,
	})
	if err != nil {
		return err
	}
	r.doer.Log(ctx, slog.LevelInfo, "sts: refresh token revoked")
	return nil
}

func (r *Refresher) callHook(ctx context.Context, tok string) {
	defer func() {
		if p := recover(); p != nil {
			r.doer.Log(ctx, slog.LevelError, "sts: OnRefreshTokenRotated panicked")
		}
	}()
	r.onRotate(tok)
}
