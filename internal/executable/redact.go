package executable

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Redacted replaces token-shaped text in diagnostics.
const Redacted = "[REDACTED]"

func tokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '+' || c == '/' || c == '=' || c == '_' || c == '-' || c == '.' || c == '~'
}

// tokenShaped reports whether a run of token bytes looks like a credential:
// a JWT or JWE (begins with the base64 of `{"`), a long base64-ish run, or a
// shorter one that mixes digits with upper- and lower-case letters the way
// random base64 does.
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
	return digit && upper && lower
}

// Redact returns s with token-shaped runs replaced by [REDACTED], control
// characters replaced by spaces and invalid UTF-8 replaced, so that text
// written by an executable (its stderr, a failure message) can go into an
// error without leaking a credential or corrupting a log line. It errs on the
// side of redacting: long paths may be hidden too.
func Redact(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		if tokenByte(s[i]) {
			j := i
			for j < len(s) && tokenByte(s[j]) {
				j++
			}
			if tokenShaped(s[i:j]) {
				b.WriteString(Redacted)
			} else {
				b.WriteString(s[i:j])
			}
			i = j
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError && n == 1 {
			b.WriteByte(' ')
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
