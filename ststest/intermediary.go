package ststest

import "net/http"

// serveIntermediary answers a validated token exchange whose
// requested_token_type is the access boundary intermediary token type.
// info is prepared (Subject, SubjectTokenType, IssuedAt, and ExpiresAt when
// the subject is a token this server issued); the issued token's Kind should
// be "intermediary".
//
// Client-side Credential Access Boundaries are not emulated yet: this
// placeholder answers 400 invalid_request.
func (s *Server) serveIntermediary(w http.ResponseWriter, req *tokenRequest, info TokenInfo) {
	_, _ = req, info
	writeOAuthError(w, badRequest("ststest: access boundary intermediary tokens are not emulated yet"))
}
