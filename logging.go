package sts

import (
	"log/slog"
	"time"

	"github.com/stsgo/sts/internal/logenv"
)

// LoggingLevelEnv is the variable Google's Go libraries read to turn on
// their logs. Where no Logger is configured and it holds "debug", "info",
// "warn" or "error", sources built then log from that level up as JSON to
// standard error (keys severity, message, timestamp); otherwise nothing.
const LoggingLevelEnv = logenv.EnvVar

// redactedField renders " name:REDACTED" when the secret v is set, and
// nothing when it is not, for String methods of configurations.
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

// resolveLogger returns l if it is not nil, else the logger that
// LoggingLevelEnv asks for, else nil (no logging).
func resolveLogger(l *slog.Logger) *slog.Logger { return logenv.Resolve(l) }
