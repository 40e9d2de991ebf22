package sts

import (
	"log/slog"
	"os"
	"strings"
	"time"
)

// LoggingLevelEnv is the environment variable Google's Go client libraries
// read to turn on their debug logs. When a configuration has no Logger and
// the variable holds "debug", "info", "warn" or "error" (any case), the
// package logs at that level, as JSON, to standard error, with the keys
// Google's libraries use (severity, message, timestamp). Any other value,
// or none, means no logging. The variable is read when a source is built.
// Logs never hold a token, a client secret or a session key.
const LoggingLevelEnv = "GOOGLE_SDK_GO_LOGGING_LEVEL"

// resolveLogger returns l if it is not nil, else the logger that
// LoggingLevelEnv asks for, else nil (no logging).
func resolveLogger(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	level, ok := envLogLevel(os.Getenv(LoggingLevelEnv))
	if !ok {
		return nil
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{
		Level:       level,
		ReplaceAttr: googleLogKeys,
	}))
}

// envLogLevel parses a LoggingLevelEnv value.
func envLogLevel(v string) (slog.Level, bool) {
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

// googleLogKeys renames slog's top-level keys to those of Cloud Logging's
// structured JSON, as Google's Go libraries do.
func googleLogKeys(groups []string, a slog.Attr) slog.Attr {
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
