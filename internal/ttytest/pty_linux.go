//go:build linux

// Package ttytest opens pseudo-terminals for tests of interactive runs.
package ttytest

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// Open returns a new pseudo-terminal: the controller side, which a test
// reads the prompts from and writes the user's answers to, and the terminal
// side, which the program under test is given. Neither becomes the
// controlling terminal of the process. The caller closes both.
func Open() (controller, terminal *os.File, err error) {
	controller, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	var n uint32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, controller.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); errno != 0 {
		controller.Close()
		return nil, nil, fmt.Errorf("ttytest: TIOCGPTN: %w", errno)
	}
	var unlock int32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, controller.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); errno != 0 {
		controller.Close()
		return nil, nil, fmt.Errorf("ttytest: TIOCSPTLCK: %w", errno)
	}
	terminal, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		controller.Close()
		return nil, nil, err
	}
	return controller, terminal, nil
}
