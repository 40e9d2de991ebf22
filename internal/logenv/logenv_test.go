package logenv

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"
)

func TestLevel(t *testing.T) {
	for v, want := range map[string]slog.Level{"debug": slog.LevelDebug, "INFO": slog.LevelInfo, " warn ": slog.LevelWarn, "Error": slog.LevelError} {
		if got, ok := Level(v); !ok || got != want {
			t.Errorf("Level(%q) = %v, %t; want %v", v, got, ok, want)
		}
	}
	for _, v := range []string{"", "trace", "0", "true", "verbose", "warning"} {
		if _, ok := Level(v); ok {
			t.Errorf("Level(%q) enables logging", v)
		}
	}
}

func TestResolve(t *testing.T) {
	t.Setenv(EnvVar, "")
	if Resolve(nil) != nil {
		t.Error("logging on without the variable")
	}
	if Resolve((*slog.Logger)(nil)) != nil {
		t.Error("a nil *slog.Logger turns logging on")
	}
	given := slog.New(slog.DiscardHandler)
	t.Setenv(EnvVar, "error")
	if Resolve(given) != given {
		t.Error("a given logger is replaced")
	}
	l := Resolve(nil)
	if l == nil || l.Enabled(t.Context(), slog.LevelWarn) || !l.Enabled(t.Context(), slog.LevelError) {
		t.Error("error level not honoured")
	}
	if Resolve(nil) != l {
		t.Error("sources do not share the standard-error logger")
	}
	if Resolve((*slog.Logger)(nil)) != l {
		t.Error("a nil *slog.Logger is not treated as none")
	}
	t.Setenv(EnvVar, "debug")
	if d := Resolve(nil); d == l || !d.Enabled(t.Context(), slog.LevelDebug) {
		t.Error("a new level does not get its own logger")
	}
}

func TestOr(t *testing.T) {
	a, b := slog.New(slog.DiscardHandler), JSON{}
	for _, c := range []struct {
		l, def, want Logger
	}{{nil, b, b}, {(*slog.Logger)(nil), b, b}, {a, b, a}, {b, nil, b}, {nil, nil, nil}} {
		if got := Or(c.l, c.def); got != c.want {
			t.Errorf("Or(%v, %v) = %v, want %v", c.l, c.def, got, c.want)
		}
	}
}

// decodeLines decodes each line of out as a JSON object.
func decodeLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var ms []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		ms = append(ms, m)
	}
	return ms
}

type stringer struct{}

func (stringer) String() string { return "stringer" }

// TestJSONKeys checks the Google key names, the level names and the
// timestamp.
func TestJSONKeys(t *testing.T) {
	var buf bytes.Buffer
	l := JSON{Level: slog.LevelInfo, W: &buf}
	before := time.Now()
	l.Log(t.Context(), slog.LevelDebug, "dropped")
	l.Log(t.Context(), slog.LevelInfo, "hello", "level", "attribute")
	l.Log(t.Context(), slog.LevelError+2, "worse")
	ms := decodeLines(t, buf.String())
	if len(ms) != 2 {
		t.Fatalf("%d lines, want 2 (the debug record is below the level):\n%s", len(ms), buf.String())
	}
	if ms[0]["severity"] != "INFO" || ms[0]["message"] != "hello" || ms[0]["level"] != "attribute" || ms[1]["severity"] != "ERROR+2" {
		t.Errorf("keys or levels wrong:\n%s", buf.String())
	}
	ts, _ := ms[0]["timestamp"].(string)
	when, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil || !strings.HasSuffix(ts, "Z") || when.Before(before.Add(-time.Second)) || when.After(time.Now().Add(time.Second)) {
		t.Errorf("timestamp %q: not now in UTC (%v)", ts, err)
	}
	if !strings.HasPrefix(buf.String(), `{"timestamp":`) {
		t.Errorf("keys not in Google's order: %s", buf.String())
	}
}

// TestJSONLikeSlog writes the same arguments with JSON and with slog's
// JSON handler, and compares the decoded records.
func TestJSONLikeSlog(t *testing.T) {
	args := []any{
		"s", "quote \" backslash \\ newline \n tab \t nul \x00 esc \x1b del \x7f ümlaut \u2028 \u2029 bad \xff\xfe end",
		"i", -42, "i64", int64(-1) << 62, "u", uint64(math.MaxUint64), "f", 1.5, "big", 1e300,
		"b", true, "d", 1500 * time.Millisecond, "err", errors.New("boom"), "nil", nil,
		"strs", []string{"a", "\"b\""}, "nostrs", []string{},
		42, "odd", "last",
	}
	var ours, theirs bytes.Buffer
	JSON{Level: slog.LevelDebug, W: &ours}.Log(t.Context(), slog.LevelWarn, "msg \x01", args...)
	drop := func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 {
			switch a.Key {
			case slog.TimeKey:
				return slog.Attr{}
			case slog.LevelKey:
				a.Key = "severity"
			case slog.MessageKey:
				a.Key = "message"
			}
		}
		return a
	}
	slog.New(slog.NewJSONHandler(&theirs, &slog.HandlerOptions{ReplaceAttr: drop})).Log(t.Context(), slog.LevelWarn, "msg \x01", args...)
	if !strings.HasPrefix(ours.String(), `{"timestamp":`) {
		t.Fatalf("no timestamp: %s", ours.String())
	}
	// Two !BADKEY members: compare the lines, past the timestamp.
	got := ours.String()[strings.Index(ours.String(), `"severity"`):]
	want := theirs.String()[1:]
	if got != want {
		t.Errorf("record differs from slog's:\nours: %s\nslog: %s", got, want)
	}
}

func TestJSONValues(t *testing.T) {
	var buf bytes.Buffer
	at := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	JSON{W: &buf}.Log(t.Context(), slog.LevelInfo, "m", "t", at, "nan", math.NaN(), "inf", math.Inf(-1), "stringer", stringer{}, "slice", []int{1, 2})
	m := decodeLines(t, buf.String())[0]
	if m["t"] != "2030-01-02T03:04:05.000000006Z" || m["nan"] != "NaN" || m["inf"] != "-Inf" || m["stringer"] != "stringer" || m["slice"] != "[1 2]" {
		t.Errorf("values: %s", buf.String())
	}
}

func FuzzJSON(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\\n\r\t\x00\x1f", "\xff", "\u2028\u2029", "é", "\xed\xa0\x80"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, key, val string) {
		var buf bytes.Buffer
		JSON{W: &buf}.Log(t.Context(), slog.LevelInfo, val, "k"+key, val)
		out := buf.String()
		if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "}\n") {
			t.Fatalf("not one line: %q", out)
		}
		if strings.ContainsAny(out, "\u2028\u2029\r") {
			t.Fatalf("line separator written raw: %q", out)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		valid := string([]rune(val)) // each invalid byte becomes U+FFFD
		if m["message"] != valid || m["k"+string([]rune(key))] != valid {
			t.Fatalf("value not kept: %q -> %q", val, out)
		}
	})
}
