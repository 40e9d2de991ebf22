// Package googleoauth gets access tokens from Google's OAuth 2.0 token
// endpoint (oauth2.googleapis.com/token) for the two credential types
// gcloud writes that do not go through STS: a service account key
// (service_account: a JWT-bearer grant, RFC 7523, with an assertion signed
// with the key) and a user's refresh token (authorized_user: a
// refresh_token grant with the client's ID and secret in the form). Both
// are sent the way golang.org/x/oauth2/jwt and golang.org/x/oauth2 send
// them, through the module's HTTP layer: one grant per call and no caching
// (the caller caches), no redirects followed, a deadline per attempt,
// retries of temporary failures, answers checked like every other token
// answer, and failures as *httpx.Error with Op "token".
package googleoauth

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/internal/errs"
	"github.com/stsgo/sts/internal/httpx"
)

// DefaultTokenURL is Google's OAuth 2.0 token endpoint, where gcloud's
// files send their grants when they name none.
const DefaultTokenURL = "https://oauth2.googleapis.com/token"

// Source fetches one access token per call. It is safe for concurrent use.
type Source struct {
	url  string
	doer *httpx.Doer
	// form returns the grant's form and the secrets it carries; for a key,
	// a newly signed assertion each call.
	form func() (string, []string, error)
	kind string
}

// ServiceAccount returns the source of a service account key: JWT-bearer
// grants at tokenURL ("" means DefaultTokenURL) whose assertions, signed
// with key (RS256, private_key_id as the header's kid), name email as
// issuer, tokenURL as audience and the scopes, issued 10 s in the past
// and valid for an hour, as golang.org/x/oauth2/jwt signs them.
func ServiceAccount(email, keyID string, key *rsa.PrivateKey, tokenURL string, scopes []string, o httpx.Options) *Source {
	if tokenURL == "" {
		tokenURL = DefaultTokenURL
	}
	scope := strings.Join(scopes, " ")
	s := newSource("service_account", tokenURL, o)
	s.form = func() (string, []string, error) {
		a, err := assertion(key, keyID, email, scope, tokenURL, time.Now())
		if err != nil {
			return "", nil, err
		}
		// Members in url.Values.Encode's order, as x/oauth2 sends them.
		return "assertion=" + url.QueryEscape(a) + "&grant_type=" + url.QueryEscape(jwtBearer), []string{a}, nil
	}
	return s
}

// jwtBearer is the grant type of RFC 7523's JWT-bearer grants.
const jwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// jwtHeader and jwtClaims are the JSON of an assertion, members in
// golang.org/x/oauth2/jws's order.
type jwtHeader struct {
	// Not comparable, so that no equality function is linked for it.
	_   [0]func()
	Alg string `json:"alg"`
	Typ string `json:"typ"`
	Kid string `json:"kid,omitempty"`
}

type jwtClaims struct {
	// Not comparable, so that no equality function is linked for it.
	_     [0]func()
	Iss   string `json:"iss"`
	Scope string `json:"scope,omitempty"`
	Aud   string `json:"aud"`
	Exp   int64  `json:"exp"`
	Iat   int64  `json:"iat"`
}

// assertion signs a JWT-bearer assertion with key at now.
func assertion(key *rsa.PrivateKey, keyID, iss, scope, aud string, now time.Time) (string, error) {
	iat := now.Add(-10 * time.Second).Unix()
	h, err := json.Marshal(jwtHeader{Alg: "RS256", Typ: "JWT", Kid: keyID})
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(jwtClaims{Iss: iss, Scope: scope, Aud: aud, Exp: iat + 3600, Iat: iat})
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", errs.New("signing the assertion failed")
	}
	return signed + "." + enc.EncodeToString(sig), nil
}

// AuthorizedUser returns the source of an authorized_user file: a refresh
// token grant with the file's client ID and secret in the form, at
// tokenURL ("" means DefaultTokenURL).
func AuthorizedUser(clientID, clientSecret, refreshToken, tokenURL string, o httpx.Options) *Source {
	if tokenURL == "" {
		tokenURL = DefaultTokenURL
	}
	// Members in url.Values.Encode's order, as x/oauth2 sends them.
	form := "client_id=" + url.QueryEscape(clientID) + "&client_secret=" + url.QueryEscape(clientSecret) +
		"&grant_type=refresh_token&refresh_token=" + url.QueryEscape(refreshToken)
	secrets := []string{refreshToken, clientSecret}
	s := newSource("authorized_user", tokenURL, o)
	s.form = func() (string, []string, error) { return form, secrets, nil }
	return s
}

func newSource(kind, tokenURL string, o httpx.Options) *Source {
	return &Source{url: tokenURL, doer: httpx.NewDoer(o), kind: kind}
}

// ParsePrivateKey reads a service account's private_key: an RSA key, PEM
// (or bare DER) PKCS #8 or PKCS #1, without a passphrase. The error never
// quotes the key.
func ParsePrivateKey(key string) (*rsa.PrivateKey, error) {
	der := []byte(key)
	if block, _ := pem.Decode(der); block != nil {
		der = block.Bytes
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		if k, err = x509.ParsePKCS1PrivateKey(der); err != nil {
			return nil, errs.New("is not a PEM PKCS #8 or PKCS #1 private key")
		}
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errs.New("is not an RSA private key")
	}
	return rk, nil
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
	form, secrets, err := s.form()
	if err != nil {
		return nil, &httpx.Error{Op: "token", Err: err}
	}
	tok, resp, herr := s.doer.PostToken(ctx, "token", s.url, []byte(form), nil, secrets...)
	if herr != nil {
		return nil, herr
	}
	if !resp.HasExpiresIn {
		return nil, httpx.BadAnswer("token", http.MethodPost, s.url, httpx.ErrNoExpiresIn)
	}
	return tok, nil
}

// String describes s without secrets.
func (s *Source) String() string {
	return fmt.Sprintf("googleoauth.Source{Kind:%q URL:%q}", s.kind, s.url)
}
