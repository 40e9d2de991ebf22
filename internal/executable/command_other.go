//go:build !unix

package executable

import (
	"context"
	"errors"
	"os"
	"os/exec"
)

// platform is what a started command keeps where there are no process
// groups: os/exec's command.
type platform struct{ cmd *exec.Cmd }

// start starts the command, which is killed when ctx ends.
func (c *command) start(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, c.argv[0], c.argv[1:]...)
	cmd.Env = c.env
	if c.stdin != nil {
		cmd.Stdin = c.stdin
	}
	cmd.Stdout, cmd.Stderr = c.stdout, c.stderr
	cmd.WaitDelay = waitDelay
	c.cmd = cmd
	err := cmd.Start()
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err // it repeats the program's name
	}
	return err
}

// wait waits for the command to exit and for its output to be copied, at
// most waitDelay past its exit (errWaitDelay).
func (c *command) wait() (*os.ProcessState, error) {
	err := c.cmd.Wait()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ProcessState, nil
	case errors.Is(err, exec.ErrWaitDelay):
		return c.cmd.ProcessState, errWaitDelay
	}
	return c.cmd.ProcessState, err
}

// kill kills the command (there are no process groups here).
func (c *command) kill() error { return c.cmd.Cancel() }

// killGroup does nothing where there are no process groups.
func (c *command) killGroup() {}
