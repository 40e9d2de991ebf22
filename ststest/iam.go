package ststest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Impersonation limits of IAM Credentials' generateAccessToken: the lifetime
// defaults to one hour and may reach 12 hours (IAM needs an organisation
// policy beyond one hour; the emulator does not model it).
const (
	defaultImpersonationLifetime = time.Hour
	maxImpersonationLifetime     = 12 * time.Hour
	idTokenLifetime              = time.Hour // generateIdToken's tokens
)

// iamState is the Server's IAM Credentials state.
type iamState struct {
	// check decides whether caller may act as serviceAccount; nil: every
	// issued token may.
	check func(caller TokenInfo, serviceAccount string, delegates []string) error
}

// SetImpersonationCheck installs the policy of generateAccessToken and
// generateIdToken: check decides whether the principal of an access token
// the server issued (caller) may obtain a token for serviceAccount through
// the given delegation chain (each "projects/-/serviceAccounts/EMAIL"); a
// non-nil error makes the server answer 403 PERMISSION_DENIED with the
// error's text. Nil (the default) lets every valid token the server issued
// impersonate any service account.
func (s *Server) SetImpersonationCheck(check func(caller TokenInfo, serviceAccount string, delegates []string) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.iam.check = check
}

// ImpersonationURL returns the generateAccessToken endpoint of a service
// account on this server:
// URL+"/v1/projects/-/serviceAccounts/"+serviceAccount+":generateAccessToken".
// The same path ending in ":generateIdToken" mints ID tokens.
func (s *Server) ImpersonationURL(serviceAccount string) string {
	return s.URL + "/v1/projects/-/serviceAccounts/" + serviceAccount + ":generateAccessToken"
}

// googleError is an error answer in Google's JSON shape, as IAM Credentials
// sends it.
type googleError struct {
	code    int
	status  string
	message string
}

func writeGoogleError(w http.ResponseWriter, e googleError) {
	if e.code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ststest"`)
	}
	writeJSON(w, e.code, map[string]any{"error": map[string]any{
		"code": e.code, "message": e.message, "status": e.status,
	}})
}

func invalidArgument(format string, args ...any) googleError {
	return googleError{http.StatusBadRequest, "INVALID_ARGUMENT", fmt.Sprintf(format, args...)}
}

// bearerCaller authenticates the Bearer token of r against the tokens the
// server issued.
func (s *Server) bearerCaller(r *http.Request) (TokenInfo, *googleError) {
	auth := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return TokenInfo{}, &googleError{http.StatusUnauthorized, "UNAUTHENTICATED",
			"Request is missing required authentication credential. Expected OAuth 2 access token."}
	}
	info, found := s.Lookup(strings.TrimSpace(tok))
	if !found || !info.Valid(time.Now()) {
		return TokenInfo{}, &googleError{http.StatusUnauthorized, "UNAUTHENTICATED",
			"Request had invalid authentication credentials. Expected OAuth 2 access token."}
	}
	if !presentedWith(info, peerFingerprint(r)) {
		return TokenInfo{}, &googleError{http.StatusUnauthorized, "UNAUTHENTICATED",
			"Request had invalid authentication credentials: " + descCertRequired + "."}
	}
	switch info.Kind {
	case "id_token":
		return TokenInfo{}, &googleError{http.StatusUnauthorized, "UNAUTHENTICATED",
			"Request had invalid authentication credentials. Expected OAuth 2 access token."}
	case "downscoped", "intermediary":
		return TokenInfo{}, &googleError{http.StatusForbidden, "PERMISSION_DENIED",
			"Permission 'iam.serviceAccounts.getAccessToken' denied: the token is downscoped"}
	}
	return info, nil
}

// iamMethods are the IAM Credentials methods of a service account the
// emulator serves, by their ":method" suffix. Each gets the service
// account's email, the authenticated caller and the JSON body.
var iamMethods = map[string]func(s *Server, w http.ResponseWriter, caller TokenInfo, email string, body []byte){
	":generateAccessToken": (*Server).generateAccessToken,
	":generateIdToken":     (*Server).generateIDToken,
}

// serveIAM answers POST /v1/projects/-/serviceAccounts/{email}:{method} as
// IAM Credentials does: the caller must present, as a Bearer token, a valid
// access token the server issued, with a JSON body. Errors are in Google's
// JSON shape.
func (s *Server) serveIAM(w http.ResponseWriter, r *http.Request) {
	// The route is "/v1/projects/{project}/serviceAccounts/{name}"; the
	// server dispatches with ServeMux.Handler, which sets no path values.
	rest := strings.TrimPrefix(r.URL.Path, "/v1/projects/")
	project, name, _ := strings.Cut(rest, "/serviceAccounts/")
	var method func(*Server, http.ResponseWriter, TokenInfo, string, []byte)
	email := ""
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		email, method = name[:i], iamMethods[name[i:]]
	}
	if method == nil {
		writeGoogleError(w, googleError{http.StatusNotFound, "NOT_FOUND", "unknown method"})
		return
	}
	if p := project; p != "-" {
		writeGoogleError(w, invalidArgument("the project must be \"-\", got %q", clip(p)))
		return
	}
	if email == "" || strings.ContainsAny(email, "/ ") {
		writeGoogleError(w, invalidArgument("invalid service account name"))
		return
	}
	caller, ge := s.bearerCaller(r)
	if ge != nil {
		writeGoogleError(w, *ge)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeGoogleError(w, invalidArgument("the body must be application/json"))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeGoogleError(w, invalidArgument("could not read the body"))
		return
	}
	method(s, w, caller, email, body)
}

// checkDelegation checks the delegation chain of an IAM Credentials request
// and applies the impersonation check. It returns false after answering an
// error.
func (s *Server) checkDelegation(w http.ResponseWriter, caller TokenInfo, email string, delegates []string) bool {
	for _, d := range delegates {
		rest, ok := strings.CutPrefix(d, "projects/-/serviceAccounts/")
		if !ok || rest == "" || strings.Contains(rest, "/") {
			writeGoogleError(w, invalidArgument("delegates must be projects/-/serviceAccounts/EMAIL, got %q", clip(d)))
			return false
		}
	}
	s.mu.Lock()
	check := s.iam.check
	s.mu.Unlock()
	if check != nil {
		if err := check(caller, email, append([]string(nil), delegates...)); err != nil {
			writeGoogleError(w, googleError{http.StatusForbidden, "PERMISSION_DENIED", err.Error()})
			return false
		}
	}
	return true
}

// generateAccessToken answers generateAccessToken: the body is JSON
// {"scope": […], "lifetime": "3600s", "delegates": […]}; the answer is
// {"accessToken", "expireTime"}. The token is recorded with Kind
// "impersonated" and the service account as Subject.
func (s *Server) generateAccessToken(w http.ResponseWriter, caller TokenInfo, email string, body []byte) {
	var req struct {
		Scope     []string `json:"scope"`
		Lifetime  *string  `json:"lifetime"`
		Delegates []string `json:"delegates"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeGoogleError(w, invalidArgument("invalid JSON payload"))
		return
	}
	if len(req.Scope) == 0 {
		writeGoogleError(w, invalidArgument("scope must not be empty"))
		return
	}
	for _, sc := range req.Scope {
		if sc == "" || strings.ContainsAny(sc, " \t\r\n") {
			writeGoogleError(w, invalidArgument("invalid scope"))
			return
		}
	}
	lifetime := defaultImpersonationLifetime
	if req.Lifetime != nil {
		d, ok := parseGoogleDuration(*req.Lifetime)
		if !ok || d <= 0 || d > maxImpersonationLifetime {
			writeGoogleError(w, invalidArgument("lifetime must be between 1s and %ds, got %q",
				int64(maxImpersonationLifetime/time.Second), clip(*req.Lifetime)))
			return
		}
		lifetime = d
	}
	if !s.checkDelegation(w, caller, email, req.Delegates) {
		return
	}
	now := time.Now()
	info := s.issue(TokenInfo{
		Kind:      "impersonated",
		Subject:   email,
		Audience:  caller.Audience,
		Scopes:    req.Scope,
		IssuedAt:  now,
		ExpiresAt: now.Add(lifetime),
	})
	writeJSON(w, http.StatusOK, map[string]string{
		"accessToken": info.Token,
		"expireTime":  info.ExpiresAt.UTC().Format(time.RFC3339Nano),
	})
}

// generateIDToken answers generateIdToken: the body is JSON {"audience",
// "includeEmail", "delegates"}; the answer is {"token"}, an unsigned JWT
// (alg "none") with Google's ID token claims: iss https://accounts.google.com,
// aud the audience, sub and azp a numeric identifier of the service
// account, email and email_verified with includeEmail, iat now and exp an
// hour later. The token is recorded with Kind "id_token", the service
// account as Subject and the audience as Audience, so Lookup and
// introspection know it; like Google's ID tokens it is not an access token:
// IAM and token exchange refuse it.
func (s *Server) generateIDToken(w http.ResponseWriter, caller TokenInfo, email string, body []byte) {
	var req struct {
		Audience     string   `json:"audience"`
		IncludeEmail bool     `json:"includeEmail"`
		Delegates    []string `json:"delegates"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeGoogleError(w, invalidArgument("invalid JSON payload"))
		return
	}
	if req.Audience == "" {
		writeGoogleError(w, invalidArgument("audience must not be empty"))
		return
	}
	if !s.checkDelegation(w, caller, email, req.Delegates) {
		return
	}
	now := time.Now()
	exp := now.Add(idTokenLifetime)
	claims := map[string]any{
		"iss": "https://accounts.google.com", "aud": req.Audience,
		"sub": serviceAccountID(email), "azp": serviceAccountID(email),
		"iat": now.Unix(), "exp": exp.Unix(),
	}
	if req.IncludeEmail {
		claims["email"], claims["email_verified"] = email, true
	}
	info := s.issue(TokenInfo{
		Token:     unsignedJWT(claims),
		Kind:      "id_token",
		Subject:   email,
		Audience:  req.Audience,
		IssuedAt:  now,
		ExpiresAt: exp,
	})
	writeJSON(w, http.StatusOK, map[string]string{"token": info.Token})
}

// serviceAccountID derives the numeric unique ID Google gives a service
// account (21 digits) from its email.
func serviceAccountID(email string) string {
	sum := sha256.Sum256([]byte(email))
	return fmt.Sprintf("1%020d", binary.BigEndian.Uint64(sum[:8]))
}

// parseGoogleDuration reads a google.protobuf.Duration in JSON ("3600s",
// "1.5s").
func parseGoogleDuration(s string) (time.Duration, bool) {
	num, ok := strings.CutSuffix(s, "s")
	if !ok || num == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f != f || f > float64(maxImpersonationLifetime/time.Second)*10 || f < 0 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}
