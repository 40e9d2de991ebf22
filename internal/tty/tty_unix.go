//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package tty

import (
	"syscall"
	"unsafe"
)

// isTerminal asks for the terminal attributes of fd: only a terminal has
// them.
func isTerminal(fd uintptr) bool {
	var t syscall.Termios
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, getTermios, uintptr(unsafe.Pointer(&t)))
	return errno == 0
}
