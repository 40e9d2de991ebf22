//go:build linux

package tty

import "syscall"

// getTermios is the request that reads a terminal's attributes.
const getTermios = syscall.TCGETS
