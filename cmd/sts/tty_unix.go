//go:build unix

package main

import "os"

// openTTY opens the process's controlling terminal for reading and
// writing, whatever its standard input and output are.
func openTTY() (*os.File, error) { return os.OpenFile("/dev/tty", os.O_RDWR, 0) }
