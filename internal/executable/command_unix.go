//go:build unix

package executable

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/stsgo/sts/internal/errs"
)

// platform is what a started command keeps on Unix: the process, the
// parent ends of its output pipes and the results of copying from them.
type platform struct {
	proc    *os.Process
	pipes   []*os.File
	copied  chan error
	stopped chan struct{} // closed when wait returns: ends the watch of ctx
}

// start starts the command, which is killed (see kill) when ctx ends.
// The program is looked up in PATH when its name has no slash, as os/exec
// does (a result relative to the current directory, from an empty or "."
// entry of PATH, is refused).
func (c *command) start(ctx context.Context) error {
	path, err := lookPath(c.argv[0])
	if err != nil {
		return err
	}
	files := []*os.File{c.stdin, nil, nil}
	var childEnds []*os.File
	defer func() {
		for _, f := range childEnds {
			f.Close()
		}
	}()
	if files[0] == nil {
		null, err := os.Open(os.DevNull)
		if err != nil {
			return err
		}
		childEnds = append(childEnds, null)
		files[0] = null
	}
	var writers []io.Writer
	for i, w := range []io.Writer{c.stdout, c.stderr} {
		if f, ok := w.(*os.File); ok {
			files[i+1] = f
			continue
		}
		r, fw, err := os.Pipe()
		if err != nil {
			c.closePipes()
			return err
		}
		childEnds = append(childEnds, fw)
		c.pipes, writers = append(c.pipes, r), append(writers, w)
		files[i+1] = fw
	}
	c.proc, err = os.StartProcess(path, c.argv, &os.ProcAttr{
		Env: c.env, Files: files, Sys: &syscall.SysProcAttr{Setpgid: c.ownGroup},
	})
	if err != nil {
		c.closePipes()
		return err
	}
	c.copied, c.stopped = make(chan error, len(c.pipes)), make(chan struct{})
	for i, r := range c.pipes {
		go func(w io.Writer) {
			_, err := io.Copy(w, r)
			c.copied <- err
		}(writers[i])
	}
	go func() {
		select {
		case <-ctx.Done():
			_ = c.kill()
		case <-c.stopped:
		}
	}()
	return nil
}

// wait waits for the command to exit and for its output to be copied, at
// most waitDelay past its exit (errWaitDelay). An error copying the output
// (a writer refusing it) is returned when the command succeeded.
func (c *command) wait() (*os.ProcessState, error) {
	state, err := c.proc.Wait()
	close(c.stopped)
	if err != nil {
		c.closePipes()
		return nil, err
	}
	t := time.NewTimer(waitDelay)
	defer t.Stop()
	var copyErr error
	for n := len(c.pipes); n > 0; {
		select {
		case e := <-c.copied:
			n--
			if copyErr == nil && e != nil && !errors.Is(e, fs.ErrClosed) {
				copyErr = e
			}
		case <-t.C:
			// The pipes are closed under the copies, which end.
			c.closePipes()
			for ; n > 0; n-- {
				<-c.copied
			}
			return state, errWaitDelay
		}
	}
	c.closePipes()
	if state.Success() {
		return state, copyErr
	}
	return state, nil
}

//go:noinline
func (c *command) closePipes() {
	for _, r := range c.pipes {
		r.Close()
	}
}

// kill kills the command: its whole process group when it leads one.
func (c *command) kill() error {
	if !c.ownGroup {
		return c.proc.Kill()
	}
	err := syscall.Kill(-c.proc.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// killGroup kills what is left of the command's process group once it
// exited. The group's id cannot be reused while any member lives, so this
// reaches only the command's own descendants.
func (c *command) killGroup() {
	if c.ownGroup {
		_ = syscall.Kill(-c.proc.Pid, syscall.SIGKILL)
	}
}

// Errors of lookPath, worded as os/exec's.
var (
	errNotFound = errs.New("executable file not found in $PATH")
	errDot      = errs.New("cannot run executable found relative to current directory")
)

// lookPath finds the program of a command as os/exec does on Unix: a name
// with a slash is used as it is, another is looked up in the directories
// of PATH, in order, as an executable regular file.
func lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" {
			dir = "." // an empty entry is the current directory
		}
		path := filepath.Join(dir, name)
		if !executableFile(path) {
			continue
		}
		if !filepath.IsAbs(path) {
			return "", errDot
		}
		return path, nil
	}
	return "", errNotFound
}

// executableFile reports whether path is a file this process may execute.
func executableFile(path string) bool {
	fi, err := os.Stat(path)
	if err != nil || fi.IsDir() {
		return false
	}
	switch err := syscall.Access(path, 1 /* X_OK */); err {
	case nil:
		return true
	case syscall.ENOSYS, syscall.EPERM:
		// No access(2) (or a sandbox refusing it): the mode bits say.
		return fi.Mode()&0o111 != 0
	}
	return false
}
