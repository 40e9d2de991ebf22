//go:build !unix

package executable

import "os/exec"

// inOwnGroup is a no-op where process groups are not available: cancellation
// kills the command itself (exec's default), not its children.
func inOwnGroup(cmd *exec.Cmd) {}

// killGroup is a no-op where process groups are not available.
func killGroup(cmd *exec.Cmd) {}
