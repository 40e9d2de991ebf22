package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Every command ends at its --timeout and soon after SIGINT or SIGTERM:
// the command line's context is cancelled by the first signal, each command
// derives its deadline from it, and whatever could block without watching
// a context (opening a named pipe that has no writer, reading standard
// input, loading a credential file) runs through await. A command that
// still has not returned shortly after a signal is ended by the watchdog,
// and a second signal kills the process at once. Before the process exits,
// a credential executable a cached refresh still runs is killed with its
// process group (exit).

// signalError is the cause of a command line's context ended by a signal.
type signalError struct{ sig os.Signal }

func (s *signalError) Error() string {
	switch s.sig {
	case os.Interrupt:
		return "interrupted (SIGINT)"
	case syscall.SIGTERM:
		return "interrupted (SIGTERM)"
	}
	return "interrupted (" + s.sig.String() + ")"
}

// exitCode is the shell's status for a process ended by the signal.
func (s *signalError) exitCode() int {
	if n, ok := s.sig.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 130
}

// Grace periods after a signal: servers get shutdownGrace to finish the
// requests in flight; any command still running after exitGrace is ended.
// At exit, the credential executables still running are killed and given
// reapGrace to be reaped.
const (
	shutdownGrace = 500 * time.Millisecond
	exitGrace     = 900 * time.Millisecond
	reapGrace     = 2 * time.Second
)

// signalContext returns the context of a command line, cancelled with a
// *signalError by the first SIGINT or SIGTERM. After that signal the
// process exits on its own within exitGrace (status 128+signal, a line on
// stderr) unless stop is called first, and at once at a second signal.
// stop releases the signal handling.
func signalContext(stderr io.Writer) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
			return
		case sig := <-sigs:
			se := &signalError{sig: sig}
			cancel(se)
			t := time.NewTimer(exitGrace)
			defer t.Stop()
			select {
			case <-done:
			case <-sigs:
				exit(se.exitCode(), 0)
			case <-t.C:
				fmt.Fprintf(stderr, "sts: %v: did not stop within %v; exiting\n", se, exitGrace)
				exit(se.exitCode(), reapGrace)
			}
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

// withTimeout is context.WithTimeout whose cause says which flag set the
// deadline.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, d, fmt.Errorf("gave up after %v (--timeout): %w", d, context.DeadlineExceeded))
}

// timeoutFlag is the value of fs's --timeout flag, or 0 when it has none.
func timeoutFlag(fs *flag.FlagSet) time.Duration {
	if f := fs.Lookup("timeout"); f != nil {
		if g, ok := f.Value.(flag.Getter); ok {
			d, _ := g.Get().(time.Duration)
			return d
		}
	}
	return 0
}

// await runs f, which may block on something that does not watch ctx, and
// returns its outcome, or, when ctx ends first, an error saying what was
// being done and why it stopped (the deadline, a signal). f is then left
// running: the command returns and the process exits.
func await[T any](ctx context.Context, what string, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	var zero T
	if ctx.Err() != nil {
		return zero, fmt.Errorf("%s: %w", what, context.Cause(ctx))
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return zero, fmt.Errorf("%s: %w", what, context.Cause(ctx))
	}
}
