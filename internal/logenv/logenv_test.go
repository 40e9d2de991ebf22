package logenv

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
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
	t.Setenv(EnvVar, "debug")
	if d := Resolve(nil); d == l || !d.Enabled(t.Context(), slog.LevelDebug) {
		t.Error("a new level does not get its own logger")
	}
}

func TestGoogleKeys(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: GoogleKeys}))
	l.Info("hello", slog.Group("g", "level", "nested"))
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m["severity"] != "INFO" || m["message"] != "hello" || m["timestamp"] == nil {
		t.Errorf("keys not renamed: %s", buf.String())
	}
	if g, _ := m["g"].(map[string]any); g["level"] != "nested" {
		t.Errorf("grouped attribute renamed: %s", buf.String())
	}
}

func FuzzLevel(f *testing.F) {
	for _, s := range []string{"debug", "INFO", " warn\n", "error", "", "trace", "DEBUG2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		level, ok := Level(v)
		if !ok {
			return
		}
		switch level {
		case slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError:
		default:
			t.Fatalf("Level(%q) = %v", v, level)
		}
	})
}
