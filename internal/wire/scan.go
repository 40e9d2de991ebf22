package wire

// A token answer is read by a small scanner instead of encoding/json, whose
// reflection and member checks (see CheckMembers) cost more than the rest
// of the answer's handling (microseconds and dozens of allocations for a
// typical STS answer, where the scanner makes two). It reads the answers
// servers send: a JSON object in which each field's name appears at most
// once, spelled exactly (any other key's value is checked and skipped),
// with string values of printable ASCII without escapes, or null. Anything
// else, valid or not, is left to the general decoder (see
// decodeTokenResponseJSON), which then decides; FuzzScanTokenResponse
// checks that both read every answer the scanner accepts alike.

// maxDepth is encoding/json's limit on nesting; a deeper value is left to
// it (and refused there).
const maxDepth = 10000

// scanTokenResponse reads body into r and the raw expires_in value. It
// reports false, having perhaps set some fields, for a body it leaves to
// encoding/json.
func scanTokenResponse(body []byte, r *TokenResponse, expiresIn *[]byte) bool {
	s := scanner{b: body}
	s.space()
	if !s.next('{') {
		return false
	}
	s.space()
	if s.next('}') {
		return s.end()
	}
	var seen uint
	for {
		key, ok := s.plainString()
		if !ok {
			return false
		}
		s.space()
		if !s.next(':') {
			return false
		}
		s.space()
		if i := fieldIndex(key); i >= 0 {
			if seen&(1<<i) != 0 {
				return false // a duplicate, which the general decoder refuses
			}
			seen |= 1 << i
		}
		var field *string
		switch string(key) { // no allocation: a switch on a converted slice
		case "access_token":
			field = &r.AccessToken
		case "issued_token_type":
			field = &r.IssuedTokenType
		case "token_type":
			field = &r.TokenType
		case "refresh_token":
			field = &r.RefreshToken
		case "id_token":
			field = &r.IDToken
		case "scope":
			field = &r.Scope
		case "access_boundary_session_key":
			field = &r.SessionKey
		case "expires_in":
			start := s.i
			if !s.value(0) {
				return false
			}
			*expiresIn = body[start:s.i:s.i]
		default:
			if foldsToField(key) {
				return false // a case variant, which the general decoder refuses
			}
			if !s.value(0) {
				return false
			}
		}
		if field != nil {
			switch {
			case s.literal("null"):
				// encoding/json leaves the field as it was
			default:
				v, ok := s.plainString()
				if !ok {
					return false
				}
				*field = intern(v)
			}
		}
		s.space()
		if s.next('}') {
			return s.end()
		}
		if !s.next(',') {
			return false
		}
		s.space()
	}
}

// tokenFields are the keys scanTokenResponse reads.
var tokenFields = [...]string{"access_token", "issued_token_type", "token_type", "expires_in",
	"refresh_token", "id_token", "scope", "access_boundary_session_key"}

// fieldIndex returns the index of key in tokenFields, or -1.
func fieldIndex(key []byte) int {
	for i, f := range tokenFields {
		if string(key) == f {
			return i
		}
	}
	return -1
}

// foldsToField reports whether key equals a field's name but for letter
// case.
func foldsToField(key []byte) bool {
	for _, f := range tokenFields {
		if len(f) == len(key) && equalFoldASCII(f, key) {
			return true
		}
	}
	return false
}

func equalFoldASCII(a string, b []byte) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// interned are values that answers repeat: returned without a copy.
var interned = [...]string{"Bearer", "N_A",
	"urn:ietf:params:oauth:token-type:access_token",
	"urn:ietf:params:oauth:token-type:access_boundary_intermediary_token",
	"urn:ietf:params:oauth:token-type:id_token",
	"urn:ietf:params:oauth:token-type:jwt"}

// intern returns v as a string, shared when it is a common value.
func intern(v []byte) string {
	for _, s := range interned {
		if string(v) == s {
			return s
		}
	}
	return string(v)
}

// scanner reads JSON text from b at i.
type scanner struct {
	b []byte
	i int
}

// space skips JSON white space.
func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next consumes c if it comes next.
func (s *scanner) next(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (s *scanner) end() bool {
	s.space()
	return s.i == len(s.b)
}

// literal consumes lit if it comes next.
func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// plainString consumes a JSON string of printable ASCII without escapes
// and returns its content; it reports false for anything else (which may
// be a valid string that encoding/json would decode).
func (s *scanner) plainString() ([]byte, bool) {
	if !s.next('"') {
		return nil, false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c < 0x20 || c == '\\' || c >= 0x7f:
			return nil, false
		}
		s.i++
	}
	return nil, false
}

// value consumes any valid JSON value nested depth deep, reporting false
// for an invalid one or one nested past maxDepth.
func (s *scanner) value(depth int) bool {
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '{':
		if depth >= maxDepth {
			return false
		}
		s.i++
		s.space()
		if s.next('}') {
			return true
		}
		for {
			s.space()
			if !s.anyString() {
				return false
			}
			s.space()
			if !s.next(':') {
				return false
			}
			s.space()
			if !s.value(depth + 1) {
				return false
			}
			s.space()
			if s.next('}') {
				return true
			}
			if !s.next(',') {
				return false
			}
		}
	case c == '[':
		if depth >= maxDepth {
			return false
		}
		s.i++
		s.space()
		if s.next(']') {
			return true
		}
		for {
			s.space()
			if !s.value(depth + 1) {
				return false
			}
			s.space()
			if s.next(']') {
				return true
			}
			if !s.next(',') {
				return false
			}
		}
	case c == '"':
		return s.anyString()
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return false
}

// anyString consumes a valid JSON string, escapes and all.
func (s *scanner) anyString() bool {
	if !s.next('"') {
		return false
	}
	for s.i < len(s.b) {
		c := s.b[s.i]
		s.i++
		switch {
		case c == '"':
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if s.i >= len(s.b) {
				return false
			}
			e := s.b[s.i]
			s.i++
			switch e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for range 4 {
					if s.i >= len(s.b) || !isHex(s.b[s.i]) {
						return false
					}
					s.i++
				}
			default:
				return false
			}
		}
	}
	return false
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// number consumes a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	s.next('-')
	switch {
	case s.next('0'):
	case s.i < len(s.b) && '1' <= s.b[s.i] && s.b[s.i] <= '9':
		s.digits()
	default:
		return false
	}
	if s.next('.') && !s.digits() {
		return false
	}
	if s.next('e') || s.next('E') {
		if !s.next('+') {
			s.next('-')
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

// digits consumes one or more decimal digits.
func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}
