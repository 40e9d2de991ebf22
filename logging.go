package sts

import (
	"context"
	"log/slog"
	"time"

	"github.com/stsgo/sts/internal/logenv"
	"github.com/stsgo/sts/internal/secret"
)

// LoggingLevelEnv is the variable Google's Go libraries read to turn on
// their logs. Where no Logger is configured and it holds "debug", "info",
// "warn" or "error", sources built then log from that level up as JSON to
// standard error (keys severity, message, timestamp); otherwise nothing.
const LoggingLevelEnv = logenv.EnvVar

// Logger receives the log records of sources (requests, responses, retries,
// refreshes; secrets redacted). A *slog.Logger is one; a nil one means none.
// Only these two methods are called, so that a program that logs nothing
// links none of log/slog's handlers.
type Logger = interface {
	// Enabled reports whether records at level are logged.
	Enabled(ctx context.Context, level slog.Level) bool
	// Log logs one record with key-value pairs (as slog.Logger.Log
	// takes them), if its level is enabled.
	Log(ctx context.Context, level slog.Level, msg string, args ...any)
}

// redactedField renders " name:REDACTED" when the secret v is set, and
// nothing when it is not, for String methods of configurations.
// redactedIf returns "REDACTED" for a secret that is set, else "none".
func redactedIf(set bool) string {
	if set {
		return secret.Redacted
	}
	return "none"
}

func redactedField(name, v string) string {
	if v == "" {
		return ""
	}
	return " " + name + ":REDACTED"
}

// expiryText renders an expiry for String output: RFC 3339 in UTC, or
// "none" for the zero time.
func expiryText(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.UTC().Format(time.RFC3339)
}

// resolveLogger returns l if it is set (not nil, nor a nil *slog.Logger),
// else the logger that LoggingLevelEnv asks for, else nil (no logging).
func resolveLogger(l Logger) Logger { return logenv.Resolve(l) }
