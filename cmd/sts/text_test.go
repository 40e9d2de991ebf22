package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestPreviewNeverShowsTheWholeSecret: the demo's token previews show at
// most a quarter of a secret (and 12 characters), with its length.
func TestPreviewNeverShowsTheWholeSecret(t *testing.T) {
	if got := preview(""); got != `""` {
		t.Errorf("preview of nothing = %s", got)
	}
	for n := 1; n <= 200; n++ {
		secret := strings.Repeat("s", n-1) + "X" // the last character never shows
		got := preview(secret)
		shown, _, ok := strings.Cut(got, "…")
		if !ok || len(shown) > 12 || len(shown) > n/4 || strings.Contains(got, "X") {
			t.Errorf("preview of %d characters = %q", n, got)
		}
		if !strings.HasSuffix(got, fmt.Sprintf("(%d chars)", n)) {
			t.Errorf("preview of %d characters does not say its length: %q", n, got)
		}
	}
}

// TestCompletionQuoting: words go into completion scripts single-quoted,
// with their own single quotes closed, escaped and reopened; zsh
// descriptions escape what _arguments reads inside brackets.
func TestCompletionQuoting(t *testing.T) {
	for in, want := range map[string]string{
		"":         `''`,
		"token":    `'token'`,
		"it's":     `'it'\''s'`,
		`$(x) "y"`: `'$(x) "y"'`,
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
	if got, want := zshEscape("a [b]: c"), `a \[b\]\: c`; got != want {
		t.Errorf("zshEscape = %s, want %s", got, want)
	}
}
