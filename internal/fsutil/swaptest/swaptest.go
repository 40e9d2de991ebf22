//go:build unix && !solaris && !illumos && !aix

// Package swaptest holds a test harness for readers of files: it swaps the
// file a reader is given between a regular file and a named pipe while the
// reader runs, and counts the reads that reached the pipe. A reader that
// checks a path and then opens it reaches the pipe whenever the swap falls
// between the two, and then blocks until a writer comes.
package swaptest

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Race calls read n times in all, from four goroutines, with a path that
// another goroutine keeps swapping between a symbolic link to a regular
// file holding content (name is its base name) and one to a named pipe.
// read returns nil when it got what content holds, and an error otherwise;
// refused reports whether an error is the reader refusing the pipe.
//
// Meanwhile the pipe's write end is opened without blocking whenever that
// succeeds (some reader has the pipe open), "from the pipe" is written and
// it is closed: that releases a reader blocked in open(2), which then reads
// that text (or nothing) instead of content. Race returns the errors of
// the reads that neither succeeded nor were refused (at most 10 of them,
// with their count): each of them opened the pipe, or failed otherwise.
func Race(t testing.TB, n int, name string, content []byte, read func(path string) error, refused func(error) bool) (bad int, errs []error) {
	t.Helper()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	reg := filepath.Join(dir, name)
	if err := os.WriteFile(reg, content, 0o600); err != nil {
		t.Fatal(err)
	}
	// The path leads through a chain of symbolic links to the one
	// swapped: resolving the chain widens the window between a reader's
	// check and its open.
	swapped := filepath.Join(dir, "swapped")
	if err := os.Symlink(reg, swapped); err != nil {
		t.Fatal(err)
	}
	path := swapped
	for i := range 10 {
		link := filepath.Join(dir, fmt.Sprintf("link%d", i))
		if err := os.Symlink(path, link); err != nil {
			t.Fatal(err)
		}
		path = link
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		tmp := filepath.Join(dir, "next")
		for i := 0; !stop.Load(); i++ {
			target := reg
			if i%2 == 1 {
				target = fifo
			}
			os.Remove(tmp)
			if err := os.Symlink(target, tmp); err != nil {
				t.Error(err)
				return
			}
			if err := os.Rename(tmp, swapped); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Go(func() {
		for !stop.Load() {
			if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				w.WriteString("from the pipe")
				w.Close()
			} else {
				time.Sleep(100 * time.Microsecond) // polling a condition, not timing
			}
		}
	})
	var mu sync.Mutex
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for range n / 4 {
				if err := read(path); err != nil && !refused(err) {
					mu.Lock()
					if bad++; len(errs) < 10 {
						errs = append(errs, err)
					}
					mu.Unlock()
				}
			}
		})
	}
	readers.Wait()
	stop.Store(true)
	wg.Wait()
	return bad, errs
}
