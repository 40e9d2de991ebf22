// Package tty tells whether a file is a terminal, with the standard library
// only, for the interactive runs of credential executables.
package tty

import "os"

// IsTerminal reports whether f is an open terminal: a character device that
// answers the terminal control call of the system (a pseudo-terminal
// counts; the null device and pipes do not). It is false for nil and on
// systems where this package cannot tell.
func IsTerminal(f *os.File) bool {
	if f == nil {
		return false
	}
	return isTerminal(f.Fd())
}
