package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestValueNeverPrints: a Value shows REDACTED on every path, including
// the ones that call no method (reflection on an unexported field, fmt's
// bad-verb path), and reveals its content only through Reveal.
func TestValueNeverPrints(t *testing.T) {
	const s = "value-holder-secret-1234"
	v := Of(s)
	type hidden struct{ v Value[string] }
	type shown struct{ V Value[string] }
	var texts []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%e", "%U", "%10s"} {
		texts = append(texts, fmt.Sprintf(verb, v), fmt.Sprintf(verb, hidden{v}), fmt.Sprintf(verb, &hidden{v}), fmt.Sprintf(verb, shown{v}))
	}
	for _, verb := range []string{"%p"} { // a verb that does not apply: fmt prints the value
		texts = append(texts, fmt.Sprintf(verb, hidden{v}), fmt.Sprintf(verb, v))
	}
	for _, x := range []any{v, shown{v}, hidden{v}} {
		b, err := json.Marshal(x)
		texts = append(texts, string(b)+fmt.Sprint(err))
		var tb, jb bytes.Buffer
		slog.New(slog.NewTextHandler(&tb, nil)).Info("m", "v", x)
		slog.New(slog.NewJSONHandler(&jb, nil)).Info("m", "v", x)
		texts = append(texts, tb.String(), jb.String())
	}
	for _, text := range texts {
		if strings.Contains(text, s) || strings.Contains(strings.ToLower(text), fmt.Sprintf("%x", s)) {
			t.Errorf("secret in %q", text)
		}
	}
	if v.Reveal() != s || v.IsZero() || v.String() != Redacted {
		t.Errorf("Reveal %q, IsZero %t, String %q", v.Reveal(), v.IsZero(), v.String())
	}
	var zero Value[[]byte]
	if zero.Reveal() != nil || !zero.IsZero() || zero.String() != "" {
		t.Error("zero Value")
	}
	if b, _ := v.MarshalText(); string(b) != Redacted || v.LogValue().String() != Redacted || v.GoString() != Redacted {
		t.Error("text, log or Go value")
	}
}

func TestFormatVerbs(t *testing.T) {
	d := desc("x{A:1}")
	for verb, want := range map[string]string{"%v": "x{A:1}", "%+v": "x{A:1}", "%#v": "x{A:1}", "%s": "x{A:1}", "%d": "x{A:1}",
		"%q": `"x{A:1}"`, "%x": "787b413a317d", "%8s": "  x{A:1}", "%-8v|": "x{A:1}  |", "%.3s": "x{A"} {
		if got := fmt.Sprintf(verb, d); got != want {
			t.Errorf("%s: %q, want %q", verb, got, want)
		}
	}
}

type desc string

func (d desc) Format(f fmt.State, verb rune) { Format(f, verb, string(d)) }
