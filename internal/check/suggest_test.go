package check

import (
	"strings"
	"testing"
	"unicode/utf8"
)

var credentialKeys = []string{"type", "audience", "subject_token_type", "token_url", "token_info_url",
	"service_account_impersonation_url", "credential_source", "quota_project_id", "universe_domain"}

func TestSuggest(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"subject_tokn_type", "subject_token_type"},   // deletion
		{"subject_tokenn_type", "subject_token_type"}, // insertion
		{"subject_tokne_type", "subject_token_type"},  // swap
		{"Subject_Token_Type", "subject_token_type"},  // case only
		{"audeince", "audience"},                      // swap
		{"tokenurl", "token_url"},                     // one deletion
		{"token_info", ""},                            // four edits from both token_url and token_info_url
		{"tpye", "type"},                              // short: one swap
		{"typ", "type"},                               // short: one deletion
		{"ty", ""},                                    // two edits on a short name
		{"audience", ""},                              // itself is no suggestion
		{"credential_sauce", "credential_source"},     // two substitutions
		{"something_else_entirely", ""},               // nothing close
		{"", ""},                                      // empty
		{strings.Repeat("a", 200), ""},                // too long to be a slip
		{"universe_domian", "universe_domain"},        // swap
		{"quota_projekt_id", "quota_project_id"},      // substitution
		{"servce_account_impersonation_url", "service_account_impersonation_url"},
	} {
		if got := Suggest(tc.name, credentialKeys); got != tc.want {
			t.Errorf("Suggest(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"kitten", "sitting", 3}, {"ab", "ba", 1},
		{"ca", "abc", 3}, {"abc", "abc", 0}, {"é", "e", 1}, {"flaw", "lawn", 2},
	} {
		if d := editDistance([]rune(tc.a), []rune(tc.b)); d != tc.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, d, tc.d)
		}
		if d := editDistance([]rune(tc.b), []rune(tc.a)); d != tc.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.b, tc.a, d, tc.d)
		}
	}
}

func TestMissingKey(t *testing.T) {
	err := MissingKey("subject_token_type", "subject_token_type", []string{"extra", "subject_tokn_type"})
	want := `sts: invalid subject_token_type: must not be empty; the file has "subject_tokn_type": did you mean "subject_token_type"?`
	if err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
	if err := MissingKey("audience", "audience", []string{"zzz"}); err.Reason != "must not be empty" {
		t.Errorf("no near miss: %v", err)
	}
	if err := MissingKey("audience", "audience", []string{"audience\x00"}); !strings.Contains(err.Reason, `"audience\x00"`) {
		t.Errorf("control character not escaped: %v", err)
	}
	if got := DidYouMean("tokn_url", credentialKeys); got != ` (did you mean "token_url"?)` {
		t.Errorf("DidYouMean = %q", got)
	}
	if got := DidYouMean("zzzzzzzz", credentialKeys); got != "" {
		t.Errorf("DidYouMean = %q", got)
	}
}

// FuzzSuggest: any name gets a known key or nothing, never a panic, and a
// suggestion is within the documented distance.
func FuzzSuggest(f *testing.F) {
	for _, s := range []string{"subject_tokn_type", "tpye", "", "ÄUDIENCE", "\xff\xfe", strings.Repeat("ab", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := Suggest(name, credentialKeys)
		if got == "" {
			return
		}
		found := false
		for _, k := range credentialKeys {
			found = found || k == got
		}
		n := utf8.RuneCountInString(name)
		if !found || n > maxSuggestRunes || editDistance([]rune(strings.ToLower(name)), []rune(got)) > 3 {
			t.Fatalf("Suggest(%q) = %q", name, got)
		}
	})
}
