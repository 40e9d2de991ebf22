package check

import (
	"fmt"
	"strings"

	"github.com/stsgo/sts/internal/httpx"
)

// maxSuggestRunes bounds the names Suggest compares: a longer name is no
// typing slip, and the comparison costs the product of both lengths.
const maxSuggestRunes = 64

// Suggest returns the candidate that name is most likely a misspelling of,
// or "" when none is close: the one at the smallest edit distance
// (insertions, deletions, substitutions and swaps of adjacent characters,
// ignoring case), if that distance is at most 1 for names of up to 4
// characters, 2 up to 10 and 3 beyond. Ties go to the earlier candidate. A
// candidate equal to name is not a suggestion.
func Suggest(name string, candidates []string) string {
	a := []rune(strings.ToLower(name))
	if len(a) == 0 || len(a) > maxSuggestRunes {
		return ""
	}
	limit := 3
	switch {
	case len(a) <= 4:
		limit = 1
	case len(a) <= 10:
		limit = 2
	}
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if c == name {
			continue
		}
		b := []rune(strings.ToLower(c))
		if len(b) == 0 || len(b) > maxSuggestRunes || abs(len(a)-len(b)) >= bestDist {
			continue
		}
		if d := editDistance(a, b); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// DidYouMean returns ` (did you mean "CANDIDATE"?)` for Suggest's answer,
// or "" without one.
func DidYouMean(name string, candidates []string) string {
	if s := Suggest(name, candidates); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// MissingKey is the error of a required key that is absent or empty. When
// one of present (keys the caller wrote at the same level that are not
// known ones) is close to key, the reason says so, for example `must not
// be empty; the file has "subject_tokn_type": did you mean
// "subject_token_type"?`.
func MissingKey(field, key string, present []string) *Error {
	for _, p := range present {
		if Suggest(p, []string{key}) == key {
			return Errorf(field, "must not be empty; the file has %q: did you mean %q?", httpx.Truncate(p, 64), key)
		}
	}
	return Errorf(field, "must not be empty")
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// editDistance is the optimal string alignment distance of a and b:
// insertions, deletions, substitutions and transpositions of adjacent runes
// each cost 1.
func editDistance(a, b []rune) int {
	// Three rows: two back, previous and current.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d = min(d, prev2[j-2]+1)
			}
			cur[j] = d
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
