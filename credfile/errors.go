package credfile

import (
	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/public"
)

// invalid returns an *sts.ValidationError for field with a formatted reason.
//
//go:noinline
func invalid(field, format string, args ...any) *sts.ValidationError {
	return (*sts.ValidationError)(check.Errorf(field, format, args...))
}

// verr converts the result of a check, keeping nil an untyped nil.
func verr(e *check.Error) error { return public.Invalid(e) }

// truncate shortens a value quoted in an error.
//
//go:noinline
func truncate(s string, n int) string { return httpx.Truncate(s, n) }

// hide keeps a secret in a closure (see Credentials.raw).
func hide(s string) func() string { return func() string { return s } }

// reveal returns the secret hide kept, "" for none.
func reveal(f func() string) string {
	if f == nil {
		return ""
	}
	return f()
}
