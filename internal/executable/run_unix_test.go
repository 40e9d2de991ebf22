//go:build unix

package executable

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestRunKillsChildren checks that ending a run kills the command's own
// children too: a grandchild holds the only write end of a FIFO, so the
// reader sees end-of-file exactly when the grandchild is gone.
func TestRunKillsChildren(t *testing.T) {
	t.Run("cancel", func(t *testing.T) { testKillsChildren(t, false) })
	t.Run("deadline", func(t *testing.T) { testKillsChildren(t, true) })
}

func testKillsChildren(t *testing.T, deadline bool) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	t.Cleanup(func() {
		// Unblock the reader if the grandchild never opened the FIFO.
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := config(t, "spawn", fifo)
	if deadline {
		c.Timeout = time.Second
	}
	ready := make(chan error, 1)
	gone := make(chan error, 1)
	go func() {
		f, err := os.Open(fifo) // blocks until the grandchild opens it
		if err != nil {
			ready <- err
			return
		}
		defer f.Close()
		r := bufio.NewReader(f)
		_, err = r.ReadString('\n')
		ready <- err
		_, err = io.Copy(io.Discard, r) // returns at EOF: the grandchild died
		gone <- err
	}()

	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, c)
		done <- err
	}()

	failsafe := time.NewTimer(15 * time.Second)
	defer failsafe.Stop()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-failsafe.C:
		t.Fatal("grandchild never started")
	}
	if !deadline {
		cancel()
	}
	select {
	case err := <-done:
		var te *TimeoutError
		if deadline && !errors.As(err, &te) {
			t.Fatalf("Run error %v, want a *TimeoutError", err)
		}
		if !deadline && !errors.Is(err, context.Canceled) {
			t.Fatalf("Run error %v, want context.Canceled", err)
		}
	case <-failsafe.C:
		t.Fatal("Run did not return after cancellation")
	}
	select {
	case err := <-gone:
		if err != nil {
			t.Fatal(err)
		}
	case <-failsafe.C:
		t.Fatal("grandchild still alive after the run ended")
	}
}

func TestRunKilledBySignal(t *testing.T) {
	_, err := Run(context.Background(), config(t, "suicide", "dying"))
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != -1 || err.Error() != "executable: command was terminated (signal: killed): stderr: dying" {
		t.Fatalf("error %v", err)
	}
}
