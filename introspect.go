package sts

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/secret"
	"github.com/stsgo/sts/internal/wire"
)

// IntrospectOptions configures calls to STS's token introspection endpoint,
// POST /v1/introspect. The zero value introspects access tokens at
// https://sts.googleapis.com/v1/introspect without client authentication.
type IntrospectOptions struct {
	// URL is the introspection endpoint (the token_info_url of a credential
	// file). Empty means "https://sts.<UniverseDomain>/v1/introspect". It
	// must be https unless its host is a loopback address.
	URL string
	// UniverseDomain is the Google Cloud universe used to build the default
	// URL. Empty means "googleapis.com".
	UniverseDomain string
	// TokenTypeHint is sent as tokenTypeHint. Empty means TokenTypeAccessToken;
	// STS documents TokenTypeAccessToken and "access_token" as the supported
	// values, and only those are accepted.
	TokenTypeHint string
	// ClientID and ClientSecret, when both set, authenticate the client with
	// HTTP Basic auth. When empty, no Authorization header is sent.
	ClientID     string
	ClientSecret string `json:"-"`
	// HTTPOptions holds the HTTP client, time-out, retry policy and
	// logger; the zero value is ready to use.
	HTTPOptions
}

// String describes o without the client secret.
func (o IntrospectOptions) String() string {
	cs := redactedField("ClientSecret", o.ClientSecret)
	return fmt.Sprintf("sts.IntrospectOptions{URL:%q ClientID:%q%s}", o.URL, o.ClientID, cs)
}

// Format prints String whatever the verb: no verb shows a secret.
func (o IntrospectOptions) Format(f fmt.State, verb rune) { secret.Format(f, verb, o.String()) }

func (o *IntrospectOptions) validate() error {
	if o.URL != "" {
		if err := verr(check.Endpoint("IntrospectOptions.URL", o.URL)); err != nil {
			return err
		}
	}
	if err := verr(check.Universe("IntrospectOptions.UniverseDomain", o.UniverseDomain)); err != nil {
		return err
	}
	switch o.TokenTypeHint {
	case "", TokenTypeAccessToken, "access_token":
	default:
		return invalid("IntrospectOptions.TokenTypeHint", "must be %q or \"access_token\", got %q",
			TokenTypeAccessToken, httpx.Truncate(o.TokenTypeHint, 100))
	}
	if (o.ClientID == "") != (o.ClientSecret == "") {
		if o.ClientID == "" {
			return invalid("IntrospectOptions.ClientID", "must be set when ClientSecret is")
		}
		return invalid("IntrospectOptions.ClientSecret", "must be set when ClientID is")
	}
	return o.HTTPOptions.validate("IntrospectOptions")
}

// Introspection is what STS says about a token (RFC 7662 section 2.2). An
// inactive token (expired, revoked, unknown, or not issued by STS) has
// Active false and usually no other field set.
type Introspection struct {
	// Active reports whether the token is currently valid.
	Active bool
	// ClientID is the OAuth client that requested the token, if any.
	ClientID string
	// Expiry is when the token expires; zero when not reported.
	Expiry time.Time
	// IssuedAt is when the token was issued; zero when not reported.
	IssuedAt time.Time
	// Issuer is the token's issuer.
	Issuer string
	// Scopes are the token's OAuth scopes.
	Scopes []string
	// Subject is the unique ID of the token's principal.
	Subject string
	// Username is the human-readable name of the token's principal.
	Username string
}

// String describes the result (which never holds the token).
func (in *Introspection) String() string {
	if in == nil {
		return "sts.Introspection(nil)"
	}
	return fmt.Sprintf("sts.Introspection{Active:%t ClientID:%q Subject:%q Username:%q Issuer:%q Scopes:%q Expiry:%s IssuedAt:%s}",
		in.Active, in.ClientID, in.Subject, in.Username, in.Issuer, in.Scopes, expiryText(in.Expiry), expiryText(in.IssuedAt))
}

// Introspect asks STS's token introspection endpoint (POST /v1/introspect,
// RFC 7662) about token, an access token STS issued. An inactive token
// (expired, revoked, unknown) is a result with Active false, not an error.
//
// A bad opts field or an empty token is a *ValidationError; a failed call or
// answer an *Error with Op "introspect" (never quoting the token). For a
// token source's current token, call its Token method first.
func Introspect(ctx context.Context, token string, opts IntrospectOptions) (*Introspection, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if token == "" {
		return nil, invalid("token", "must not be empty")
	}
	u := opts.URL
	if u == "" {
		u = stsEndpoint(opts.UniverseDomain, "/v1/introspect")
	}
	hint := opts.TokenTypeHint
	if hint == "" {
		hint = TokenTypeAccessToken
	}
	hdr := http.Header{}
	if opts.ClientID != "" {
		hdr.Set("Authorization", httpx.BasicAuth(opts.ClientID, opts.ClientSecret))
	}
	req := wire.IntrospectRequest{Token: token, TokenTypeHint: hint}
	body, err := newHTTPDoer(opts.HTTPOptions, httpx.BaseAPIClient()).do(ctx, &httpx.Request{
		Op:          "introspect",
		Method:      http.MethodPost,
		URL:         u,
		ContentType: "application/json",
		Body:        req.JSON(),
		Header:      hdr,
		Secrets:     []string{token, opts.ClientSecret},
	})
	if err != nil {
		return nil, err
	}
	r, derr := wire.DecodeIntrospection(body)
	if derr != nil {
		return nil, fromHTTP(httpx.BadAnswer("introspect", http.MethodPost, u, derr))
	}
	return &Introspection{
		Active:   r.Active,
		ClientID: r.ClientID,
		Expiry:   r.Exp,
		IssuedAt: r.Iat,
		Issuer:   r.Issuer,
		Scopes:   r.Scopes,
		Subject:  r.Subject,
		Username: r.Username,
	}, nil
}
