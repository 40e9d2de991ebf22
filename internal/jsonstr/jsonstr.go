// Package jsonstr writes JSON strings, the one escaper of the module (the
// boundary's JSON, the environment's logger and metaserver's answers use it).
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
		c := s[i]
		if c < utf8.RuneSelf && c >= ' ' && c != '"' && c != '\\' && (!html || c != '<' && c != '>' && c != '&') {
			i++
			continue
		}
		// esc[:n] replaces the size bytes at s[i:].
		esc := [6]byte{'\\', 'u', '0', '0'}
		var n, size int
		if c < utf8.RuneSelf {
			n, size = 2, 1
			switch {
			case c == '"' || c == '\\':
				esc[1] = c
			case c == '\n':
				esc[1] = 'n'
			case c == '\r':
				esc[1] = 'r'
			case c == '\t':
				esc[1] = 't'
			case c == '\b' && html:
				esc[1] = 'b'
			case c == '\f' && html:
				esc[1] = 'f'
			default:
				n, esc[4], esc[5] = 6, hex[c>>4], hex[c&0xF]
			}
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				n, esc[2], esc[3], esc[4], esc[5] = 6, 'f', 'f', 'f', 'd'
			case r == '\u2028' || r == '\u2029':
				n, esc[2], esc[4], esc[5] = 6, '2', '2', hex[r&0xF]
			default:
				i += size
				continue
			}
		}
		dst = append(append(dst, s[start:i]...), esc[:n]...)
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
