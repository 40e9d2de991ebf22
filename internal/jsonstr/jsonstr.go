// Package jsonstr writes JSON strings, the one escaper of the module (the
// boundary's JSON and the environment's logger both use it).
package jsonstr

import "unicode/utf8"

// AppendString appends s to dst as a JSON string. Quotes, backslashes and
// control characters are escaped, U+2028 and U+2029 too (so that a line
// stays one line for JavaScript readers), and invalid UTF-8 is written as
// \ufffd. With html, the text is what json.Marshal writes: <, > and &
// escaped as \u003c, \u003e and \u0026, backspace and form feed as \b and
// \f. Without, it is what log/slog's JSON handler writes: HTML characters
// as they are, control characters other than \n, \r and \t as \u00XX.
func AppendString(dst []byte, s string, html bool) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' && (!html || c != '<' && c != '>' && c != '&') {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c == '\b' && html:
				dst = append(dst, '\\', 'b')
			case c == '\f' && html:
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
