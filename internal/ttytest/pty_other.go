//go:build !linux

// Package ttytest opens pseudo-terminals for tests of interactive runs.
package ttytest

import (
	"errors"
	"os"
)

// Open is only implemented on Linux; elsewhere tests that need a terminal
// skip.
func Open() (controller, terminal *os.File, err error) {
	return nil, nil, errors.New("ttytest: pseudo-terminals are only opened on linux")
}
