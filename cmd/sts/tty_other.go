//go:build !unix

package main

import (
	"errors"
	"os"
)

// openTTY fails: interactive executables are run on Unix terminals only.
func openTTY() (*os.File, error) {
	return nil, errors.New("interactive executables are supported on Unix only")
}
