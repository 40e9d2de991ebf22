//go:build unix

package executable

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// inOwnGroup starts the command as the leader of a new process group and
// makes cancellation kill the whole group, so children the command spawned
// die with it.
func inOwnGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
}

// killGroup kills what is left of the command's process group. The group's
// id cannot be reused while any member lives, so this reaches only the
// command's own descendants.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
