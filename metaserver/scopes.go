package metaserver

import (
	"errors"
	"slices"
	"strings"
)

// Limits on the ?scopes= parameter.
const (
	maxScopesParam = 4096 // bytes
	maxScopes      = 32
	maxScopeLen    = 512
)

// parseScopes reads the value of ?scopes=: scopes separated by commas (what
// the client libraries send) or spaces, empty items skipped. It returns them
// sorted, without duplicates. An error is fit for a 400 answer.
func parseScopes(v string) ([]string, error) {
	if len(v) > maxScopesParam {
		return nil, errors.New("the scopes parameter is longer than 4096 bytes")
	}
	var out []string
	for item := range strings.FieldsFuncSeq(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		if reason := checkScope(item); reason != "" {
			return nil, errors.New("a scope " + reason)
		}
		if len(out) == maxScopes {
			return nil, errors.New("more than 32 scopes")
		}
		out = append(out, item)
	}
	return normalizeScopes(out), nil
}

// checkScope reports what is wrong with one scope, or "". A scope is
// RFC 6749's scope-token: printable ASCII without space, '"' or '\'.
func checkScope(sc string) string {
	if sc == "" {
		return "must not be empty"
	}
	if len(sc) > maxScopeLen {
		return "is longer than 512 bytes"
	}
	for i := 0; i < len(sc); i++ {
		c := sc[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' || c == ',' {
			return "must be printable ASCII without space, comma, quote or backslash"
		}
	}
	return ""
}

// normalizeScopes returns a sorted copy of scopes without duplicates.
func normalizeScopes(scopes []string) []string {
	out := slices.Clone(scopes)
	slices.Sort(out)
	return slices.Compact(out)
}
