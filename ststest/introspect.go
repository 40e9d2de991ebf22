package ststest

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// IntrospectURL returns the token introspection endpoint,
// URL+"/v1/introspect".
func (s *Server) IntrospectURL() string { return s.URL + "/v1/introspect" }

// serveIntrospect answers POST /v1/introspect. It accepts STS's documented
// JSON body ({"token": …, "tokenTypeHint": …}) and the RFC 7662 form
// (token, token_type_hint). Client credentials are checked as for the other
// endpoints (optional unless Options.RequireClientAuth). Every token the
// server issued and that has not expired is active; unknown and expired
// tokens are answered {"active": false}. A client-side downscoped token
// (intermediary token "." ciphertext) is active while its intermediary token
// is, if its ciphertext opens with the intermediary's session key. A token
// bound to a client certificate is active only when the request's
// connection presented that certificate, and its answer holds the binding
// as RFC 8705 does ("cnf": {"x5t#S256": …}). Like STS's JSON, exp and iat
// are strings of Unix seconds.
func (s *Server) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	_, token, hint, oe := s.tokenParams(r)
	if oe != nil {
		writeOAuthError(w, oe)
		return
	}
	switch hint {
	case "", typeAccessToken, "access_token":
	default:
		writeOAuthError(w, badRequest("unsupported token_type_hint %q", clip(hint)))
		return
	}
	info, ok := s.introspectLookup(token)
	now := time.Now()
	if !ok || !info.Valid(now) || !presentedWith(info, peerFingerprint(r)) {
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	resp := map[string]any{
		"active":   true,
		"exp":      strconv.FormatInt(info.ExpiresAt.Unix(), 10),
		"iat":      strconv.FormatInt(info.IssuedAt.Unix(), 10),
		"iss":      s.URL,
		"sub":      info.Subject,
		"username": info.Subject,
	}
	if info.CertFingerprint != "" {
		resp["cnf"] = map[string]string{"x5t#S256": info.CertFingerprint} // RFC 8705 section 3.2
	}
	if len(info.Scopes) > 0 {
		resp["scope"] = strings.Join(info.Scopes, " ")
	}
	if id := s.clientOf(info.Token); id != "" {
		resp["client_id"] = id
	}
	writeJSON(w, http.StatusOK, resp)
}

// introspectLookup finds token, or for a client-side downscoped token the
// intermediary token it was minted from.
func (s *Server) introspectLookup(token string) (TokenInfo, bool) {
	if info, ok := s.Lookup(token); ok {
		return info, true
	}
	if base, _, ok := strings.Cut(token, "."); ok {
		// Only a boundary sealed with the intermediary's session key makes
		// a client-side token.
		if info, ok := s.Lookup(base); ok && info.Kind == "intermediary" {
			if _, _, err := s.tokenBoundary(token); err == nil {
				return info, true
			}
		}
	}
	return TokenInfo{}, false
}

// tokenParams reads the body of an introspection or revocation request:
// the client under the client policy ("" for none), token (required) and
// token_type_hint.
func (s *Server) tokenParams(r *http.Request) (clientID, token, hint string, oe *oauthError) {
	form, oe := requestForm(r)
	if oe != nil {
		return "", "", "", oe
	}
	clientID, oe = s.authClient(r, form, false)
	if oe != nil {
		return "", "", "", oe
	}
	for _, p := range []string{"token", "token_type_hint"} {
		if len(form[p]) > 1 {
			return "", "", "", badRequest("parameter %q is repeated", p)
		}
	}
	if form.Get("token") == "" {
		return "", "", "", badRequest("token is required")
	}
	return clientID, form.Get("token"), form.Get("token_type_hint"), nil
}
