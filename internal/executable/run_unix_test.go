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

// holderFIFO makes a FIFO for a helper's "hold" grandchild: ready gets
// the result of reading its line, gone that of reading to the end, which
// comes when the grandchild is gone.
func holderFIFO(t *testing.T) (fifo string, ready, gone <-chan error) {
	fifo = filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	t.Cleanup(func() {
		// Unblock the reader if the grandchild never opened the FIFO.
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	readyc, gonec := make(chan error, 1), make(chan error, 1)
	go func() {
		f, err := os.Open(fifo) // blocks until the grandchild opens it
		if err != nil {
			readyc <- err
			return
		}
		defer f.Close()
		r := bufio.NewReader(f)
		_, err = r.ReadString('\n')
		readyc <- err
		_, err = io.Copy(io.Discard, r) // returns at EOF: the grandchild died
		gonec <- err
	}()
	return fifo, readyc, gonec
}

func testKillsChildren(t *testing.T, deadline bool) {
	fifo, ready, gone := holderFIFO(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := config(t, "spawn", fifo)
	if deadline {
		c.Timeout = time.Second
	}

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

// TestRunOutputHeldOpen: a command that answers and exits, leaving a
// process that holds its standard output open, gives its answer once the
// output has stayed open waitDelay past its exit, and what it left behind
// is killed with its process group.
func TestRunOutputHeldOpen(t *testing.T) {
	fifo, ready, gone := holderFIFO(t)
	start := time.Now()
	res, err := Run(context.Background(), config(t, "linger", fifo, okJSON(TokenTypeIDToken, "id_token", 0)))
	if err != nil || res.Token != secretToken {
		t.Fatalf("Run = %v, %v", res, err)
	}
	if d := time.Since(start); d < waitDelay {
		t.Errorf("Run returned after %v, before the output was given up on", d)
	}
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	failsafe := time.NewTimer(15 * time.Second)
	defer failsafe.Stop()
	select {
	case err := <-gone:
		if err != nil {
			t.Fatal(err)
		}
	case <-failsafe.C:
		t.Fatal("the grandchild still lives after the run")
	}
}

// TestLookPath: a program named without a slash is found in PATH as
// os/exec finds it, and one found relative to the current directory is
// refused.
func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "idp-helper")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "not-executable"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "a-directory"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	for _, tc := range []struct {
		path, name, want string
		err              error
	}{
		{"/nonexistent" + string(filepath.ListSeparator) + dir, "idp-helper", prog, nil},
		{dir, "not-executable", "", errNotFound},
		{dir, "a-directory", "", errNotFound},
		{"/nonexistent", "idp-helper", "", errNotFound},
		{"." + string(filepath.ListSeparator) + dir, "idp-helper", "", errDot},
		{string(filepath.ListSeparator) + dir, "idp-helper", "", errDot},
		{"", "./idp-helper", "./idp-helper", nil},
		{"", "sub/prog", "sub/prog", nil},
	} {
		t.Setenv("PATH", tc.path)
		got, err := lookPath(tc.name)
		if got != tc.want || err != tc.err {
			t.Errorf("PATH=%q: lookPath(%q) = %q, %v; want %q, %v", tc.path, tc.name, got, err, tc.want, tc.err)
		}
	}
	t.Setenv("PATH", dir)
	c := config(t)
	c.Command = []string{"not-executable"}
	if _, err := Run(context.Background(), c); err == nil || err.Error() != "executable: cannot start not-executable: executable file not found in $PATH" {
		t.Errorf("Run: %v", err)
	}
}

func TestRunKilledBySignal(t *testing.T) {
	_, err := Run(context.Background(), config(t, "suicide", "dying"))
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != -1 || err.Error() != "executable: command was terminated (signal: killed): stderr: dying" {
		t.Fatalf("error %v", err)
	}
}
