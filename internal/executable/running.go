package executable

import (
	"context"
	"sync"

	"github.com/stsgo/sts/internal/errs"
)

// ErrShutdown is returned by a run that Shutdown ended, or that started
// after it.
var ErrShutdown = errs.New("executable: the program is exiting; the command was killed")

// running holds the commands in progress in this process, so that a program
// about to exit can end them (Shutdown). Nothing else would: a
// non-interactive command leads a process group of its own, out of reach of
// the terminal's signals, and a cache runs it under its refresh deadline,
// not under the context of a caller that stopped waiting; the program's
// exit leaves it running, with its children, past every deadline.
var running procs

// procs is a set of running commands.
type procs struct {
	mu     sync.Mutex
	cmds   map[*command]chan struct{} // closed once the command is reaped
	closed bool                       // by Shutdown: nothing starts any more
}

// start starts cmd, killed when ctx ends, and adds it to p. The caller
// calls the returned done once cmd is reaped; done reports whether
// Shutdown had been called.
func (p *procs) start(ctx context.Context, cmd *command) (done func() bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrShutdown
	}
	if err := cmd.start(ctx); err != nil {
		return nil, err
	}
	if p.cmds == nil {
		p.cmds = make(map[*command]chan struct{})
	}
	reaped := make(chan struct{})
	p.cmds[cmd] = reaped
	return func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		delete(p.cmds, cmd)
		close(reaped)
		return p.closed
	}, nil
}

// shutdown kills every command of p (a non-interactive one with its process
// group) and waits until their runs have reaped them, or ctx
// ends. Commands that would start later are refused.
func (p *procs) shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	waits := make([]chan struct{}, 0, len(p.cmds))
	for cmd, reaped := range p.cmds {
		_ = cmd.kill()
		waits = append(waits, reaped)
	}
	p.mu.Unlock()
	for _, reaped := range waits {
		select {
		case <-reaped:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return nil
}

// Shutdown kills every credential executable this process is running (a
// non-interactive one with its whole process group), waits until each is
// reaped or ctx ends, and makes later runs fail with ErrShutdown. A program
// calls it before it exits, so that no command outlives it.
func Shutdown(ctx context.Context) error { return running.shutdown(ctx) }
