package executable

import (
	"math"
	"strings"

	"github.com/stsgo/sts/internal/scrub"
)

// Redacted replaces token-shaped text in diagnostics.
const Redacted = "[REDACTED]"

func tokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '+' || c == '/' || c == '=' || c == '_' || c == '-' || c == '.' || c == '~'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// runByte returns how many bytes of a token run start at s[i]: a token
// byte, or an escape that stands for one in URL encoding (%2B) or JSON
// (\/, \u002b); 0 when none.
func runByte(s string, i int) int {
	switch c := s[i]; {
	case tokenByte(c):
		return 1
	case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
		return 3
	case c == '\\' && i+1 < len(s) && s[i+1] == '/':
		return 2
	case c == '\\' && i+5 < len(s) && s[i+1] == 'u' && isHex(s[i+2]) && isHex(s[i+3]) && isHex(s[i+4]) && isHex(s[i+5]):
		return 6
	}
	return 0
}

// unescape resolves the escapes runByte accepts, for looking at a run:
// each becomes one byte ('=' for an encoded '=', 'A' for anything else).
func unescape(run string) string {
	if !strings.ContainsAny(run, `%\\`) {
		return run
	}
	b := make([]byte, 0, len(run))
	for i := 0; i < len(run); {
		n := runByte(run, i)
		c := run[i]
		switch {
		case n == 1:
		case n == 2:
			c = '/'
		case strings.EqualFold(run[i:i+n], "%3D") || strings.EqualFold(run[i:i+n], `\\u003d`):
			c = '='
		default:
			c = 'A'
		}
		b = append(b, c)
		i += n
	}
	return string(b)
}

// tokenShaped reports whether a run of token bytes looks like a credential:
// a JWT or JWE (begins with the base64 of `{"`), a long base64-ish run, a
// shorter one that mixes digits with upper- and lower-case letters the way
// random base64 does, or a long one of digits and letters (hexadecimal).
func tokenShaped(run string) bool {
	if len(run) >= 10 && strings.Contains(run, "eyJ") {
		return true
	}
	if len(run) >= 32 {
		return true
	}
	if len(run) < 16 {
		return false
	}
	var digit, upper, lower bool
	for i := 0; i < len(run); i++ {
		c := run[i]
		digit = digit || c >= '0' && c <= '9'
		upper = upper || c >= 'A' && c <= 'Z'
		lower = lower || c >= 'a' && c <= 'z'
	}
	if digit && upper && lower {
		return true
	}
	// 20 or more digits and letters of one case: a hexadecimal or
	// lower-case key, unless it reads as a path.
	return len(run) >= 20 && digit && (upper || lower) && run[0] != '/' && run[0] != '.'
}

// credentialKey reports whether a word names a credential whose value
// follows a colon or an equals sign: token (access_token, X-Auth-Token),
// secret, password, key (api_key, X-Api-Key), authorization, cookie, …
func credentialKey(word string) bool {
	w := strings.ToLower(strings.Trim(word, "-_."))
	if w == "key" {
		return true
	}
	for _, k := range []string{"token", "secret", "password", "passwd", "authorization", "apikey", "_key", "-key",
		"credential", "credentials", "assertion", "cookie", "session", "signature"} {
		if strings.HasSuffix(w, k) {
			return true
		}
	}
	return false
}

// authScheme reports whether a word is an HTTP authentication scheme whose
// credential follows after a space.
func authScheme(word string) bool {
	return strings.EqualFold(word, "bearer") || strings.EqualFold(word, "basic")
}

// What a redacting scan expects next.
const (
	expectNothing = iota
	expectColon   // a credential's name was seen: its value follows ':' or '='
	expectValue   // the next run is a credential
)

// Redact returns s made safe for an error: escape sequences and format
// characters removed, control characters turned into spaces, invalid
// UTF-8 replaced (see scrub.Clean), and credentials replaced by
// [REDACTED]: token-shaped runs (see tokenShaped; a run may hold URL and
// JSON escapes), the value after a credential's name and a colon or an
// equals sign ("token: …", "password=…", `"access_token":"…"`, escaped
// JSON too), and the word after an authentication scheme ("Bearer …",
// "Basic …"). Text written by an executable (its stderr, a failure message)
// goes through it before it reaches an error or a log. It errs on the side
// of redacting: long paths may be hidden too.
func Redact(s string) string {
	s = scrub.Clean(s, math.MaxInt)
	b := make([]byte, 0, len(s))
	expect := expectNothing
	for i := 0; i < len(s); {
		if runByte(s, i) == 0 {
			switch c := s[i]; {
			case c == ':' || c == '=':
				if expect == expectColon {
					expect = expectValue
				}
			case (c == '"' || c == '\'') && expect == expectValue:
				// A quoted value: all of it goes, up to its closing quote.
				if end := closingQuote(s, i); end > i+1 {
					b = append(append(b, c), Redacted...)
					i, expect = end, expectNothing
					continue
				}
				expect = expectNothing // an empty value
			case c == ' ' || c == '\t' || c == '"' || c == '\'' || c == '\\' || c == '`':
			default:
				expect = expectNothing
			}
			b = append(b, s[i])
			i++
			continue
		}
		j := i
		for j < len(s) {
			n := runByte(s, j)
			if n == 0 {
				break
			}
			j += n
		}
		run := s[i:j]
		i = j
		var value bool
		b, expect, value = redactRun(b, run, expect)
		if value {
			// An unquoted credential value runs to a space or a
			// delimiter, whatever it holds ("p@ss!" is one).
			for i < len(s) && !strings.ContainsRune(" \t,;&\"'`()[]{}<>\\", rune(s[i])) {
				i++
			}
		}
	}
	return string(b)
}

// closingQuote returns the offset of the quote that closes the one at
// s[i] (escaped as \" if that one was), or len(s) if none does.
func closingQuote(s string, i int) int {
	q := s[i : i+1]
	if i > 0 && s[i-1] == '\\' {
		q = `\` + q // JSON in a JSON string: closed by the escaped quote
	}
	for j := i + 1; j < len(s); j++ {
		if strings.HasPrefix(s[j:], q) && (len(q) == 2 || s[j-1] != '\\') {
			return j
		}
	}
	return len(s)
}

// redactRun appends run to b, redacted as needed, and returns b, what is
// expected after the run, and whether it redacted a credential's value
// (which may go on past the run).
func redactRun(b []byte, run string, expect int) ([]byte, int, bool) {
	plain := unescape(run)
	switch {
	case authScheme(plain):
		return append(b, run...), expectValue, false
	case expect == expectValue && credentialKey(plain):
		// "token: token: …": the value names another credential.
		return append(b, Redacted...), expectColon, false
	case expect == expectValue:
		return append(b, Redacted...), expectNothing, true
	}
	// name=value in one run: the value of a credential goes.
	if k := strings.IndexByte(plain, '='); k > 0 && credentialKey(plain[:k]) {
		raw := rawIndex(run, k)
		rest := run[raw:]
		sep := len(rest) - len(strings.TrimLeft(rest, "="))
		if strings.HasPrefix(strings.ToUpper(rest), "%3D") {
			sep = 3
		}
		b = append(b, run[:raw+sep]...)
		value := rest[sep:]
		switch {
		case value == "":
			return b, expectValue, false
		case authScheme(unescape(value)):
			return append(b, value...), expectValue, false
		}
		return append(b, Redacted...), expectNothing, true
	}
	if tokenShaped(plain) {
		return append(b, Redacted...), expectNothing, false
	}
	b = append(b, run...)
	if credentialKey(plain) {
		return b, expectColon, false
	}
	return b, expectNothing, false
}

// rawIndex returns the offset in run of the byte at offset k of
// unescape(run).
func rawIndex(run string, k int) int {
	i := 0
	for ; k > 0 && i < len(run); k-- {
		i += runByte(run, i)
	}
	return i
}
