// Package errs builds the module's plain errors out of line.
//
// Since Go 1.26, errors.New is inlined into its callers, and so is the
// errors.New that fmt.Errorf falls back on when it has nothing to format:
// every call site grows by an allocation of its own. The module has
// hundreds of them, on paths every program links (validation, the HTTP
// layer, the wire formats), so it calls these instead, which are never
// inlined. The errors are those of errors.New and fmt.Errorf.
package errs

import (
	"errors"
	"fmt"
)

// New is errors.New.
//
//go:noinline
func New(text string) error { return errors.New(text) }

// Errorf is fmt.Errorf.
//
//go:noinline
func Errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
