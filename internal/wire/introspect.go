package wire

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/stsgo/sts/internal/errs"
)

// IntrospectRequest is the documented JSON body of STS's /v1/introspect
// (GoogleIdentityStsV1IntrospectTokenRequest).
type IntrospectRequest struct {
	Token         string `json:"token"`
	TokenTypeHint string `json:"tokenTypeHint,omitempty"`
}

// JSON encodes r.
func (r *IntrospectRequest) JSON() []byte {
	b, _ := json.Marshal(r) // two strings: cannot fail
	return b
}

// Introspection is a decoded /v1/introspect answer (RFC 7662 section 2.2,
// with Google's field names).
type Introspection struct {
	Active   bool
	ClientID string
	// Exp and Iat are zero when absent.
	Exp, Iat time.Time
	Issuer   string
	Scopes   []string
	Subject  string
	Username string
}

// introspectionJSON is an introspection answer as encoding/json decodes it;
// introspectionMembers are its members (a test checks them against the
// tags).
type introspectionJSON struct {
	Active   json.RawMessage `json:"active"`
	ClientID json.RawMessage `json:"client_id"`
	Exp      json.RawMessage `json:"exp"`
	Iat      json.RawMessage `json:"iat"`
	Iss      json.RawMessage `json:"iss"`
	Scope    json.RawMessage `json:"scope"`
	Sub      json.RawMessage `json:"sub"`
	Username json.RawMessage `json:"username"`
}

var introspectionMembers = []string{"active", "client_id", "exp", "iat", "iss", "scope", "sub", "username"}

// maxTimestamp bounds exp and iat: year 9999.
const maxTimestamp = 253402300799

// DecodeIntrospection decodes and checks an introspection response body.
// "active" is required and must be a boolean (the strings "true" and "false"
// are accepted too); "exp" and "iat" are seconds since the epoch given as
// numbers or as strings; "scope" is a space-separated string. Errors never
// quote the body.
func DecodeIntrospection(body []byte) (*Introspection, error) {
	var j introspectionJSON
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] != '{' {
		if json.Valid(trimmed) {
			return nil, errs.New("response is not a JSON object")
		}
	}
	if err := decodeJSON(body, &j, introspectionMembers...); err != nil {
		return nil, err
	}
	in := &Introspection{}
	active, err := parseBool(j.Active)
	if err != nil {
		return nil, errs.Errorf("response field %q: %w", "active", err)
	}
	in.Active = active
	strs := []struct {
		name string
		raw  json.RawMessage
		dst  *string
	}{
		{"client_id", j.ClientID, &in.ClientID},
		{"iss", j.Iss, &in.Issuer},
		{"sub", j.Sub, &in.Subject},
		{"username", j.Username, &in.Username},
	}
	for _, f := range strs {
		s, err := optString(f.raw)
		if err != nil {
			return nil, errs.Errorf("response field %q: %w", f.name, err)
		}
		*f.dst = clean(s, 1024)
	}
	scope, err := optString(j.Scope)
	if err != nil {
		return nil, errs.Errorf("response field %q: %w", "scope", err)
	}
	if fs := strings.Fields(scope); len(fs) > 0 {
		in.Scopes = make([]string, len(fs))
		for i, s := range fs {
			in.Scopes[i] = clean(s, 1024)
		}
	}
	if in.Exp, err = optTimestamp(j.Exp); err != nil {
		return nil, errs.Errorf("response field %q: %w", "exp", err)
	}
	if in.Iat, err = optTimestamp(j.Iat); err != nil {
		return nil, errs.Errorf("response field %q: %w", "iat", err)
	}
	return in, nil
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

func parseBool(raw json.RawMessage) (bool, error) {
	if isNull(raw) {
		return false, errs.New("is missing")
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch strings.TrimSpace(strings.ToLower(s)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, errs.New("is not a boolean")
}

func optString(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", errs.New("is not a string")
	}
	return s, nil
}

func optTimestamp(raw json.RawMessage) (time.Time, error) {
	if isNull(raw) || string(bytes.TrimSpace(raw)) == `""` {
		return time.Time{}, nil
	}
	n, err := ParseJSONInt(raw)
	if err != nil {
		return time.Time{}, err
	}
	if n == 0 {
		return time.Time{}, nil
	}
	if n < 0 || n > maxTimestamp {
		return time.Time{}, errs.Errorf("timestamp %d is out of range", n)
	}
	return time.Unix(n, 0), nil
}
