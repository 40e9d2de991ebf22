package ststest

import (
	"net/http"
	"net/url"
	"time"
)

// oauthState is the Server's state for POST /v1/oauthtoken and
// /v1/revoke, guarded by Server.mu.
type oauthState struct {
	refresh map[string]refreshEntry // by refresh token
	clients map[string]string       // access token -> the client it was issued to
	issued  map[string][]string     // refreshEntry.grant -> access tokens issued under it
	rotate  bool
}

// refreshEntry is a valid refresh token's grant: the client it was issued
// to, the principal, and an identifier shared by every refresh token of
// one grant (rotation keeps it).
type refreshEntry struct {
	clientID string
	subject  string
	grant    string
}

func (o *oauthState) init() {
	if o.refresh == nil {
		o.refresh = make(map[string]refreshEntry)
		o.clients = make(map[string]string)
		o.issued = make(map[string][]string)
	}
}

// addRefreshToken registers a refresh token for a new grant.
func (s *Server) addRefreshToken(token, clientID, subject string) refreshEntry {
	e := refreshEntry{clientID: clientID, subject: subject, grant: newToken("grant-")}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauth.init()
	s.oauth.refresh[token] = e
	return e
}

// recordGrantToken remembers that an access token was issued to a client
// under a grant, for introspection (client_id) and revocation.
func (s *Server) recordGrantToken(e refreshEntry, accessToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauth.init()
	s.oauth.clients[accessToken] = e.clientID
	s.oauth.issued[e.grant] = append(s.oauth.issued[e.grant], accessToken)
}

// clientOf returns the client an access token was issued to by a grant of
// POST /v1/oauthtoken, or "".
func (s *Server) clientOf(accessToken string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.oauth.clients[accessToken]
}

// oauthGrants routes the grant_type values of POST /v1/oauthtoken. Each
// grant is handled in its own function, given the decoded form after the
// request's client authentication was read (id and secret from HTTP Basic
// auth, "" when absent).
var oauthGrants = map[string]func(s *Server, w http.ResponseWriter, r *http.Request, form url.Values, clientID string){
	"refresh_token":      (*Server).serveRefreshGrant,
	"authorization_code": (*Server).serveAuthorizationCode, // login.go
}

// AddRefreshToken registers a refresh token issued to the OAuth client
// clientID, for the refresh_token grant of POST /v1/oauthtoken. Access tokens
// obtained with it are recorded with Kind "refreshed" and a Subject derived
// from the first refresh token (it stays the same across rotations).
func (s *Server) AddRefreshToken(token, clientID string) {
	s.addRefreshToken(token, clientID, "user-"+subjectID(token))
}

// SetRefreshTokenRotation makes every later successful refresh_token grant
// return a new refresh token and revoke the one used (on), or keep refresh
// tokens valid and return none (off, the default).
func (s *Server) SetRefreshTokenRotation(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauth.rotate = on
}

// RefreshTokenValid reports whether token is a refresh token the server
// currently accepts (registered, not rotated away, not revoked).
func (s *Server) RefreshTokenValid(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.oauth.refresh[token]
	return ok
}

// serveOAuthToken answers POST /v1/oauthtoken, STS's OAuth 2.0 token
// endpoint for workforce identity federation. Its grants are bound to a
// client, so the request must carry client credentials, checked with the
// server's client policy (see authClient). Errors are RFC 6749 error JSON.
func (s *Server) serveOAuthToken(w http.ResponseWriter, r *http.Request) {
	form, oe := requestForm(r)
	if oe != nil {
		writeOAuthError(w, oe)
		return
	}
	id, oe := s.authClient(r, form, true)
	if oe != nil {
		writeOAuthError(w, oe)
		return
	}
	for k, v := range form {
		if len(v) > 1 {
			writeOAuthError(w, badRequest("parameter %q is repeated", clip(k)))
			return
		}
	}
	grant := form.Get("grant_type")
	h, ok := oauthGrants[grant]
	if !ok {
		if grant == "" {
			writeOAuthError(w, badRequest("grant_type is required"))
			return
		}
		writeOAuthError(w, &oauthError{status: http.StatusBadRequest, code: "unsupported_grant_type",
			desc: "unsupported grant_type " + clip(grant)})
		return
	}
	h(s, w, r, form, id)
}

// serveRefreshGrant handles grant_type=refresh_token.
func (s *Server) serveRefreshGrant(w http.ResponseWriter, _ *http.Request, form url.Values, clientID string) {
	rt := form.Get("refresh_token")
	if rt == "" {
		writeOAuthError(w, badRequest("refresh_token is required"))
		return
	}
	s.mu.Lock()
	entry, ok := s.oauth.refresh[rt]
	if ok && entry.clientID != clientID {
		s.mu.Unlock()
		writeOAuthError(w, &oauthError{status: http.StatusBadRequest, code: "invalid_grant", desc: "the refresh token was issued to another client"})
		return
	}
	if !ok {
		s.mu.Unlock()
		writeOAuthError(w, &oauthError{status: http.StatusBadRequest, code: "invalid_grant", desc: "the refresh token is invalid, expired or revoked"})
		return
	}
	newRT := ""
	if s.oauth.rotate {
		newRT = newToken("ststest-rt-")
		delete(s.oauth.refresh, rt)
		s.oauth.refresh[newRT] = entry
	}
	s.mu.Unlock()
	info := s.issue(TokenInfo{Kind: "refreshed", Subject: entry.subject, IssuedAt: time.Now()})
	s.recordGrantToken(entry, info.Token)
	resp := map[string]any{
		"access_token": info.Token,
		"token_type":   "Bearer",
		"expires_in":   int64(info.ExpiresAt.Sub(info.IssuedAt).Round(time.Second) / time.Second),
	}
	if newRT != "" {
		resp["refresh_token"] = newRT
	}
	writeJSON(w, http.StatusOK, resp)
}
