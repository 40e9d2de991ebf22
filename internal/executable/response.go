package executable

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/stsgo/sts/internal/errs"
	"github.com/stsgo/sts/internal/errtree"
)

// Token type URNs an executable may return. They mirror the root package's
// constants, which this internal package cannot import.
const (
	TokenTypeJWT     = "urn:ietf:params:oauth:token-type:jwt"
	TokenTypeIDToken = "urn:ietf:params:oauth:token-type:id_token"
	TokenTypeSAML2   = "urn:ietf:params:oauth:token-type:saml2"
)

// ExpirySkew is the margin by which a response's expiration_time must lie in
// the future for its token to be used.
const ExpirySkew = 30 * time.Second

// ErrExpired is wrapped by errors for a well-formed success response whose
// token expires within ExpirySkew.
var ErrExpired = errs.New("executable: response token has expired")

// Response is a decoded executable response. Pointer fields are nil when the
// JSON omitted them. It holds the token: never print it.
type Response struct {
	Version        *int64
	Success        *bool
	TokenType      *string
	IDToken        *string
	SAMLResponse   *string
	ExpirationTime *int64
	Code           *string
	Message        *string
}

// String implements fmt.Stringer without revealing the token.
func (r *Response) String() string { return "executable.Response{…}" }

// GoString implements fmt.GoStringer without revealing the token.
func (r *Response) GoString() string { return r.String() }

// FormatError reports a response that is not well formed. It never holds any
// of the response's text.
type FormatError struct {
	Reason string
}

// Error implements the error interface.
func (e *FormatError) Error() string { return "executable: invalid response: " + e.Reason }

// FailureError is a well-formed response with "success": false. Code and
// Message come from the executable (token-shaped text redacted).
type FailureError struct {
	// Not comparable, so that no equality function is linked for it.
	_       [0]func()
	Code    string
	Message string
}

// Error implements the error interface; it quotes the code and message.
func (e *FailureError) Error() string {
	code, msg := e.Code, e.Message
	if code == "" {
		code = "(no code)"
	}
	if msg == "" {
		msg = "(no message)"
	}
	return fmt.Sprintf("executable: command reported failure: code %q: %s", code, msg)
}

//go:noinline
func formatErr(format string, args ...any) error {
	return &FormatError{Reason: fmt.Sprintf(format, args...)}
}

// wire is the JSON shape of a response. json.RawMessage fields let the
// decoder accept any JSON value so type errors are reported here, by field
// name, without echoing the value.
type wire struct {
	Version        json.RawMessage `json:"version"`
	Success        json.RawMessage `json:"success"`
	TokenType      json.RawMessage `json:"token_type"`
	IDToken        json.RawMessage `json:"id_token"`
	SAMLResponse   json.RawMessage `json:"saml_response"`
	ExpirationTime json.RawMessage `json:"expiration_time"`
	Code           json.RawMessage `json:"code"`
	Message        json.RawMessage `json:"message"`
}

// ParseResponse decodes an executable response. It checks only JSON syntax
// and field types; Validate checks the contract. Errors are *FormatError and
// never contain the input.
func ParseResponse(data []byte) (*Response, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, formatErr("empty output")
	}
	if data[0] != '{' {
		return nil, formatErr("not a JSON object")
	}
	var w wire
	if err := json.Unmarshal(data, &w); err != nil {
		if se, ok := errtree.As[*json.SyntaxError](err); ok {
			return nil, formatErr("malformed JSON at offset %d", se.Offset)
		}
		return nil, formatErr("malformed JSON")
	}
	r := &Response{}
	var err error
	if r.Version, err = intField("version", w.Version); err != nil {
		return nil, err
	}
	if r.Success, err = boolField("success", w.Success); err != nil {
		return nil, err
	}
	if r.ExpirationTime, err = intField("expiration_time", w.ExpirationTime); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  **string
	}{
		{"token_type", w.TokenType, &r.TokenType},
		{"id_token", w.IDToken, &r.IDToken},
		{"saml_response", w.SAMLResponse, &r.SAMLResponse},
		{"code", w.Code, &r.Code},
		{"message", w.Message, &r.Message},
	} {
		if *f.dst, err = stringField(f.name, f.raw); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

func intField(name string, raw json.RawMessage) (*int64, error) {
	if isNull(raw) {
		return nil, nil
	}
	// Accept 1 and 1.0 and 1e0, reject fractions, strings and out-of-range.
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return nil, formatErr("%s must be a number", name)
	}
	if v, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return &v, nil
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f != float64(int64(f)) || f > 1<<62 || f < -(1<<62) {
		return nil, formatErr("%s must be an integer", name)
	}
	v := int64(f)
	return &v, nil
}

func boolField(name string, raw json.RawMessage) (*bool, error) {
	if isNull(raw) {
		return nil, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, formatErr("%s must be a boolean", name)
	}
	return &b, nil
}

func stringField(name string, raw json.RawMessage) (*string, error) {
	if isNull(raw) {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, formatErr("%s must be a string", name)
	}
	return &s, nil
}

// failure is the error of a failure response, with its code and message
// redacted and clipped.
func failure(r *Response) *FailureError {
	fe := &FailureError{}
	if r.Code != nil {
		fe.Code = clip(Redact(*r.Code), 128)
	}
	if r.Message != nil {
		fe.Message = clip(Redact(*r.Message), 512)
	}
	return fe
}

// KnownTokenType reports whether an executable may supply tokens of type t.
func KnownTokenType(t string) bool {
	switch t {
	case TokenTypeJWT, TokenTypeIDToken, TokenTypeSAML2:
		return true
	}
	return false
}

// Validate checks r against the contract for a configured token type
// wantType and returns the token and its expiry (zero when the response has
// none). requireExpiry is set for responses read from the output file.
//
// A failure response gives a *FailureError; an expired token an error
// wrapping ErrExpired; anything else malformed a *FormatError.
func Validate(r *Response, wantType string, now time.Time, requireExpiry bool) (string, time.Time, error) {
	if r.Version == nil {
		return "", time.Time{}, formatErr("missing version")
	}
	if *r.Version != 1 {
		return "", time.Time{}, formatErr("unsupported version %d (want 1)", *r.Version)
	}
	if r.Success == nil {
		return "", time.Time{}, formatErr("missing success")
	}
	if !*r.Success {
		return "", time.Time{}, failure(r)
	}
	if r.TokenType == nil || *r.TokenType == "" {
		return "", time.Time{}, formatErr("missing token_type")
	}
	got := *r.TokenType
	if !KnownTokenType(got) {
		return "", time.Time{}, formatErr("unsupported token_type %q", clip(Redact(got), 128))
	}
	if got != wantType {
		return "", time.Time{}, formatErr("token_type %q does not match the configured subject token type %q", got, wantType)
	}
	var tok *string
	field := "id_token"
	if got == TokenTypeSAML2 {
		tok, field = r.SAMLResponse, "saml_response"
	} else {
		tok = r.IDToken
	}
	if tok == nil || *tok == "" {
		return "", time.Time{}, formatErr("missing %s for token_type %q", field, got)
	}
	var exp time.Time
	if r.ExpirationTime == nil {
		if requireExpiry {
			return "", time.Time{}, formatErr("missing expiration_time (required when an output file is configured)")
		}
	} else {
		exp = time.Unix(*r.ExpirationTime, 0)
		if !exp.After(now.Add(ExpirySkew)) {
			return "", time.Time{}, errs.Errorf("%w (expiration_time %s, now %s, margin %s)",
				ErrExpired, exp.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), ExpirySkew)
		}
	}
	return *tok, exp, nil
}

// clip shortens s to at most n bytes, on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
