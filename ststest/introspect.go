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
// is, if its ciphertext opens with the intermediary's session key. Like STS's JSON, exp and iat are strings of Unix seconds.
func (s *Server) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	form, oe := requestForm(r)
	if oe != nil {
		writeOAuthError(w, oe)
		return
	}
	if oe := s.checkClient(r, form); oe != nil {
		writeOAuthError(w, oe)
		return
	}
	for _, p := range []string{"token", "token_type_hint"} {
		if len(form[p]) > 1 {
			writeOAuthError(w, badRequest("parameter %q is repeated", p))
			return
		}
	}
	token := form.Get("token")
	if token == "" {
		writeOAuthError(w, badRequest("token is required"))
		return
	}
	switch form.Get("token_type_hint") {
	case "", typeAccessToken, "access_token":
	default:
		writeOAuthError(w, badRequest("unsupported token_type_hint %q", clip(form.Get("token_type_hint"))))
		return
	}
	info, ok := s.introspectLookup(token)
	now := time.Now()
	if !ok || !info.Valid(now) {
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
	if len(info.Scopes) > 0 {
		resp["scope"] = strings.Join(info.Scopes, " ")
	}
	if id := s.login.clientOf(info.Token); id != "" {
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
			if _, err := s.tokenBoundary(token); err == nil {
				return info, true
			}
		}
	}
	return TokenInfo{}, false
}
