package ststest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// What STS answers (400, RFC 6749 error JSON) when it refuses a subject
// token or an audience.
const (
	descUnparsableJWT   = "Unable to parse the ID Token."
	descStaleJWT        = "ID Token issued at %d is stale to sign-in."
	descWrongAudience   = "The audience in JWT does not match the expected values."
	descUnknownProvider = `The target service indicated by the "audience" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn't exist.`
)

// subjectJWTLifetime is the lifetime of the tokens SubjectJWT mints.
const subjectJWTLifetime = time.Hour

// checkProvider refuses an audience naming a provider the server was not
// configured with, as STS refuses a provider that does not exist.
func (s *Server) checkProvider(audience string) *oauthError {
	if audience == "" || len(s.opts.Providers) == 0 || slices.Contains(s.opts.Providers, audience) {
		return nil
	}
	return &oauthError{status: http.StatusBadRequest, code: "invalid_target", desc: descUnknownProvider}
}

// checkSubject checks the subject token of an exchange for audience as
// STS does, unless Options.AcceptAnySubject: a token of the JWT or ID token
// type must be a JWT whose exp claim is in the future and, with
// Options.CheckSubjectAudience, whose aud names an allowed audience.
func (s *Server) checkSubject(tokenType, token, audience string, now time.Time) *oauthError {
	if s.opts.AcceptAnySubject || (tokenType != typeJWT && tokenType != typeIDToken) {
		return nil
	}
	claims, ok := parseJWT(token)
	if !ok {
		return &oauthError{status: http.StatusBadRequest, code: "invalid_grant", desc: descUnparsableJWT}
	}
	exp, ok := numericClaim(claims, "exp")
	if !ok {
		return &oauthError{status: http.StatusBadRequest, code: "invalid_grant", desc: descUnparsableJWT}
	}
	if float64(now.Unix()) >= exp {
		iat, ok := numericClaim(claims, "iat")
		if !ok {
			iat = exp
		}
		return &oauthError{status: http.StatusBadRequest, code: "invalid_grant", desc: fmt.Sprintf(descStaleJWT, int64(iat))}
	}
	if s.opts.CheckSubjectAudience && !s.allowedAudience(claims["aud"], audience) {
		return &oauthError{status: http.StatusBadRequest, code: "invalid_grant", desc: descWrongAudience}
	}
	return nil
}

// allowedAudience reports whether the aud claim raw (a string or an array
// of strings) names an audience allowed for an exchange for audience: its
// default one (see Options.CheckSubjectAudience) or an AllowedAudiences
// entry.
func (s *Server) allowedAudience(raw json.RawMessage, audience string) bool {
	var auds []string
	var one string
	if json.Unmarshal(raw, &one) == nil {
		auds = []string{one}
	} else if json.Unmarshal(raw, &auds) != nil {
		return false
	}
	def, ok := strings.CutPrefix(audience, "//")
	for _, a := range auds {
		if (ok && a == "https://"+def) || (a != "" && slices.Contains(s.opts.AllowedAudiences, a)) {
			return true
		}
	}
	return false
}

// parseJWT decodes the claims of a compact JWS (header.payload.signature;
// header and payload unpadded base64url of JSON objects, the header naming
// its alg) without looking at the signature: the emulator verifies none.
func parseJWT(token string) (map[string]json.RawMessage, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, false
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if !decodeSegment(parts[0], &header) || header.Alg == "" {
		return nil, false
	}
	var claims map[string]json.RawMessage
	if !decodeSegment(parts[1], &claims) || claims == nil {
		return nil, false
	}
	return claims, true
}

func decodeSegment(seg string, v any) bool {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if dec.Decode(v) != nil || dec.More() {
		return false
	}
	return true
}

// numericClaim returns a NumericDate claim (RFC 7519 section 2).
func numericClaim(claims map[string]json.RawMessage, name string) (float64, bool) {
	var f float64
	raw, ok := claims[name]
	if !ok || json.Unmarshal(raw, &f) != nil {
		return 0, false
	}
	return f, true
}

// SubjectJWT returns a subject token for an exchange with audience that
// passes the server's subject checks: an unsigned JWT (alg "none"; the
// emulator checks no signature) with iss URL, sub subject, aud the
// provider's default allowed audience (audience with "https:" in front of a
// leading "//"), iat now and exp one hour later. Exchanged, its subject is
// the TokenInfo.Subject of the issued token.
func (s *Server) SubjectJWT(subject, audience string) string {
	aud := audience
	if strings.HasPrefix(aud, "//") {
		aud = "https:" + aud
	}
	now := time.Now()
	return unsignedJWT(map[string]any{
		"iss": s.URL, "sub": subject, "aud": aud,
		"iat": now.Unix(), "exp": now.Add(subjectJWTLifetime).Unix(),
	})
}

// unsignedJWT encodes claims as a JWT with alg "none" and an empty
// signature.
func unsignedJWT(claims map[string]any) string {
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	payload, _ := json.Marshal(claims)
	return header + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
}
