package ststest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/stsgo/sts/internal/loopback"
)

// AuthorizationCodeLifetime is how long an authorization code issued by the
// authorization endpoint can be redeemed.
const AuthorizationCodeLifetime = time.Minute

// DefaultLoginUser is the user the authorization endpoint signs in when the
// request has no login_hint.
const DefaultLoginUser = "user@ststest.example"

// AuthorizeURL returns the emulated workforce authorization endpoint,
// URL+"/authorize" (Google's is https://auth.cloud.google/authorize).
func (s *Server) AuthorizeURL() string { return s.URL + "/authorize" }

// OAuthTokenURL returns the endpoint of the authorization-code and
// refresh-token grants, URL+"/v1/oauthtoken".
func (s *Server) OAuthTokenURL() string { return s.URL + "/v1/oauthtoken" }

// loginState holds the authorization codes of the authorization-code flow.
type loginState struct {
	mu    sync.Mutex
	codes map[string]*authCode
}

// authCode is an issued authorization code.
type authCode struct {
	clientID    string
	redirectURI string
	challenge   string
	audience    string
	scopes      []string
	user        string
	expires     time.Time
	used        bool
}

func (l *loginState) init() {
	if l.codes == nil {
		l.codes = make(map[string]*authCode)
	}
}

// serveAuthorize answers GET /authorize, the authorization endpoint of
// RFC 6749 section 4.1.1 with PKCE (RFC 7636), as Google's workforce
// identity federation sign-in page would after a successful sign-in: it
// approves at once and redirects (302) to redirect_uri with code and state.
//
// Required: response_type=code, client_id (equal to Options.ClientID when
// that is set), redirect_uri (an http URL on a loopback host),
// code_challenge with code_challenge_method=S256, and provider_name (the
// workforce pool provider, "locations/global/workforcePools/P/providers/Q",
// or the full audience in provider_name or audience). Optional: scope
// (space separated; default cloud-platform), state (returned as is),
// login_hint (the user signed in; default DefaultLoginUser). A bad client_id
// or redirect_uri is answered 400 with JSON; other errors are redirected with
// error and error_description, as RFC 6749 section 4.1.2.1 says.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k, v := range q {
		if len(v) > 1 {
			writeOAuthError(w, badRequest("parameter %q is repeated", clip(k)))
			return
		}
	}
	clientID := q.Get("client_id")
	if clientID == "" {
		writeOAuthError(w, badRequest("client_id is required"))
		return
	}
	if !s.knownClientID(clientID) {
		writeOAuthError(w, &oauthError{status: http.StatusBadRequest, code: "invalid_client", desc: "unknown client_id"})
		return
	}
	redirectURI := q.Get("redirect_uri")
	ru, err := url.Parse(redirectURI)
	if redirectURI == "" || err != nil || ru.Scheme != "http" || !loopbackHost(ru.Hostname()) || ru.Fragment != "" || ru.User != nil {
		writeOAuthError(w, badRequest("redirect_uri must be an http URL on a loopback host"))
		return
	}
	state := q.Get("state")
	fail := func(code, desc string) {
		v := ru.Query()
		v.Set("error", code)
		v.Set("error_description", desc)
		if state != "" {
			v.Set("state", state)
		}
		ru.RawQuery = v.Encode()
		http.Redirect(w, r, ru.String(), http.StatusFound)
	}
	if rt := q.Get("response_type"); rt != "code" {
		fail("unsupported_response_type", "response_type must be code")
		return
	}
	challenge := q.Get("code_challenge")
	if challenge == "" {
		fail("invalid_request", "code_challenge is required")
		return
	}
	if q.Get("code_challenge_method") != "S256" {
		fail("invalid_request", "code_challenge_method must be S256")
		return
	}
	if b, err := base64.RawURLEncoding.DecodeString(challenge); err != nil || len(b) != sha256.Size {
		fail("invalid_request", "code_challenge is not a base64url SHA-256 digest")
		return
	}
	audience := q.Get("audience")
	if p := q.Get("provider_name"); p != "" {
		audience = p
		if !strings.HasPrefix(p, "//") {
			audience = "//iam.googleapis.com/" + strings.TrimPrefix(p, "/")
		}
	}
	if audience == "" {
		fail("invalid_request", "provider_name is required")
		return
	}
	if !workforceAudience.MatchString(audience) {
		fail("invalid_request", "provider_name is not a workforce pool provider")
		return
	}
	if oe := s.checkProvider(audience); oe != nil {
		fail(oe.code, oe.desc)
		return
	}
	scopes := strings.Fields(q.Get("scope"))
	if len(scopes) == 0 {
		scopes = []string{"https://www.googleapis.com/auth/cloud-platform"}
	}
	user := q.Get("login_hint")
	if user == "" {
		user = DefaultLoginUser
	}
	code := newToken("ststest-code-")
	s.login.mu.Lock()
	s.login.init()
	s.login.codes[code] = &authCode{
		clientID: clientID, redirectURI: redirectURI, challenge: challenge, audience: audience,
		scopes: scopes, user: user, expires: time.Now().Add(AuthorizationCodeLifetime),
	}
	s.login.mu.Unlock()
	v := ru.Query()
	v.Set("code", code)
	if state != "" {
		v.Set("state", state)
	}
	ru.RawQuery = v.Encode()
	http.Redirect(w, r, ru.String(), http.StatusFound)
}

// loopbackHost reports whether a redirect URI's host is a loopback one, as
// Google's authorization server takes it for desktop clients: the name
// localhost, or a literal loopback address (not "127.evil.example").
func loopbackHost(h string) bool {
	_, ok := loopback.Addr(h)
	return ok || strings.EqualFold(h, "localhost")
}

// serveAuthorizationCode handles grant_type=authorization_code of
// POST /v1/oauthtoken (see serveOAuthToken, which authenticated clientID).
// It checks that the code was issued to this client for this redirect_uri,
// is not expired (AuthorizationCodeLifetime) and was not used before, and
// that SHA-256 of code_verifier matches the code_challenge (RFC 7636 S256).
// Any redemption attempt spends the code. It answers access_token,
// token_type, expires_in, refresh_token, id_token and scope. The access token
// is known to Lookup and /v1/introspect with Kind "authorization_code"; the
// refresh token works with the refresh_token grant (RefreshTokenValid).
func (s *Server) serveAuthorizationCode(w http.ResponseWriter, _ *http.Request, form url.Values, clientID string) {
	code, verifier, redirectURI := form.Get("code"), form.Get("code_verifier"), form.Get("redirect_uri")
	switch {
	case code == "":
		writeOAuthError(w, badRequest("code is required"))
		return
	case verifier == "":
		writeOAuthError(w, badRequest("code_verifier is required"))
		return
	case redirectURI == "":
		writeOAuthError(w, badRequest("redirect_uri is required"))
		return
	case !validVerifier(verifier):
		writeOAuthError(w, badRequest("code_verifier must be 43 to 128 unreserved characters"))
		return
	}
	now := time.Now()
	s.login.mu.Lock()
	s.login.init()
	c, ok := s.login.codes[code]
	var bad string
	switch {
	case !ok:
		bad = "unknown authorization code"
	case c.used:
		bad = "authorization code was already used"
	case !now.Before(c.expires):
		bad = "authorization code has expired"
	case c.clientID != clientID:
		bad = "authorization code was issued to another client"
	case c.redirectURI != redirectURI:
		bad = "redirect_uri does not match the authorization request"
	}
	if ok {
		// A code is spent by any redemption attempt that names it, so a
		// stolen code cannot be tried with several verifiers.
		c.used = true
	}
	if bad == "" {
		sum := sha256.Sum256([]byte(verifier))
		if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(c.challenge)) != 1 {
			bad = "code_verifier does not match the code_challenge"
		}
	}
	s.login.mu.Unlock()
	if bad != "" {
		writeOAuthError(w, &oauthError{status: http.StatusBadRequest, code: "invalid_grant", desc: bad})
		return
	}
	info := s.issue(TokenInfo{
		Kind:     "authorization_code",
		Subject:  c.user,
		Audience: c.audience,
		Scopes:   c.scopes,
		IssuedAt: now,
	})
	rt := newToken("ststest-rt-")
	s.recordGrantToken(s.addRefreshToken(rt, clientID, c.user), info.Token)
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":  info.Token,
		"token_type":    "Bearer",
		"expires_in":    int64(info.ExpiresAt.Sub(info.IssuedAt).Round(time.Second) / time.Second),
		"refresh_token": rt,
		"id_token":      s.idToken(clientID, c.user, c.audience, now, info.ExpiresAt),
		"scope":         strings.Join(c.scopes, " "),
	})
}

// idToken builds an unsigned (alg "none") ID token: enough for clients that
// read its claims; nothing should trust it.
func (s *Server) idToken(clientID, user, audience string, iat, exp time.Time) string {
	return unsignedJWT(map[string]any{
		"iss": s.URL, "aud": clientID, "sub": user, "email": user, "provider": audience,
		"iat": iat.Unix(), "exp": exp.Unix(),
	})
}

func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, r := range v {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~", r)) {
			return false
		}
	}
	return true
}
