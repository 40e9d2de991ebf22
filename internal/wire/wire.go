// Package wire holds the wire formats of Google's Security Token Service and
// IAM Credentials APIs: request encoding, response and error decoding. It does
// no I/O beyond reading bodies through a size limit.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stsgo/sts/internal/errs"
	"github.com/stsgo/sts/internal/errtree"
	"github.com/stsgo/sts/internal/scrub"
)

// MaxBodySize is the largest response body read from any endpoint.
const MaxBodySize = 1 << 20

// GrantTypeTokenExchange is the RFC 8693 grant type.
const GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"

// ErrBodyTooLarge reports a response body over MaxBodySize.
var ErrBodyTooLarge = errors.New("response body exceeds 1 MiB")

// ReadBody reads r through the MaxBodySize limit.
func ReadBody(r io.Reader) ([]byte, error) {
	// bytes.Buffer.ReadFrom, which net/http links already, rather than
	// io.ReadAll.
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(r, MaxBodySize+1)); err != nil {
		return nil, err
	}
	if buf.Len() > MaxBodySize {
		return nil, ErrBodyTooLarge
	}
	return buf.Bytes(), nil
}

// ReadBodyOf reads resp's body through the MaxBodySize limit, into a buffer
// of exactly its length when the answer declares it (Content-Length).
func ReadBodyOf(resp *http.Response) ([]byte, error) {
	n := resp.ContentLength
	if n < 0 || n > MaxBodySize {
		return ReadBody(resp.Body)
	}
	// One byte more than declared, to see that the body ends there.
	b := make([]byte, n+1)
	got, err := io.ReadFull(resp.Body, b)
	switch {
	case int64(got) == n && (err == io.ErrUnexpectedEOF || err == io.EOF):
		return b[:n:n], nil
	case err != nil:
		return nil, err
	}
	// The body is longer than declared (a transport that does not hold it
	// to Content-Length): read it all through the limit.
	return ReadBody(io.MultiReader(bytes.NewReader(b), resp.Body))
}

// TokenRequest is an RFC 8693 token exchange request to /v1/token.
type TokenRequest struct {
	RequestedTokenType string
	SubjectToken       string
	SubjectTokenType   string
	Audience           string
	Scopes             []string
	Options            string // JSON object, or ""
	ActorToken         string
	ActorTokenType     string
	Resource           string
}

// Form encodes r as an application/x-www-form-urlencoded body. Empty fields
// are left out.
func (r *TokenRequest) Form() url.Values {
	v := url.Values{}
	v.Set("grant_type", GrantTypeTokenExchange)
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("requested_token_type", r.RequestedTokenType)
	set("subject_token", r.SubjectToken)
	set("subject_token_type", r.SubjectTokenType)
	set("audience", r.Audience)
	if len(r.Scopes) > 0 {
		v.Set("scope", strings.Join(r.Scopes, " "))
	}
	set("options", r.Options)
	set("actor_token", r.ActorToken)
	set("actor_token_type", r.ActorTokenType)
	set("resource", r.Resource)
	return v
}

// Encode returns r as an application/x-www-form-urlencoded body: the bytes
// of Form().Encode() (keys in sorted order, empty fields left out), built
// with one allocation of exactly their length.
func (r *TokenRequest) Encode() []byte {
	fields := [...]struct{ key, value string }{ // sorted by key
		{"actor_token", r.ActorToken},
		{"actor_token_type", r.ActorTokenType},
		{"audience", r.Audience},
		{"grant_type", GrantTypeTokenExchange},
		{"options", ""}, // r.Options, below
		{"requested_token_type", r.RequestedTokenType},
		{"resource", r.Resource},
		{"scope", ""}, // r.Scopes, below
		{"subject_token", r.SubjectToken},
		{"subject_token_type", r.SubjectTokenType},
	}
	// Two passes: the first adds up the length, the second writes.
	var b []byte
	for pass := range 2 {
		n := 0
		for _, f := range fields {
			switch {
			case f.key == "options":
				if len(r.Options) == 0 {
					continue
				}
			case f.key == "scope":
				if len(r.Scopes) == 0 {
					continue
				}
			case f.value == "":
				continue
			}
			if pass == 0 {
				if n > 0 {
					n++ // '&'
				}
				n += len(f.key) + 1
				switch f.key {
				case "options":
					n += queryEscapedLen(r.Options)
				case "scope":
					n += len(r.Scopes) - 1 // the '+' between scopes
					for _, s := range r.Scopes {
						n += queryEscapedLen(s)
					}
				default:
					n += queryEscapedLen(f.value)
				}
				continue
			}
			if len(b) > 0 {
				b = append(b, '&')
			}
			b = append(b, f.key...)
			b = append(b, '=')
			switch f.key {
			case "options":
				b = appendQueryEscape(b, r.Options)
			case "scope":
				for i, s := range r.Scopes {
					if i > 0 {
						b = append(b, '+') // an escaped space
					}
					b = appendQueryEscape(b, s)
				}
			default:
				b = appendQueryEscape(b, f.value)
			}
		}
		if pass == 0 {
			b = make([]byte, 0, n)
		}
	}
	return b
}

// queryClass classifies the bytes of a form value: 0 kept as they are
// (the unreserved characters), 1 space (written '+'), 2 written %XX, as
// url.QueryEscape does.
var queryClass = func() (t [256]uint8) {
	for c := range t {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~':
		case c == ' ':
			t[c] = 1
		default:
			t[c] = 2
		}
	}
	return t
}()

// queryEscapedLen is the length of s escaped by appendQueryEscape.
func queryEscapedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if queryClass[s[i]] == 2 {
			n += 2
		}
	}
	return n
}

// appendQueryEscape appends s escaped as url.QueryEscape does: unreserved
// characters as they are, space as '+', every other byte as %XX.
func appendQueryEscape(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch queryClass[c] {
		case 0:
			continue
		case 1:
			b = append(b, s[start:i]...)
			b = append(b, '+')
		default:
			b = append(b, s[start:i]...)
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
		start = i + 1
	}
	return append(b, s[start:]...)
}

// TokenResponse is a successful answer of /v1/token or /v1/oauthtoken.
type TokenResponse struct {
	// Not comparable, so that no equality function is linked for it.
	_               [0]func()
	AccessToken     string
	IssuedTokenType string
	TokenType       string
	// ExpiresIn is the lifetime the server gave, or 0 when it gave none.
	ExpiresIn time.Duration
	// HasExpiresIn tells whether expires_in was present.
	HasExpiresIn bool
	RefreshToken string
	IDToken      string
	Scope        string
	SessionKey   string // access_boundary_session_key
}

// MaxLifetime bounds the lifetimes read from any answer (expires_in, an
// expireTime): nothing Google issues lives for more than a few days;
// anything beyond ten years is a broken server. It also keeps every expiry
// far inside the range of int64 nanoseconds (year 2262).
const MaxLifetime = 10 * 365 * 24 * time.Hour

// DecodeTokenResponse decodes and checks a token response body. The error
// never quotes the body, which holds secrets.
func DecodeTokenResponse(body []byte) (*TokenResponse, error) {
	r := new(TokenResponse)
	var expiresIn []byte // the raw value, nil when absent
	if !scanTokenResponse(body, r, &expiresIn) {
		// Something the scanner leaves to encoding/json: a malformed
		// answer, or an unusual spelling (escapes, other letter case).
		*r, expiresIn = TokenResponse{}, nil
		if err := decodeTokenResponseJSON(body, r, &expiresIn); err != nil {
			return nil, err
		}
	}
	if r.AccessToken == "" {
		return nil, errs.New("response has no access_token")
	}
	if r.TokenType != "" && !strings.EqualFold(r.TokenType, "bearer") && !strings.EqualFold(r.TokenType, "N_A") {
		return nil, errs.Errorf("response token_type %s is not Bearer", Quote(r.TokenType, 32))
	}
	d, ok, err := ParseSeconds(expiresIn)
	if err != nil {
		return nil, errs.Errorf("response expires_in: %w", err)
	}
	if ok {
		if d <= 0 {
			return nil, errs.Errorf("response expires_in must be positive, got %d", int64(d/time.Second))
		}
		r.ExpiresIn, r.HasExpiresIn = d, true
	}
	return r, nil
}

// tokenResponseJSON is a token answer as encoding/json decodes it.
type tokenResponseJSON struct {
	AccessToken     string          `json:"access_token"`
	IssuedTokenType string          `json:"issued_token_type"`
	TokenType       string          `json:"token_type"`
	ExpiresIn       json.RawMessage `json:"expires_in"`
	RefreshToken    string          `json:"refresh_token"`
	IDToken         string          `json:"id_token"`
	Scope           string          `json:"scope"`
	SessionKey      string          `json:"access_boundary_session_key"`
}

// decodeTokenResponseJSON decodes body with encoding/json into r and the raw
// expires_in value: the reference decoding, which scanTokenResponse
// reproduces for the answers it reads.
func decodeTokenResponseJSON(body []byte, r *TokenResponse, expiresIn *[]byte) error {
	var j tokenResponseJSON
	if err := decodeJSON(body, &j, tokenFields[:]...); err != nil {
		return err
	}
	*r = TokenResponse{
		AccessToken:     j.AccessToken,
		IssuedTokenType: j.IssuedTokenType,
		TokenType:       j.TokenType,
		RefreshToken:    j.RefreshToken,
		IDToken:         j.IDToken,
		Scope:           j.Scope,
		SessionKey:      j.SessionKey,
	}
	*expiresIn = j.ExpiresIn
	return nil
}

// ParseSeconds decodes a JSON number of seconds that may also arrive as a
// string ("3600"). A missing or null value reports ok == false.
func ParseSeconds(raw json.RawMessage) (d time.Duration, ok bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false, nil
	}
	n, err := ParseJSONInt(raw)
	if err != nil {
		return 0, false, err
	}
	if n > int64(MaxLifetime/time.Second) {
		return 0, false, errs.Errorf("value %d is out of range", n)
	}
	if n < -int64(MaxLifetime/time.Second) {
		return 0, false, errs.Errorf("value %d is out of range", n)
	}
	return time.Duration(n) * time.Second, true, nil
}

// ParseJSONInt decodes an integer given as a JSON number or as a JSON
// string holding one: the forms Google's APIs use (int64 values travel as
// strings) and the string form golang.org/x/oauth2 accepts. The text must
// follow JSON's integer grammar exactly: an optional minus sign, then 0 or
// a digit 1-9 followed by digits. A fraction ("3600.0"), an exponent
// ("36e2"), a plus sign, leading zeros, hexadecimal, underscores, spaces
// inside the string or a value beyond int64 are refused.
func ParseJSONInt(raw json.RawMessage) (int64, error) {
	b := bytes.TrimSpace(raw)
	if len(b) > 0 && b[0] == '"' {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return 0, errs.New("not a number")
		}
		b = []byte(str)
	}
	if !isJSONInteger(b) {
		return 0, errs.Errorf("%s is not an integer", Quote(string(b), 32))
	}
	// Accumulated as a negative number, whose range is the larger.
	digits, neg := bytes.CutPrefix(b, []byte("-"))
	var n int64
	for _, c := range digits {
		d := int64(c - '0')
		if n < (math.MinInt64+d)/10 {
			return 0, outOfRange(b)
		}
		n = n*10 - d
	}
	if !neg {
		if n == math.MinInt64 {
			return 0, outOfRange(b)
		}
		n = -n
	}
	return n, nil
}

// outOfRange is the error for the integer b, which does not fit in int64.
func outOfRange(b []byte) error {
	if len(b) > 32 {
		return errs.Errorf("value of %d digits is out of range", len(b))
	}
	return errs.Errorf("value %s is out of range", b)
}

// isJSONInteger reports whether s is -?(0|[1-9][0-9]*).
func isJSONInteger(s []byte) bool {
	s = bytes.TrimPrefix(s, []byte("-"))
	if len(s) == 0 || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ErrorBody is a decoded error answer. It reads both the RFC 6749 shape
// ({"error":"invalid_grant","error_description":"…"}) and Google's JSON shape
// ({"error":{"code":403,"message":"…","status":"PERMISSION_DENIED"}}).
type ErrorBody struct {
	Code        string
	Description string
	URI         string
}

// DecodeError decodes an error body. It returns ok == false when the body is
// in neither shape (an HTML page from a proxy, say). Its texts are the
// decoded strings with every spelling of secrets removed, then cleaned and
// bounded (see package scrub): scrubbing the decoded text finds a secret
// the server escaped.
func DecodeError(body []byte, secrets []string) (e ErrorBody, ok bool) {
	clean := func(s string, max int) string { return scrub.Clean(scrub.Secrets(s, secrets), max) }
	var j struct {
		Error            json.RawMessage `json:"error"`
		ErrorDescription string          `json:"error_description"`
		ErrorURI         string          `json:"error_uri"`
	}
	if json.Unmarshal(body, &j) != nil || len(j.Error) == 0 {
		return e, false
	}
	var code string
	if json.Unmarshal(j.Error, &code) == nil {
		e = ErrorBody{Code: clean(code, 64), Description: clean(j.ErrorDescription, 512), URI: clean(j.ErrorURI, 256)}
		return e, e.Code != "" // a code of only control characters is no code
	}
	var g struct {
		Code    json.RawMessage `json:"code"`
		Message string          `json:"message"`
		Status  string          `json:"status"`
	}
	if json.Unmarshal(j.Error, &g) != nil {
		return e, false
	}
	e = ErrorBody{Code: clean(g.Status, 64), Description: clean(g.Message, 512)}
	if e.Code == "" && len(g.Code) > 0 {
		if n, err := ParseJSONInt(g.Code); err == nil {
			e.Code = strconv.FormatInt(n, 10)
		}
	}
	return e, e.Code != "" || e.Description != ""
}

// decodeJSON decodes a JSON object into v, a pointer to a struct or a map,
// with errors that say what was wrong without quoting the body. names are
// the members v's json tags name (none for a map): each must appear at most
// once and spelled exactly so (see CheckMembers). They are given rather
// than read from the tags, which would link reflection on struct tags into
// every program; the tests check them.
func decodeJSON(body []byte, v any, names ...string) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errs.New("empty response body")
	}
	if err := CheckMembers(body, names...); err != nil {
		return errs.Errorf("response %w", err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		// errors.As for both targets, walked (see errtree).
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		errtree.Walk(err, func(e error) bool {
			switch e := e.(type) {
			case *json.SyntaxError:
				if se == nil {
					se = e
				}
			case *json.UnmarshalTypeError:
				if te == nil {
					te = e
				}
			}
			return false
		})
		switch {
		case se != nil:
			return errs.Errorf("response is not valid JSON (syntax error at offset %d)", se.Offset)
		case te != nil && te.Field == "":
			return errs.Errorf("response has the wrong type: a JSON %s, not an object", te.Value)
		case te != nil:
			return errs.Errorf("response field %q has the wrong type", te.Field)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return errs.New("response JSON is truncated")
		}
		return errs.New("response is not valid JSON")
	}
	return nil
}

// CheckMembers refuses a JSON object in which a member named by names
// appears twice, or appears spelled in another case: encoding/json would
// take the last of duplicates, and fills a field from any case (and
// Unicode folding) variant of its name, while the protocols' member names
// are case-sensitive. So {"expires_in":3600,"EXPIRES_IN":1e9} and
// {"EXPIRES_IN":3600} are both refused, naming the member. Other members,
// nested objects and a body that is not a JSON object are left to the
// decoder.
func CheckMembers(body []byte, names ...string) error {
	if len(names) == 0 {
		return nil
	}
	// The scanner of token answers walks the object: encoding/json's
	// Decoder.Token would add its tokenizer to every program.
	s := scanner{b: body}
	s.space()
	if !s.next('{') {
		return nil
	}
	s.space()
	if s.next('}') {
		return nil
	}
	var seen []string
	for {
		s.space()
		start := s.i
		if !s.anyString() {
			return nil // the decoder reports syntax
		}
		key := string(body[start+1 : s.i-1])
		if bytes.IndexByte(body[start:s.i], '\\') >= 0 && json.Unmarshal(body[start:s.i], &key) != nil {
			return nil
		}
		for _, n := range names {
			if !strings.EqualFold(key, n) {
				continue
			}
			if key != n {
				return errs.Errorf("member %s is not %q: member names are case-sensitive", strconv.QuoteToASCII(scrub.Truncate(key, 64)), n)
			}
			if slices.Contains(seen, n) {
				return errs.Errorf("member %q appears more than once", n)
			}
			seen = append(seen, n)
		}
		s.space()
		if !s.next(':') {
			return nil
		}
		s.space()
		if !s.value(1) {
			return nil
		}
		s.space()
		if !s.next(',') {
			return nil // the end of the object, or the decoder reports syntax
		}
	}
}

// DecodeJSON is decodeJSON for other packages of the module.
func DecodeJSON(body []byte, v any, names ...string) error { return decodeJSON(body, v, names...) }

// clean makes a server-provided string safe to put in an error message or
// to show; see scrub.Clean.
func clean(s string, max int) string { return scrub.Clean(s, max) }

// Quote renders a server-provided value for an error message: quoted Go
// style (control and format characters escaped) when it is at most max
// bytes long, else only its length. A longer
// value is not cut, since its start could be part of a secret that
// scrubbing would no longer recognize.
func Quote(s string, max int) string {
	if len(s) <= max {
		return strconv.Quote(s) // control and format characters escaped
	}
	return fmt.Sprintf("(%d bytes)", len(s))
}

// ParseRetryAfter reads a Retry-After header: delay seconds (digits only) or
// an HTTP date, capped at a day. It returns 0 for a missing, invalid or past
// value.
func ParseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if h[0] >= '0' && h[0] <= '9' {
		// delay-seconds is 1*DIGIT (RFC 9110 section 10.2.3): no sign,
		// no fraction, any length, so a long one saturates at a day.
		var n int64
		for i := 0; i < len(h); i++ {
			c := h[i]
			if c < '0' || c > '9' {
				return 0
			}
			n = min(n*10+int64(c-'0'), 86400)
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, 24*time.Hour)
		}
	}
	return 0
}

// ContentTypeIsJSON reports whether a Content-Type header names JSON. An
// empty header is accepted, since some servers omit it.
func ContentTypeIsJSON(ct string) bool {
	if ct == "" {
		return true
	}
	ct = strings.ToLower(ct)
	return strings.Contains(ct, "json")
}
