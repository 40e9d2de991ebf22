//go:build unix

package executable

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stsgo/sts/internal/proctest"
)

// TestShutdownKillsRuns: Shutdown kills a run in progress with its process
// group and returns once it is reaped; the run fails with ErrShutdown, and
// a later one does not start the command.
func TestShutdownKillsRuns(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pids")
	p := &procs{}
	c := Config{Command: []string{proctest.SpawnScript(t, dir, pidFile)}, TokenType: TokenTypeJWT,
		Getenv: func(string) string { return "1" }, procs: p}
	errc := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), c)
		errc <- err
	}()
	pid, child, ok := proctest.ReadPids(t, pidFile, 15*time.Second)
	if !ok {
		t.Fatal("the command never started")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := p.shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if proctest.Alive(pid) {
		t.Errorf("the command (pid %d) is still running after shutdown returned", pid)
	}
	if !proctest.WaitGone(child, pid, 15*time.Second) {
		t.Errorf("the command's child (pid %d) is still running", child)
	}
	if err := <-errc; !errors.Is(err, ErrShutdown) {
		t.Errorf("the run ended with %v, want ErrShutdown", err)
	}

	if err := os.Remove(pidFile); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), c); !errors.Is(err, ErrShutdown) {
		t.Errorf("a run after shutdown: %v, want ErrShutdown", err)
	}
	if _, err := os.Stat(pidFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the command ran after shutdown (%v)", err)
	}
	// Nothing runs: shutdown returns at once.
	if err := p.shutdown(ctx); err != nil {
		t.Errorf("second shutdown: %v", err)
	}
}
