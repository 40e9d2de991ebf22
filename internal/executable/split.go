package executable

import (
	"errors"
	"strings"
)

// SplitCommand splits a command line from a configuration file into an argv,
// the way a POSIX shell splits words, but without any expansion, globbing,
// redirection or variable substitution: the result is run directly, never
// through a shell.
//
// Words are separated by unquoted spaces, tabs, carriage returns and
// newlines. Inside single quotes every character is literal. Inside double
// quotes a backslash escapes only '"' and '\\' (so "C:\Program Files\x" keeps
// its backslashes); any other backslash is literal. Outside quotes a
// backslash makes the next character literal. Quotes may appear inside a word
// ("/opt/my tools"/bin and /opt/'my tools'/bin are the same word), and an
// empty pair of quotes, single or double, is an empty argument.
//
// It returns an error for an empty command, an unbalanced quote, a trailing
// backslash or a NUL byte. The error never quotes the input.
func SplitCommand(s string) ([]string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, errors.New("executable: command contains a NUL byte")
	}
	const (
		plain = iota
		single
		double
	)
	var (
		args  []string
		word  strings.Builder
		inArg bool // a word has started (possibly empty, from '' or "")
		state = plain
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch state {
		case single:
			if c == '\'' {
				state = plain
			} else {
				word.WriteByte(c)
			}
		case double:
			switch c {
			case '"':
				state = plain
			case '\\':
				if i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
					word.WriteByte(s[i])
				} else {
					word.WriteByte(c)
				}
			default:
				word.WriteByte(c)
			}
		default:
			switch c {
			case ' ', '\t', '\n', '\r':
				if inArg {
					args = append(args, word.String())
					word.Reset()
					inArg = false
				}
			case '\'':
				state, inArg = single, true
			case '"':
				state, inArg = double, true
			case '\\':
				if i+1 >= len(s) {
					return nil, errors.New("executable: command ends with a lone backslash")
				}
				i++
				word.WriteByte(s[i])
				inArg = true
			default:
				word.WriteByte(c)
				inArg = true
			}
		}
	}
	switch state {
	case single:
		return nil, errors.New("executable: command has an unterminated single quote")
	case double:
		return nil, errors.New("executable: command has an unterminated double quote")
	}
	if inArg {
		args = append(args, word.String())
	}
	if len(args) == 0 {
		return nil, errors.New("executable: command is empty")
	}
	if args[0] == "" {
		return nil, errors.New("executable: command's program name is empty")
	}
	return args, nil
}

// QuoteArg quotes one argument so that SplitCommand reads it back unchanged.
// It is the inverse used by tests and by tools that write configurations.
func QuoteArg(a string) string {
	if a == "" {
		return "''"
	}
	if !strings.ContainsAny(a, " \t\r\n'\"\\") {
		return a
	}
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}
