// Package logenv resolves the logger of the package's layers: the one given,
// or the one the GOOGLE_SDK_GO_LOGGING_LEVEL environment variable asks for,
// as Google's Go client libraries do.
package logenv

import (
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// EnvVar is the environment variable Google's Go client libraries read to
// turn on their logs.
const EnvVar = "GOOGLE_SDK_GO_LOGGING_LEVEL"

// Resolve returns l if it is not nil. Otherwise, when EnvVar holds "debug",
// "info", "warn" or "error" (any case), it returns a logger writing JSON to
// standard error from that level up, with Cloud Logging's key names; else
// nil, meaning no logging. The variable is read at each call.
func Resolve(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	level, ok := Level(os.Getenv(EnvVar))
	if !ok {
		return nil
	}
	if v, ok := stderrLoggers.Load(level); ok {
		return v.(*slog.Logger)
	}
	v, _ := stderrLoggers.LoadOrStore(level, slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level, ReplaceAttr: GoogleKeys})))
	return v.(*slog.Logger)
}

// stderrLoggers holds one standard-error logger per level, shared by every
// source, so that their records go through one handler (one lock) and never
// interleave.
var stderrLoggers sync.Map // slog.Level -> *slog.Logger

// Level parses an EnvVar value; ok is false for values that leave logging
// off (empty or unknown).
func Level(v string) (level slog.Level, ok bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "debug":
		return slog.LevelDebug, true
	case "info":
		return slog.LevelInfo, true
	case "warn":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return 0, false
}

// GoogleKeys is a slog ReplaceAttr function renaming the top-level keys to
// those of Cloud Logging's structured JSON (severity, message,
// sourceLocation, timestamp), as Google's Go libraries do.
func GoogleKeys(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.LevelKey:
		a.Key = "severity"
	case slog.MessageKey:
		a.Key = "message"
	case slog.SourceKey:
		a.Key = "sourceLocation"
	case slog.TimeKey:
		a.Key = "timestamp"
		if a.Value.Kind() == slog.KindTime {
			a.Value = slog.StringValue(a.Value.Time().UTC().Format(time.RFC3339Nano))
		}
	}
	return a
}
