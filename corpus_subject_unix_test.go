//go:build unix

package sts

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestFileSubjectNamedPipeDoesNotHang: a subject token "file" that is a
// named pipe nobody writes to must fail at once, not block the refresh
// forever (opening a FIFO for reading waits for a writer, whatever the
// context says).
func TestFileSubjectNamedPipeDoesNotHang(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "token")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := FileSubject{Path: fifo}.SubjectToken(ctx, SubjectRequest{})
		done <- err
	}()
	select {
	case err := <-done:
		relCheckCorpusError(t, err, "not a regular file")
	case <-time.After(5 * time.Second):
		t.Error("reading a named pipe hung")
		// Release the reader: opening the write end lets its open return.
		if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		<-done
	}
}
