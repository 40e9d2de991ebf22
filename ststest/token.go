package ststest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Token exchange constants.
const (
	grantTokenExchange   = "urn:ietf:params:oauth:grant-type:token-exchange"
	typeAccessToken      = "urn:ietf:params:oauth:token-type:access_token"
	typeIntermediary     = "urn:ietf:params:oauth:token-type:access_boundary_intermediary_token"
	typeJWT              = "urn:ietf:params:oauth:token-type:jwt"
	typeIDToken          = "urn:ietf:params:oauth:token-type:id_token"
	typeSAML2            = "urn:ietf:params:oauth:token-type:saml2"
	typeMTLS             = "urn:ietf:params:oauth:token-type:mtls"
	typeAWS4Request      = "urn:ietf:params:aws:token-type:aws4_request"
	maxAccessBoundaryLen = 2048 // STS documents: the accessBoundary value should not exceed 2048 characters
	maxUserProjectLen    = 32   // STS documents: userProject is at most 32 characters
	maxBoundaryRules     = 10   // STS documents: up to 10 rules
)

var subjectTokenTypes = map[string]bool{
	typeJWT: true, typeIDToken: true, typeSAML2: true, typeAccessToken: true, typeMTLS: true, typeAWS4Request: true,
}

// tokenParams are the parameters of the token exchange endpoint, by their
// form (snake_case) names. A parameter given twice is an error (RFC 6749
// section 3.2).
var tokenParams = []string{
	"grant_type", "requested_token_type", "subject_token", "subject_token_type", "audience", "scope",
	"options", "actor_token", "actor_token_type", "resource",
}

var (
	workloadAudience  = regexp.MustCompile(`^//iam\.([a-z0-9][a-z0-9.-]*)/projects/([0-9]+)/locations/global/workloadIdentityPools/([A-Za-z0-9_-]+)/providers/([A-Za-z0-9_-]+)$`)
	workforceAudience = regexp.MustCompile(`^//iam\.([a-z0-9][a-z0-9.-]*)/locations/global/workforcePools/([A-Za-z0-9_-]+)/providers/([A-Za-z0-9_-]+)$`)
)

// tokenRequest is a validated token exchange request.
type tokenRequest struct {
	GrantType          string
	RequestedTokenType string
	SubjectToken       string
	SubjectTokenType   string
	Audience           string
	Scopes             []string
	Options            string // raw options JSON, "" when absent
	AccessBoundary     json.RawMessage
	UserProject        string
	BindCert           string // options.bindCertFingerprint
	ActorToken         string
	ActorTokenType     string
	Resource           string
	Workforce          bool
}

// decodeBody decodes a request body into parameters with snake_case names.
// contentType selects the encoding: application/json, or a form
// (application/x-www-form-urlencoded, also assumed when it is empty).
func decodeBody(contentType string, body []byte) (url.Values, error) {
	mt := "application/x-www-form-urlencoded"
	if contentType != "" {
		var err error
		mt, _, err = mime.ParseMediaType(contentType)
		if err != nil {
			return nil, badRequest("malformed Content-Type")
		}
	}
	switch mt {
	case "application/x-www-form-urlencoded":
		if !utf8.Valid(body) {
			return nil, badRequest("the form body is not valid UTF-8")
		}
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, badRequest("malformed form body")
		}
		return v, nil
	case "application/json":
		return decodeJSONBody(body)
	default:
		return nil, &oauthError{status: http.StatusUnsupportedMediaType, code: "invalid_request",
			desc: fmt.Sprintf("unsupported Content-Type %q", mt)}
	}
}

func decodeJSONBody(body []byte) (url.Values, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return url.Values{}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, badRequest("the JSON body is not a JSON object")
	}
	v := url.Values{}
	for name, raw := range m {
		key := camelToSnake(name)
		raw = bytes.TrimSpace(raw)
		switch {
		case bytes.Equal(raw, []byte("null")):
			continue
		case len(raw) > 0 && raw[0] == '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, badRequest("invalid JSON string for %q", name)
			}
			v.Add(key, s)
		case len(raw) > 0 && raw[0] == '[':
			var elems []json.RawMessage
			if err := json.Unmarshal(raw, &elems); err != nil {
				return nil, badRequest("invalid JSON array for %q", name)
			}
			for _, e := range elems {
				var s string
				if json.Unmarshal(e, &s) == nil {
					v.Add(key, s)
				} else {
					v.Add(key, string(e))
				}
			}
		default:
			v.Add(key, string(raw))
		}
	}
	return v, nil
}

// parseTokenRequest decodes and validates a token exchange request body.
func parseTokenRequest(contentType string, body []byte) (*tokenRequest, error) {
	form, err := decodeBody(contentType, body)
	if err != nil {
		return nil, err
	}
	return validateTokenRequest(form)
}

// validateTokenRequest checks the parameters of a token exchange as STS does.
// Errors are *oauthError.
func validateTokenRequest(form url.Values) (*tokenRequest, error) {
	for _, p := range tokenParams {
		if len(form[p]) > 1 {
			return nil, badRequest("parameter %s given more than once", p)
		}
	}
	req := &tokenRequest{
		GrantType:          form.Get("grant_type"),
		RequestedTokenType: form.Get("requested_token_type"),
		SubjectToken:       form.Get("subject_token"),
		SubjectTokenType:   form.Get("subject_token_type"),
		Audience:           form.Get("audience"),
		Options:            form.Get("options"),
		ActorToken:         form.Get("actor_token"),
		ActorTokenType:     form.Get("actor_token_type"),
		Resource:           form.Get("resource"),
	}
	switch req.GrantType {
	case grantTokenExchange:
	case "":
		return nil, badRequest("missing grant_type")
	default:
		return nil, &oauthError{status: http.StatusBadRequest, code: "unsupported_grant_type",
			desc: fmt.Sprintf("grant_type must be %s, got %q", grantTokenExchange, clip(req.GrantType))}
	}
	switch req.RequestedTokenType {
	case "":
		req.RequestedTokenType = typeAccessToken
	case typeAccessToken, typeIntermediary:
	default:
		return nil, badRequest("unsupported requested_token_type %q", clip(req.RequestedTokenType))
	}
	if req.SubjectTokenType == "" {
		return nil, badRequest("missing subject_token_type")
	}
	if !subjectTokenTypes[req.SubjectTokenType] {
		return nil, badRequest("unsupported subject_token_type %q", clip(req.SubjectTokenType))
	}
	if req.SubjectToken == "" {
		return nil, badRequest("missing subject_token")
	}
	if req.RequestedTokenType == typeIntermediary && req.SubjectTokenType != typeAccessToken {
		return nil, badRequest("requested_token_type %s requires subject_token_type %s", typeIntermediary, typeAccessToken)
	}
	if req.Audience == "" {
		if req.SubjectTokenType != typeAccessToken {
			return nil, badRequest("missing audience")
		}
	} else {
		switch {
		case workloadAudience.MatchString(req.Audience):
		case workforceAudience.MatchString(req.Audience):
			req.Workforce = true
		default:
			return nil, badRequest("invalid audience %q: want //iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER or //iam.googleapis.com/locations/global/workforcePools/POOL/providers/PROVIDER", clip(req.Audience))
		}
	}
	if s := form.Get("scope"); s != "" {
		for _, sc := range strings.Fields(s) {
			u, err := url.Parse(sc)
			if err != nil || !u.IsAbs() || u.Host == "" {
				return nil, &oauthError{status: http.StatusBadRequest, code: "invalid_scope",
					desc: fmt.Sprintf("scope %q is not an absolute URL", clip(sc))}
			}
			req.Scopes = append(req.Scopes, sc)
		}
	}
	if req.ActorToken != "" && req.ActorTokenType == "" {
		return nil, badRequest("actor_token requires actor_token_type")
	}
	if req.ActorToken == "" && req.ActorTokenType != "" {
		return nil, badRequest("actor_token_type given without actor_token")
	}
	if req.Options != "" {
		if err := parseOptions(req); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// clip shortens a value echoed in an error description.
func clip(s string) string {
	const n = 128
	if len(s) <= n {
		return s
	}
	for i := n; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return ""
}

type boundaryRule struct {
	AvailableResource     *string         `json:"availableResource"`
	AvailablePermissions  []string        `json:"availablePermissions"`
	AvailabilityCondition *boundaryCondit `json:"availabilityCondition"`
}

type boundaryCondit struct {
	Expression  *string `json:"expression"`
	Title       *string `json:"title"`
	Description *string `json:"description"`
}

type accessBoundary struct {
	AccessBoundaryRules []boundaryRule `json:"accessBoundaryRules"`
}

// parseOptions validates req.Options and fills AccessBoundary and
// UserProject.
func parseOptions(req *tokenRequest) error {
	var opts map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(req.Options))
	if err := dec.Decode(&opts); err != nil || opts == nil || dec.More() {
		return badRequest("options must be a JSON object")
	}
	for k, raw := range opts {
		switch k {
		case "bindCertFingerprint":
			var fp string
			if err := json.Unmarshal(raw, &fp); err != nil || !validFingerprint(fp) {
				return badRequest("options.bindCertFingerprint must be the unpadded base64url SHA-256 of a certificate's DER encoding (43 characters)")
			}
			req.BindCert = fp
		case "userProject":
			var p string
			if err := json.Unmarshal(raw, &p); err != nil {
				return badRequest("options.userProject must be a string")
			}
			if !req.Workforce {
				return badRequest("options.userProject is only supported for workforce pool audiences")
			}
			if p == "" || utf8.RuneCountInString(p) > maxUserProjectLen {
				return badRequest("options.userProject must be 1 to %d characters", maxUserProjectLen)
			}
			req.UserProject = p
		case "accessBoundary":
			if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
				continue
			}
			if req.Workforce {
				return badRequest("credential access boundaries are not supported for workforce pools")
			}
			if utf8.RuneCount(raw) > maxAccessBoundaryLen {
				return badRequest("options.accessBoundary exceeds %d characters", maxAccessBoundaryLen)
			}
			if err := checkBoundary(raw); err != nil {
				return err
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, raw); err != nil {
				return badRequest("options.accessBoundary is not valid JSON")
			}
			req.AccessBoundary = compact.Bytes()
		default:
			return badRequest("unknown field %q in options", clip(k))
		}
	}
	return nil
}

func checkBoundary(raw json.RawMessage) error {
	var ab accessBoundary
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ab); err != nil {
		return badRequest("options.accessBoundary must be an object {\"accessBoundaryRules\":[…]} with known fields only")
	}
	n := len(ab.AccessBoundaryRules)
	if n == 0 || n > maxBoundaryRules {
		return badRequest("options.accessBoundary must have 1 to %d rules, got %d", maxBoundaryRules, n)
	}
	for i, r := range ab.AccessBoundaryRules {
		if r.AvailableResource == nil || *r.AvailableResource == "" {
			return badRequest("accessBoundaryRules[%d].availableResource is required", i)
		}
		if len(r.AvailablePermissions) == 0 {
			return badRequest("accessBoundaryRules[%d].availablePermissions is required", i)
		}
		for j, p := range r.AvailablePermissions {
			if !strings.HasPrefix(p, "inRole:") || len(p) == len("inRole:") {
				return badRequest("accessBoundaryRules[%d].availablePermissions[%d] must be inRole:ROLE, got %q", i, j, clip(p))
			}
		}
		if c := r.AvailabilityCondition; c != nil && (c.Expression == nil || *c.Expression == "") {
			return badRequest("accessBoundaryRules[%d].availabilityCondition.expression is required", i)
		}
	}
	return nil
}

// serveToken answers POST /v1/token and /v1beta/token.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	form, oe := requestForm(r)
	if oe != nil {
		writeOAuthError(w, oe)
		return
	}
	if _, oe := s.authClient(r, form, false); oe != nil {
		writeOAuthError(w, oe)
		return
	}
	req, err := validateTokenRequest(form)
	if err != nil {
		writeOAuthError(w, err.(*oauthError))
		return
	}
	now := time.Now()
	if oe := s.checkProvider(req.Audience); oe != nil {
		writeOAuthError(w, oe)
		return
	}
	if oe := s.checkSubject(req.SubjectTokenType, req.SubjectToken, req.Audience, now); oe != nil {
		writeOAuthError(w, oe)
		return
	}
	if v := s.opts.ValidateSubject; v != nil {
		if err := v(req.SubjectTokenType, req.SubjectToken); err != nil {
			writeOAuthError(w, &oauthError{status: http.StatusBadRequest, code: "invalid_grant", desc: err.Error()})
			return
		}
	}
	presented := peerFingerprint(r)
	if req.BindCert != "" && presented != "" && presented != req.BindCert {
		writeOAuthError(w, badRequest("options.bindCertFingerprint does not match the client certificate of the connection"))
		return
	}
	info := TokenInfo{
		CertFingerprint:  req.BindCert,
		Kind:             "exchange",
		SubjectTokenType: req.SubjectTokenType,
		Audience:         req.Audience,
		Scopes:           req.Scopes,
		AccessBoundary:   req.AccessBoundary,
		UserProject:      req.UserProject,
		IssuedAt:         now,
	}
	if req.SubjectTokenType == typeAccessToken {
		if req.AccessBoundary != nil {
			info.Kind = "downscoped"
		}
		if parent, ok := s.Lookup(req.SubjectToken); ok {
			if parent.Kind == "id_token" {
				writeOAuthError(w, &oauthError{status: http.StatusBadRequest, code: "invalid_grant", desc: "the subject token is an ID token, not an access token"})
				return
			}
			if parent.CertFingerprint != "" && parent.CertFingerprint != presented {
				writeOAuthError(w, &oauthError{status: http.StatusBadRequest, code: "invalid_grant", desc: descCertRequired})
				return
			}
			if info.CertFingerprint == "" {
				info.CertFingerprint = parent.CertFingerprint
			}
			if !parent.Valid(now) {
				writeOAuthError(w, &oauthError{status: http.StatusBadRequest, code: "invalid_grant", desc: "the subject token has expired"})
				return
			}
			if parent.AccessBoundary != nil && req.AccessBoundary != nil {
				writeOAuthError(w, badRequest("the subject token already carries an access boundary"))
				return
			}
			info.Subject = parent.Subject
			info.ExpiresAt = parent.ExpiresAt
			if len(info.Scopes) == 0 {
				info.Scopes = parent.Scopes
			}
			if info.AccessBoundary == nil {
				info.AccessBoundary = parent.AccessBoundary
			}
		}
	}
	if info.Subject == "" {
		info.Subject = subjectOf(req.SubjectTokenType, req.SubjectToken)
	}
	if req.RequestedTokenType == typeIntermediary {
		s.serveIntermediary(w, req, info)
		return
	}
	info = s.issue(info)
	resp := map[string]any{
		"access_token":      info.Token,
		"issued_token_type": req.RequestedTokenType,
		"token_type":        "Bearer",
	}
	if req.SubjectTokenType != typeAccessToken {
		resp["expires_in"] = int64(info.ExpiresAt.Sub(info.IssuedAt).Round(time.Second) / time.Second)
	}
	writeJSON(w, http.StatusOK, resp)
}

// subjectOf names the principal of a subject token without revealing it.
func subjectOf(tokenType, token string) string {
	if tokenType == typeJWT || tokenType == typeIDToken {
		if sub := jwtSubject(token); sub != "" {
			return sub
		}
	}
	return subjectID(token)
}

// jwtSubject returns the "sub" claim of a compact JWS, without verifying it,
// or "".
func jwtSubject(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return ""
	}
	var claims struct {
		Sub any `json:"sub"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	if s, ok := claims.Sub.(string); ok {
		return s
	}
	return ""
}
