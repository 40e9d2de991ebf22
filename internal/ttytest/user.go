package ttytest

import (
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// User plays the person at a pseudo-terminal: once a prompt appears on the
// terminal, it types its answer. It records what the terminal showed.
type User struct {
	stop func()

	mu         sync.Mutex
	transcript strings.Builder
}

// StartUser opens a pseudo-terminal and returns its user and the terminal
// side, to give to the program under test. The user types answer and a
// newline once prompt has appeared; an empty prompt means it never types.
// The test is skipped where no pseudo-terminal can be opened. The terminal
// is closed and the user stopped by Stop or at the end of the test.
func StartUser(t testing.TB, prompt, answer string) (*User, *os.File) {
	t.Helper()
	ctl, term, err := Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	u := &User{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 256)
		answered := false
		for {
			n, err := ctl.Read(buf)
			u.mu.Lock()
			u.transcript.Write(buf[:n])
			ready := !answered && prompt != "" && strings.Contains(u.transcript.String(), prompt)
			u.mu.Unlock()
			if ready {
				answered = true
				_, _ = io.WriteString(ctl, answer+"\n")
			}
			if err != nil {
				return
			}
		}
	}()
	var once sync.Once
	u.stop = func() {
		once.Do(func() {
			// With the terminal side closed (the command's copy went with
			// it), the user reads what is left of the output, then fails:
			// closing the controlling side first could drop that output.
			// The failsafe is for a process still holding the terminal.
			term.Close()
			failsafe := time.NewTimer(10 * time.Second)
			defer failsafe.Stop()
			select {
			case <-done:
			case <-failsafe.C:
			}
			ctl.Close()
			<-done
		})
	}
	t.Cleanup(u.stop)
	return u, term
}

// Stop closes the terminal and waits for the user to read what it still
// shows, and finish.
func (u *User) Stop() { u.stop() }

// Transcript returns what the terminal has shown so far (with the user's
// typing echoed); after Stop, all of it.
func (u *User) Transcript() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.transcript.String()
}
