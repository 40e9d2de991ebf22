package scrub

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

const secret = "SUBJ/secret+subject=token~7f3a9"

// spellings returns the ways a server (or a second round of encoding) can
// write s: JSON escapes of one character, of all, or of a random mix,
// percent-encoding in either case, encoded twice, HTML character
// references, with invisible or control characters slipped in, in another
// case.
func spellings(s string) map[string]string {
	allU := func(s string) string {
		var b strings.Builder
		for _, r := range s {
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		return b.String()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	mixed := func(s string) string {
		var b strings.Builder
		for _, r := range s {
			switch rng.IntN(5) {
			case 0:
				fmt.Fprintf(&b, `\u%04X`, r)
			case 1:
				fmt.Fprintf(&b, `%%%02x`, r)
			case 2:
				fmt.Fprintf(&b, `&#%d;`, r)
			case 3:
				if r == '/' {
					b.WriteString(`\/`)
					continue
				}
				fallthrough
			default:
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	insert := func(s, x string) string { return s[:4] + x + s[4:12] + x + s[12:] }
	return map[string]string{
		"literal":               s,
		`JSON \/`:               strings.ReplaceAll(s, "/", `\/`),
		`JSON \u002b`:           strings.ReplaceAll(s, "+", `\u002b`),
		`JSON \u002B`:           strings.ReplaceAll(s, "+", `\u002B`),
		"JSON every character":  allU(s),
		"mixed escapes":         mixed(s),
		"mixed escapes again":   mixed(s),
		"percent upper":         url.QueryEscape(s),
		"percent lower":         strings.ToLower(url.QueryEscape(s)),
		"percent path":          url.PathEscape(s),
		"percent twice":         url.QueryEscape(url.QueryEscape(s)),
		"JSON twice":            strings.ReplaceAll(strings.ReplaceAll(s, "/", `\\\/`), "+", `\\u002b`),
		"JSON then percent":     url.QueryEscape(strings.ReplaceAll(s, "+", `\u002b`)),
		"HTML decimal":          strings.ReplaceAll(s, "+", "&#43;"),
		"HTML hex":              strings.ReplaceAll(s, "/", "&#x2F;"),
		"Go hex escape":         strings.ReplaceAll(s, "+", `\x2b`),
		"zero-width space":      insert(s, "\u200b"),
		"zero-width escaped":    insert(s, `\u200b`),
		"bidi override":         insert(s, "\u202e"),
		"bidi isolate":          insert(s, "\u2066"),
		"soft hyphen":           insert(s, "\u00ad"),
		"escape sequence":       insert(s, "\x1b[0m"),
		"escape sequence JSON":  insert(s, `\u001b[0m`),
		"NUL":                   insert(s, "\x00"),
		"C1 control":            insert(s, "\u0085"),
		"carriage return":       insert(s, "\r"),
		"upper case":            strings.ToUpper(s),
		"surrogate pair around": "\\ud83d\\ude00" + s,
	}
}

// TestSecretsEverySpelling: every spelling of a secret in server text is
// replaced, and the text around it stays.
func TestSecretsEverySpelling(t *testing.T) {
	for name, sp := range spellings(secret) {
		text := "token " + sp + " was rejected"
		got := Secrets(text, []string{"short", secret})
		if !strings.HasPrefix(got, "token ") || !strings.HasSuffix(got, " was rejected") || !strings.Contains(got, Redacted) {
			t.Errorf("%s: %q -> %q", name, text, got)
		}
		if strings.Contains(got, sp) || strings.Contains(strings.ToLower(got), "secret+subject") || strings.Contains(got, "7f3a9") {
			t.Errorf("%s: %q -> %q still holds the secret", name, text, got)
		}
	}
	t.Logf("scrubbing corpus: %d spellings", len(spellings(secret)))
}

func TestSecretsKeepsOtherText(t *testing.T) {
	for _, tc := range []struct {
		text    string
		secrets []string
		want    string
	}{
		{"nothing here", []string{secret}, "nothing here"},
		{"short x and abc", []string{"x", "abc"}, "short x and abc"},
		{"", []string{secret}, ""},
		{"a " + secret + " b " + secret, []string{secret}, "a REDACTED b REDACTED"},
		{"overlap abcdefghijkl", []string{"abcdefgh", "efghijkl"}, "overlap REDACTED"},
		{`%zz \u12 &#; &#xZZ; \`, []string{secret}, `%zz \u12 &#; &#xZZ; \`},
		{"caf\xc3\xa9 \xff " + secret, []string{secret}, "caf\xc3\xa9 \xff REDACTED"},
	} {
		if got := Secrets(tc.text, tc.secrets); got != tc.want {
			t.Errorf("Secrets(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestRequestSecrets(t *testing.T) {
	hdr := map[string][]string{"Authorization": {"Basic aWQlM0F4OnMrZQ=="}} // id:x, "s e"
	got := RequestSecrets(hdr, []string{"subject"})
	want := []string{"subject", "Basic aWQlM0F4OnMrZQ==", "aWQlM0F4OnMrZQ==", "id%3Ax", "s+e", "s e"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("RequestSecrets = %q, want %q", got, want)
	}
	bearer := RequestSecrets(map[string][]string{"Authorization": {"Bearer tok-123456"}}, nil)
	if fmt.Sprint(bearer) != fmt.Sprint([]string{"Bearer tok-123456", "tok-123456"}) {
		t.Errorf("bearer: %q", bearer)
	}
	if got := RequestSecrets(nil, []string{"a"}); len(got) != 1 {
		t.Errorf("no header: %q", got)
	}
}

// TestClean: what a terminal or a log reader acts on is gone from server
// text: escape sequences (CSI, OSC, C1 CSI), control characters (C0, DEL,
// C1), invisible and bidirectional format characters, line separators,
// invalid UTF-8; cutting keeps characters whole.
func TestClean(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text", "plain text"},
		{"red \x1b[31mALERT\x1b[0m", "red ALERT"},
		{"clear \x1b[2J\x1b[Hscreen", "clear screen"},
		{"title \x1b]0;pwned\x07after", "title after"},
		{"title \x1b]0;pwned\x1b\\after", "title after"},
		{"link \x1b]8;;http://evil\x1b\\text\x1b]8;;\x1b\\", "link text"},
		{"c1 csi \u009b31mred", "c1 csi red"},
		{"esc then letter \x1bcreset", "esc then letter reset"},
		{"lone esc at end \x1b", "lone esc at end"},
		{"line\nbreak\r\ttab", "line break  tab"},
		{"nul\x00del\x7fnel\u0085", "nul del nel"},
		{"bidi \u202eevil\u202c \u2066iso\u2069", "bidi evil iso"},
		{"zero\u200bwidth\u200d joiner\ufeff", "zerowidth joiner"},
		{"soft\u00adhyphen", "softhyphen"},
		{"line\u2028sep\u2029para", "line sep para"},
		{"bad \xff utf8", "bad \ufffd utf8"},
		{"  trimmed  ", "trimmed"},
	} {
		if got := Clean(tc.in, 100); got != tc.want {
			t.Errorf("Clean(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := Clean(strings.Repeat("é", 10), 5); got != "éé…" || !utf8.ValidString(got) {
		t.Errorf("cut = %q", got)
	}
}

func FuzzSecrets(f *testing.F) {
	for _, sp := range spellings(secret) {
		f.Add("x " + sp + " y")
	}
	f.Add("\x1b]0;\\u00")
	f.Fuzz(func(t *testing.T, text string) {
		got := Secrets(text, []string{secret, "another-secret-value"})
		if strings.Contains(got, secret) {
			t.Fatalf("secret left in %q", got)
		}
		if c := Clean(got, 512); len(c) > 512+len("…") || !utf8.ValidString(c) {
			t.Fatalf("Clean gave %d bytes, valid %t", len(c), utf8.ValidString(c))
		}
	})
}
