package sts

import (
	"log/slog"
	"time"

	"github.com/stsgo/sts/internal/logenv"
)

// LoggingLevelEnv is the environment variable Google's Go client libraries
// read to turn on their logs. When a configuration has no Logger and the
// variable holds "debug", "info", "warn" or "error" (any case), the package
// logs from that level up, as JSON, to standard error, with the keys Google's
// libraries use (severity, message, timestamp). Any other value, or none,
// means no logging. The variable is read when a source is built. Logs never
// hold a token, a client secret or a session key.
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
