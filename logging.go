package sts

import (
	"log/slog"

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

// resolveLogger returns l if it is not nil, else the logger that
// LoggingLevelEnv asks for, else nil (no logging).
func resolveLogger(l *slog.Logger) *slog.Logger { return logenv.Resolve(l) }
