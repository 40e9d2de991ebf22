package executable

import (
	"slices"
	"strings"
	"testing"
)

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"/bin/prog", []string{"/bin/prog"}},
		{"  /bin/prog   --a  b\t\tc\nd\r\n", []string{"/bin/prog", "--a", "b", "c", "d"}},
		{"/opt/idp/bin/fetch-assertion --audience gcp --format json", []string{"/opt/idp/bin/fetch-assertion", "--audience", "gcp", "--format", "json"}},
		{`"/opt/my tools/bin/get token" --x`, []string{"/opt/my tools/bin/get token", "--x"}},
		{`'/opt/my tools/bin/get token' --x`, []string{"/opt/my tools/bin/get token", "--x"}},
		{`/opt/my\ tools/bin/prog`, []string{"/opt/my tools/bin/prog"}},
		{`/opt/"my tools"/bin /opt/'my tools'/bin`, []string{"/opt/my tools/bin", "/opt/my tools/bin"}},
		{`prog '' ""`, []string{"prog", "", ""}},
		{`prog 'it'\''s'`, []string{"prog", "it's"}},
		{`prog "say \"hi\" \\ \$x \n"`, []string{"prog", `say "hi" \ \$x \n`}},
		{`prog 'no \escapes "here"'`, []string{"prog", `no \escapes "here"`}},
		{`"C:\Program Files\Tool\tool.exe" /flag`, []string{`C:\Program Files\Tool\tool.exe`, "/flag"}},
		{`prog a\"b a\'b a\\b`, []string{"prog", `a"b`, `a'b`, `a\b`}},
		{`prog $HOME *.json ; rm -rf / | x > y`, []string{"prog", "$HOME", "*.json", ";", "rm", "-rf", "/", "|", "x", ">", "y"}},
		{"prog ünïcode 'ñ x'", []string{"prog", "ünïcode", "ñ x"}},
	}
	for _, tt := range tests {
		got, err := SplitCommand(tt.in)
		if err != nil {
			t.Errorf("SplitCommand(%q): %v", tt.in, err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("SplitCommand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSplitCommandErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty"},
		{" \t\n ", "empty"},
		{`prog 'abc`, "single quote"},
		{`prog "abc`, "double quote"},
		{`prog "abc\"`, "double quote"},
		{`prog abc\`, "backslash"},
		{"prog a\x00b", "NUL"},
		{`'' arg`, "program name"},
	}
	for _, tt := range tests {
		got, err := SplitCommand(tt.in)
		if err == nil {
			t.Errorf("SplitCommand(%q) = %q, want error", tt.in, got)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "executable: ") {
			t.Errorf("SplitCommand(%q) error %q, want it to mention %q", tt.in, err, tt.want)
		}
	}
}

func TestSplitCommandErrorHidesInput(t *testing.T) {
	const secret = "--password=hunter2-very-secret"
	_, err := SplitCommand("prog " + secret + " 'unterminated")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %v: want an error without the input", err)
	}
}

func TestQuoteArgRoundTrip(t *testing.T) {
	args := []string{"prog", "", "a b", "it's", `"q"`, `back\slash`, "tab\there", "new\nline", "$x", "ünï"}
	var parts []string
	for _, a := range args {
		parts = append(parts, QuoteArg(a))
	}
	got, err := SplitCommand(strings.Join(parts, " "))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, args) {
		t.Fatalf("round trip = %q, want %q", got, args)
	}
}

func FuzzSplitCommand(f *testing.F) {
	for _, s := range []string{
		"", "prog", `"/opt/a b/c" -x 'y z'`, `a\ b`, `'unterminated`, `"unterminated`, `x\`,
		`prog "a\"b" 'c'\''d'`, "a\x00b", "\t\n", `'' ""`, `"C:\Program Files\x"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args, err := SplitCommand(s)
		if err != nil {
			if args != nil {
				t.Fatalf("error with non-nil result %q", args)
			}
			return
		}
		if len(args) == 0 || args[0] == "" {
			t.Fatalf("SplitCommand(%q) = %q without error", s, args)
		}
		var parts []string
		for _, a := range args {
			if strings.IndexByte(a, 0) >= 0 {
				t.Fatalf("NUL in result of %q", s)
			}
			parts = append(parts, QuoteArg(a))
		}
		again, err := SplitCommand(strings.Join(parts, " "))
		if err != nil || !slices.Equal(again, args) {
			t.Fatalf("round trip of %q: %q, %v; want %q", s, again, err, args)
		}
	})
}
