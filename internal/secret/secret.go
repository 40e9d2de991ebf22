// Package secret holds the module's secrets (tokens, client secrets, keys,
// credential file contents) where no printing can reach them, and the
// formatting rule of the public types that hold secrets in exported fields.
//
// A Value keeps its content in a closure: fmt prints a function as an
// address whatever the verb, and whether or not it may call methods (a
// value nested in an unexported field, or reached through fmt's bad-verb
// path, is printed by reflection alone); encoding/json skips it. Its own
// methods print "REDACTED" on every path: fmt verbs, json.Marshal,
// encoding.TextMarshaler, slog.LogValuer.
//
// A public type whose exported fields hold secrets (a string field cannot
// become a holder without breaking its users) implements fmt.Formatter with
// Format below, and tags the secret fields `json:"-"`.
package secret

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// Redacted is what a secret prints as.
const Redacted = "REDACTED"

// Value holds a secret of type T. The zero value holds T's zero value.
type Value[T any] struct {
	get func() T
}

// Of returns a Value holding v.
func Of[T any](v T) Value[T] { return Value[T]{get: func() T { return v }} }

// Reveal returns the secret.
func (s Value[T]) Reveal() T {
	if s.get == nil {
		var zero T
		return zero
	}
	return s.get()
}

// IsZero reports whether s was never set.
func (s Value[T]) IsZero() bool { return s.get == nil }

// String returns "REDACTED" (or "" for the zero Value).
func (s Value[T]) String() string {
	if s.get == nil {
		return ""
	}
	return Redacted
}

// GoString is String.
func (s Value[T]) GoString() string { return s.String() }

// Format prints String for every verb.
func (s Value[T]) Format(f fmt.State, verb rune) { Format(f, verb, s.String()) }

// MarshalJSON encodes String.
func (s Value[T]) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText encodes String.
func (s Value[T]) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue logs String.
func (s Value[T]) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Format writes desc, a description of a value without its secrets, for
// verb: as %s (with the width, precision and '-' flag given) for v, s and
// every verb that does not apply to text, quoted for q, in hexadecimal for
// x and X. A public type implements fmt.Formatter with it, so that no verb
// (%d, %t, %x, %+v, …) prints its fields.
func Format(f fmt.State, verb rune, desc string) {
	switch verb {
	case 'q', 'x', 'X':
		fmt.Fprintf(f, fmt.FormatString(f, verb), desc)
	default:
		fmt.Fprintf(f, fmt.FormatString(f, 's'), desc)
	}
}
