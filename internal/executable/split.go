package executable

import (
	"strings"

	"github.com/stsgo/sts/internal/errs"
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
		return nil, errs.New("executable: command contains a NUL byte")
	}
	var (
		args  []string
		word  []byte
		inArg bool // a word has started (possibly empty, from '' or "")
		quote byte // the open quote, 0 outside quotes
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '\'' && c == '\'', quote == '"' && c == '"':
			quote = 0
			continue
		case quote == '\'':
		case quote == '"' || c == '\\':
			// A backslash escapes the next character outside quotes, and
			// only '"' and '\\' inside double quotes.
			if c == '\\' && i+1 < len(s) && (quote == 0 || s[i+1] == '"' || s[i+1] == '\\') {
				i++
				c = s[i]
			} else if quote == 0 {
				return nil, errs.New("executable: command ends with a lone backslash")
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inArg {
				args = append(args, string(word))
				word, inArg = word[:0], false
			}
			continue
		case c == '\'' || c == '"':
			quote, inArg = c, true
			continue
		}
		word = append(word, c)
		inArg = inArg || quote == 0
	}
	switch quote {
	case '\'':
		return nil, errs.New("executable: command has an unterminated single quote")
	case '"':
		return nil, errs.New("executable: command has an unterminated double quote")
	}
	if inArg {
		args = append(args, string(word))
	}
	if len(args) == 0 {
		return nil, errs.New("executable: command is empty")
	}
	if args[0] == "" {
		return nil, errs.New("executable: command's program name is empty")
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
