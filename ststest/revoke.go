package ststest

import (
	"net/http"
	"time"
)

// RevokeURL returns the token revocation endpoint, URL+"/v1/revoke" (the
// revoke_url of workforce authorized-user credential files).
func (s *Server) RevokeURL() string { return s.URL + "/v1/revoke" }

// serveRevoke answers POST /v1/revoke, token revocation as RFC 7009 defines
// it: a form (or JSON) body with token and an optional token_type_hint
// (refresh_token or access_token), client credentials under the server's
// client policy. The answer is 200 with an empty JSON object, also for a
// token the server does not know, as RFC 7009 section 2.2 requires.
//
// Revoking a refresh token ends its grant: the refresh token (and any
// rotation of it) stops working, every later refresh_token grant with it
// fails with invalid_grant, and the access tokens issued under the grant
// expire at once. Revoking an access token the server issued makes it
// expire at once (Lookup reports the revocation time as ExpiresAt). A token
// issued to a client can only be revoked by that client: other clients get
// 400 invalid_grant, requests without client credentials 401
// invalid_client.
func (s *Server) serveRevoke(w http.ResponseWriter, r *http.Request) {
	clientID, token, hint, oe := s.tokenParams(r)
	if oe != nil {
		writeOAuthError(w, oe)
		return
	}
	switch hint {
	case "", "refresh_token", "access_token", typeAccessToken:
	default:
		writeOAuthError(w, &oauthError{status: http.StatusBadRequest, code: "unsupported_token_type",
			desc: "unsupported token_type_hint " + clip(hint)})
		return
	}
	if oe := s.revoke(token, clientID); oe != nil {
		writeOAuthError(w, oe)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

// revoke revokes a refresh or access token on behalf of clientID ("" for a
// request without client credentials).
func (s *Server) revoke(token, clientID string) *oauthError {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	owner, isRefresh := s.oauth.refresh[token]
	if !isRefresh {
		owner.clientID = s.oauth.clients[token]
	}
	if owner.clientID != "" && clientID == "" {
		return invalidClient("client authentication is required to revoke a token issued to a client")
	}
	if owner.clientID != "" && owner.clientID != clientID {
		return &oauthError{status: http.StatusBadRequest, code: "invalid_grant", desc: "the token was issued to another client"}
	}
	if isRefresh {
		for rt, e := range s.oauth.refresh {
			if e.grant == owner.grant {
				delete(s.oauth.refresh, rt)
			}
		}
		for _, at := range s.oauth.issued[owner.grant] {
			s.expireLocked(at, now)
		}
		delete(s.oauth.issued, owner.grant)
		return nil
	}
	s.expireLocked(token, now)
	return nil
}

// expireLocked ends an issued token's validity at now. s.mu is held.
func (s *Server) expireLocked(token string, now time.Time) {
	if info, ok := s.tokens[token]; ok && info.ExpiresAt.After(now) {
		info.ExpiresAt = now
		s.tokens[token] = info
	}
}
