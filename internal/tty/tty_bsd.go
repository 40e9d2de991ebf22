//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package tty

import "syscall"

// getTermios is the request that reads a terminal's attributes.
const getTermios = syscall.TIOCGETA
