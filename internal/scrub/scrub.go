// Package scrub makes server text safe to show: Secrets removes every
// spelling of the request's secrets from it, Clean removes what a terminal
// or a log reader would act on (control characters, escape sequences,
// invisible and bidirectional format characters). Every server text the
// module puts in an error or a log record goes through both, secrets first.
package scrub

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MinSecret is the shortest secret scrubbed from server text: shorter ones
// would match JSON syntax and field names, and cannot be real tokens.
const MinSecret = 8

// Redacted replaces a secret in server text.
const Redacted = "REDACTED"

// Secrets returns text with every spelling of each secret (of at least
// MinSecret bytes) replaced by Redacted. A server that echoes a request
// may escape what it quotes, and text may be decoded once more on its way
// to a reader (a JSON string inside a JSON string, a form inside a
// message); so the secrets are looked for in text as it is and in text
// decoded up to three times, where decoding resolves JSON and Go escapes
// (\/, \u002b, \x41, mixed with plain characters), percent-encoding (either
// case), HTML character references, and drops control characters, escape
// sequences and invisible format characters (zero-width and bidirectional
// ones) that a server could slip into a secret. ASCII letters match in
// either case. What is found is replaced in text where it stands, escapes
// and all; the rest of text is kept as it is.
func Secrets(text string, secrets []string) string {
	var low [][]byte
	for _, s := range secrets {
		if len(s) >= MinSecret {
			low = append(low, lowerASCII([]byte(s)))
		}
	}
	if len(low) == 0 || text == "" {
		return text
	}
	v := identityView(text)
	// ends[i] is the furthest end of a span to redact that starts at
	// offset i of text, 0 for none (a span is never empty): made at the
	// first match, it orders the spans without a sort.
	var ends []int32
	for level := 0; ; level++ {
		lv := lowerASCII(bytes.Clone(v.b))
		for _, sec := range low {
			for off := 0; ; {
				i := bytes.Index(lv[off:], sec)
				if i < 0 {
					break
				}
				i += off
				if ends == nil {
					ends = make([]int32, len(text))
				}
				a := v.start[i]
				ends[a] = max(ends[a], v.end[i+len(sec)-1])
				off = i + 1
			}
		}
		if level == 3 {
			break
		}
		next := v.decode()
		if bytes.Equal(next.b, v.b) {
			break
		}
		v = next
	}
	if ends == nil {
		return text
	}
	// Spans that overlap or touch are redacted as one.
	out := make([]byte, 0, len(text))
	last := 0
	for i := 0; i < len(ends); i++ {
		b := int(ends[i])
		if b == 0 {
			continue
		}
		j := i + 1
		for ; j < len(ends) && j <= b; j++ {
			b = max(b, int(ends[j]))
		}
		out = append(append(out, text[last:i]...), Redacted...)
		last, i = b, j-1
	}
	return string(append(out, text[last:]...))
}

// RequestSecrets returns secrets with the credentials hdr carries added:
// an Authorization header's value, its bearer token, and a Basic header's
// decoded user and password (form-decoded too, as BasicAuth encodes them).
func RequestSecrets(hdr http.Header, secrets []string) []string {
	auth := hdr.Get("Authorization")
	if auth == "" {
		return secrets
	}
	out := append(slices.Clip(secrets), auth)
	scheme, cred, _ := strings.Cut(auth, " ")
	out = append(out, cred)
	if strings.EqualFold(scheme, "Basic") {
		if raw, err := base64.StdEncoding.DecodeString(cred); err == nil {
			id, pw, _ := strings.Cut(string(raw), ":")
			out = append(out, id, pw)
			if u, err := url.QueryUnescape(pw); err == nil {
				out = append(out, u)
			}
		}
	}
	return out
}

// view is a decoding of a text: its bytes b, and for each of them the span
// [start, end) of the original text it comes from.
type view struct {
	b          []byte
	start, end []int32
}

func identityView(s string) view {
	v := view{b: []byte(s), start: make([]int32, len(s)), end: make([]int32, len(s))}
	for i := range s {
		v.start[i], v.end[i] = int32(i), int32(i+1)
	}
	return v
}

// decode decodes v once; see Secrets.
func (v view) decode() view {
	out := view{b: make([]byte, 0, len(v.b))}
	emit := func(p []byte, from, to int) { out.add(p, v.start[from], v.end[to-1]) }
	var buf [utf8.UTFMax]byte
	b := v.b
	for i := 0; i < len(b); {
		if n, r, ok := escapeAt(b, i); ok {
			if r == 0x1b || r == 0x9b {
				// An escaped escape: kept, so that the next decoding
				// drops its sequence whole.
				emit(buf[:utf8.EncodeRune(buf[:], r)], i, i+n)
			} else if r >= 0 && !invisible(r) {
				if r < utf8.RuneSelf || r > unicode.MaxRune {
					emit([]byte{byte(r)}, i, i+n) // a byte (\xHH, %HH) or ASCII
				} else {
					emit(buf[:utf8.EncodeRune(buf[:], r)], i, i+n)
				}
			}
			i += n
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			emit(b[i:i+1], i, i+1)
		} else if !invisible(r) {
			emit(b[i:i+n], i, i+n)
		}
		i += n
	}
	return out
}

// add appends p, which comes from the span [start, end) of the original
// text. (Not inlined: decode calls it from five places.)
//
//go:noinline
func (v *view) add(p []byte, start, end int32) {
	for range p {
		v.start = append(v.start, start)
		v.end = append(v.end, end)
	}
	v.b = append(v.b, p...)
}

// escapeAt reports whether an escape, an escape sequence or a character
// reference starts at b[i]: it returns its length and what it stands for
// (-1 for nothing; a value of 0x80 to 0xff from \xHH or %HH is a byte,
// flagged by adding unicode.MaxRune+1).
func escapeAt(b []byte, i int) (n int, r rune, ok bool) {
	asByte := func(v rune) rune {
		if v >= utf8.RuneSelf {
			return v + unicode.MaxRune + 1
		}
		return v
	}
	switch c := b[i]; c {
	case '\\':
		if i+1 >= len(b) {
			return 0, 0, false
		}
		switch e := b[i+1]; e {
		case 'u':
			v, ok := hexAt(b, i+2, 4)
			if !ok {
				return 0, 0, false
			}
			if v >= 0xd800 && v < 0xdc00 && i+7 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
				if lo, ok := hexAt(b, i+8, 4); ok && lo >= 0xdc00 && lo < 0xe000 {
					return 12, (v-0xd800)<<10 | (lo - 0xdc00) + 0x10000, true
				}
			}
			if v >= 0xd800 && v < 0xe000 {
				return 6, utf8.RuneError, true
			}
			return 6, v, true
		case 'U':
			v, ok := hexAt(b, i+2, 8)
			if !ok || v > unicode.MaxRune || v < 0 {
				return 0, 0, false
			}
			return 10, v, true
		case 'x':
			v, ok := hexAt(b, i+2, 2)
			if !ok {
				return 0, 0, false
			}
			return 4, asByte(v), true
		case '/', '\\', '"', '\'':
			return 2, rune(e), true
		case 'b', 'f', 'n', 'r', 't', 'v', 'a', '0':
			return 2, -1, true
		}
	case '%':
		if v, ok := hexAt(b, i+1, 2); ok {
			return 3, asByte(v), true
		}
	case '&':
		j := bytes.IndexByte(b[i:min(len(b), i+12)], ';')
		if j < 0 {
			return 0, 0, false
		}
		ref := string(b[i+1 : i+j])
		switch ref {
		case "amp":
			return j + 1, '&', true
		case "lt":
			return j + 1, '<', true
		case "gt":
			return j + 1, '>', true
		case "quot":
			return j + 1, '"', true
		case "apos":
			return j + 1, '\'', true
		}
		if len(ref) < 2 || ref[0] != '#' {
			return 0, 0, false
		}
		var v rune
		digits := ref[1:]
		base := rune(10)
		if digits[0] == 'x' || digits[0] == 'X' {
			base, digits = 16, digits[1:]
		}
		if digits == "" {
			return 0, 0, false
		}
		for k := 0; k < len(digits); k++ {
			d, ok := unhex(digits[k])
			if !ok || d >= base || v > unicode.MaxRune {
				return 0, 0, false
			}
			v = v*base + d
		}
		if v > unicode.MaxRune {
			return 0, 0, false
		}
		return j + 1, v, true
	case 0x1b: // ESC: a control sequence, an operating system command, or a pair
		return escSequence(b, i+1), -1, true
	case 0xc2:
		if i+1 < len(b) && b[i+1] == 0x9b { // U+009B, the one-character CSI
			return 2 + csiLen(b, i+2), -1, true
		}
	}
	return 0, 0, false
}

// escSequence returns the length of the escape sequence whose ESC precedes
// b[j] (the ESC included).
func escSequence(b []byte, j int) int {
	if j >= len(b) {
		return 1
	}
	switch b[j] {
	case '[':
		return 2 + csiLen(b, j+1)
	case ']', 'P', '_', '^': // a string, ended by BEL or ESC \
		for k := j + 1; k < len(b); k++ {
			if b[k] == 0x07 {
				return k + 1 - (j - 1)
			}
			if b[k] == 0x1b && k+1 < len(b) && b[k+1] == '\\' {
				return k + 2 - (j - 1)
			}
		}
		return len(b) - (j - 1)
	}
	return 2
}

// csiLen returns the length of a control sequence's parameters and final
// byte starting at b[j].
func csiLen(b []byte, j int) int {
	for k := j; k < len(b) && k < j+64; k++ {
		if b[k] >= 0x40 && b[k] <= 0x7e {
			return k + 1 - j
		}
		if b[k] < 0x20 || b[k] > 0x3f {
			return k - j
		}
	}
	return 0
}

// hexAt decodes the k hexadecimal digits at b[j:]. (Not inlined: escapeAt
// calls it from five places.)
//
//go:noinline
func hexAt(b []byte, j, k int) (rune, bool) {
	if j+k > len(b) {
		return 0, false
	}
	var v rune
	for _, c := range b[j : j+k] {
		d, ok := unhex(c)
		if !ok {
			return 0, false
		}
		v = v<<4 | d
	}
	return v, true
}

func unhex(c byte) (rune, bool) {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0'), true
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10), true
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10), true
	}
	return 0, false
}

// invisible reports whether r is a control character (C0, DEL, C1) or a
// format character (zero-width, bidirectional controls, soft hyphen, …).
func invisible(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r < 0xa0) || unicode.Is(unicode.Cf, r)
}

func lowerASCII(b []byte) []byte {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return b
}

// Clean returns server text fit for an error or a log record: escape
// sequences (ESC and C1 CSI ones, operating system commands) and invisible
// format characters (zero-width, bidirectional overrides and isolates, soft
// hyphen, byte order mark) removed, other control characters (C0, DEL, C1,
// line and paragraph separators) turned into spaces, invalid UTF-8 replaced,
// surrounding space trimmed, and the result cut to at most max bytes (on a
// character boundary, with "…" when cut). Call it after Secrets: cutting
// first could leave part of a secret.
func Clean(s string, max int) string {
	b := []byte(s)
	var out strings.Builder
	for i := 0; i < len(b); {
		switch {
		case b[i] == 0x1b:
			i += escSequence(b, i+1)
			continue
		case b[i] == 0xc2 && i+1 < len(b) && b[i+1] == 0x9b:
			i += 2 + csiLen(b, i+2)
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			out.WriteRune(utf8.RuneError)
		case r == 0x2028 || r == 0x2029 || (invisible(r) && !unicode.Is(unicode.Cf, r)):
			out.WriteByte(' ')
		case unicode.Is(unicode.Cf, r):
		default:
			out.Write(b[i : i+n])
		}
		i += n
	}
	return Truncate(strings.TrimSpace(out.String()), max)
}

// Truncate cuts s to at most max bytes on a character boundary, adding "…"
// when it was longer. (Not inlined: it has many callers.)
//
//go:noinline
func Truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max] + "…"
}
