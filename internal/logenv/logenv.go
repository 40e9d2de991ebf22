// Package logenv resolves the logger of the package's layers: the one given,
// or the one the GOOGLE_SDK_GO_LOGGING_LEVEL environment variable asks for,
// as Google's Go client libraries do.
//
// The layers log through the Logger interface, which *slog.Logger
// implements, and never call a *slog.Logger's methods themselves: a program
// that gives no logger then links none of log/slog's handlers (a call of
// any slog.Handler's Handle method keeps the text formatting of slog's
// default handler in the binary). The logger the variable asks for is this
// package's own small JSON writer for the same reason.
package logenv

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/stsgo/sts/internal/jsonstr"
)

// EnvVar is the environment variable Google's Go client libraries read to
// turn on their logs.
const EnvVar = "GOOGLE_SDK_GO_LOGGING_LEVEL"

// Logger receives log records. *slog.Logger implements it. It is an alias
// of an interface literal so that sts.Logger, the same literal, is the
// identical type (configurations convert to this package's types field for
// field).
type Logger = interface {
	Enabled(ctx context.Context, level slog.Level) bool
	Log(ctx context.Context, level slog.Level, msg string, args ...any)
}

// Or returns l, or else (l nil, or a nil *slog.Logger) def.
func Or(l, def Logger) Logger {
	if l == nil {
		return def
	}
	// A type switch on the dynamic type links none of *slog.Logger's
	// methods, unlike a conversion of one to an interface.
	if s, ok := any(l).(*slog.Logger); ok && s == nil {
		return def
	}
	return l
}

// Resolve returns l if it is set (see Or). Otherwise, when EnvVar holds
// "debug", "info", "warn" or "error" (any case), it returns a logger writing
// JSON lines to standard error from that level up, with Cloud Logging's key
// names (see JSON); else nil, meaning no logging. The variable is read at
// each call.
func Resolve(l Logger) Logger {
	if l = Or(l, nil); l != nil {
		return l
	}
	level, ok := Level(os.Getenv(EnvVar))
	if !ok {
		return nil
	}
	return JSON{Level: level, W: os.Stderr}
}

// Level parses the variable's value: one of four level names, in any case,
// with surrounding white space.
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

// JSON is a Logger writing each record from Level up as one line of JSON
// to W, in one Write: {"timestamp":…,"severity":…,"message":…, attributes…},
// the keys Google's libraries use. The timestamp is RFC 3339 in UTC with
// nanoseconds; the severity is the level's name as slog writes it (DEBUG,
// INFO, WARN, ERROR, or one of them with an offset). The arguments are
// key-value pairs as for slog.Logger.Log (a key that is not a string, or a
// missing value, makes a "!BADKEY" member). Values are written as slog's
// JSON handler writes them: numbers and booleans as such, a duration as its
// nanoseconds, a time as an RFC 3339 string, an error as its text, a
// []string as an array, nil as null, and anything else as the string fmt.Sprint makes of it (slog
// would use encoding/json). JSON values are comparable: two from the same
// level and writer are equal.
type JSON struct {
	Level slog.Level
	W     io.Writer
}

// Enabled reports whether level is at least j.Level.
func (j JSON) Enabled(_ context.Context, level slog.Level) bool { return level >= j.Level }

// Log writes one record if its level is enabled. Write errors are ignored,
// as slog's loggers ignore their handlers'.
func (j JSON) Log(_ context.Context, level slog.Level, msg string, args ...any) {
	if level < j.Level {
		return
	}
	b := make([]byte, 0, 256)
	b = append(b, `{"timestamp":"`...)
	b = time.Now().UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","severity":`...)
	b = appendString(b, level.String())
	b = append(b, `,"message":`...)
	b = appendString(b, msg)
	for len(args) > 0 {
		key, ok := args[0].(string)
		if !ok || len(args) == 1 {
			key = "!BADKEY"
		} else {
			args = args[1:]
		}
		b = append(b, ',')
		b = appendString(b, key)
		b = append(b, ':')
		b = appendValue(b, args[0])
		args = args[1:]
	}
	b = append(b, "}\n"...)
	_, _ = j.W.Write(b)
}

// appendValue appends v as a JSON value.
func appendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendString(b, v)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case uint64:
		return strconv.AppendUint(b, v, 10)
	case float64:
		if v == v && v-v == 0 { // finite
			return strconv.AppendFloat(b, v, 'g', -1, 64)
		}
	case bool:
		return strconv.AppendBool(b, v)
	case time.Duration:
		return strconv.AppendInt(b, int64(v), 10)
	case time.Time:
		b = append(b, '"')
		b = v.AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	case error:
		return appendString(b, v.Error())
	case []string:
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		return append(b, ']')
	}
	return appendString(b, fmt.Sprint(v))
}

// appendString appends s as a JSON string, as log/slog's JSON handler
// writes it.
func appendString(b []byte, s string) []byte { return jsonstr.AppendString(b, s, false) }
