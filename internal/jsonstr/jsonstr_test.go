package jsonstr

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
)

// slogString is what log/slog's JSON handler writes for the string s.
func slogString(t *testing.T, s string) string {
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key != "k" {
			return slog.Attr{}
		}
		return a
	}})
	slog.New(h).Info("", "k", s)
	out := buf.Bytes()
	const head, tail = `{"k":`, "}\n"
	if !bytes.HasPrefix(out, []byte(head)) || !bytes.HasSuffix(out, []byte(tail)) {
		t.Fatalf("unexpected slog output %q", out)
	}
	return string(out[len(head) : len(out)-len(tail)])
}

var seeds = []string{"", "plain", `"\`, "\b\f\n\r\t\x00\x01\x1f\x7f", "<a href=\"x\">&amp;</a>", "\u2028\u2029",
	"\xff", "é日本\U0001F600", "\xed\xa0\x80", "caf\xc3"}

// FuzzAppendString: with html, the text is json.Marshal's; without, log/slog
// JSON handler's; both decode back to s (invalid UTF-8 replaced).
func FuzzAppendString(f *testing.F) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendString([]byte("x"), s, true); string(got) != "x"+string(want) {
			t.Fatalf("html: %q, json.Marshal: %q", got[1:], want)
		}
		got := AppendString(nil, s, false)
		if want := slogString(t, s); string(got) != want {
			t.Fatalf("plain: %q, log/slog: %q", got, want)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != string([]rune(s)) {
			t.Fatalf("%q decodes to %q, %v", got, back, err)
		}
	})
}
