//go:build unix && !solaris && !illumos && !aix

package sts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/oauth2"

	"github.com/stsgo/sts/internal/fsutil"
	"github.com/stsgo/sts/internal/fsutil/swaptest"
	"github.com/stsgo/sts/ststest"
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

// TestNamedPipesDoNotHangProviders: the same for the output file of an
// executable source (package x509subject checks its files).
func TestNamedPipesDoNotHangProviders(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	allow := func(k string) string {
		if k == "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES" {
			return "1"
		}
		return ""
	}
	cases := map[string]func() error{
		"executable output file": func() error {
			_, err := ExecutableSubject{Command: []string{"true"}, OutputFile: fifo, Getenv: allow}.SubjectToken(context.Background(),
				SubjectRequest{Audience: relAud, SubjectTokenType: TokenTypeJWT})
			return err
		},
	}
	for name, call := range cases {
		t.Run(name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- call() }()
			select {
			case err := <-done:
				relCheckCorpusError(t, err, "regular file")
			case <-time.After(5 * time.Second):
				t.Error("reading a named pipe hung")
				if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
					w.Close()
				}
				<-done
			}
		})
	}
}

// TestFileSourcesSwappedToNamedPipe: every file a source reads (a subject
// token file, an executable's output file) is swapped between a regular file
// and a named pipe while it is read, from several goroutines: each read gets
// the file's content or is refused at once as not a regular file. A reader
// that checked the path and then opened it blocked whenever the swap fell in
// between. (Packages credfile and x509subject do the same for credential
// files and certificate files.)
func TestFileSourcesSwappedToNamedPipe(t *testing.T) {
	execResp := `{"version":1,"success":true,"token_type":"urn:ietf:params:oauth:token-type:jwt","id_token":"` + relSubjectToken +
		`","expiration_time":` + fmt.Sprint(time.Now().Add(time.Hour).Unix()) + `}`
	allow := func(k string) string {
		if k == "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES" {
			return "1"
		}
		return ""
	}
	cases := []struct {
		name    string
		content []byte
		read    func(path string) error
	}{
		{"subject token file", []byte(relSubjectToken), func(path string) error {
			tok, err := FileSubject{Path: path}.SubjectToken(context.Background(), SubjectRequest{})
			if err == nil && tok != relSubjectToken {
				return fmt.Errorf("token %q", tok)
			}
			return err
		}},
		{"executable output file", []byte(execResp), func(path string) error {
			// The command fails: only the output file can give the token.
			_, err := ExecutableSubject{Command: []string{"false"}, OutputFile: path, Getenv: allow}.SubjectToken(context.Background(),
				SubjectRequest{Audience: relAud, SubjectTokenType: TokenTypeJWT})
			return err
		}},
	}
	refused := func(err error) bool {
		return errors.Is(err, fsutil.ErrNotRegular) && strings.Contains(err.Error(), "not a regular file")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.read(writeTemp(t, string(c.content))); err != nil {
				t.Fatalf("reading the regular file: %v", err)
			}
			bad, errs := swaptest.Race(t, 1000, "file", c.content, c.read, refused)
			if bad > 0 {
				t.Errorf("%d of 1000 reads opened the named pipe or failed otherwise: %v", bad, errs)
			}
		})
	}
}

// pipeReader reads a named pipe the way a careless source would: a
// blocking open, whatever the context says. It hangs until the pipe gets
// a writer.
type pipeReader struct{ path string }

func (p pipeReader) read() (string, error) {
	data, err := os.ReadFile(p.path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(data)), nil
}

func (p pipeReader) Token() (*oauth2.Token, error) {
	tok, err := p.read()
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: tok, Expiry: time.Now().Add(time.Hour)}, nil
}

func (p pipeReader) SubjectToken(context.Context, SubjectRequest) (string, error) { return p.read() }

// TestHungNamedPipeEndsAtRefreshDeadline: a source blocked in the open of
// a named pipe (a source of the caller's, which no context can stop) holds
// no caller past the refresh deadline, on every path: a context-aware
// subject, an oauth2.TokenSource subject, the cache over a plain
// oauth2.TokenSource, and the impersonated layer over one (package
// downscope checks its layers).
// Once the pipe gets a writer the hung call ends and no goroutine is left.
func TestHungNamedPipeEndsAtRefreshDeadline(t *testing.T) {
	const deadline = 200 * time.Millisecond
	co := CacheOptions{RefreshTimeout: deadline}
	layers := []struct {
		name  string
		build func(p pipeReader, emu *ststest.Server) (oauth2.TokenSource, error)
	}{
		{"exchange, context-aware subject", func(p pipeReader, emu *ststest.Server) (oauth2.TokenSource, error) {
			return NewTokenSource(Config{Subject: p, SubjectTokenType: TokenTypeJWT, Audience: relAud, TokenURL: emu.TokenURL(),
				HTTPOptions: HTTPOptions{HTTPClient: emu.Client()}, Cache: co})
		}},
		{"exchange, oauth2.TokenSource subject", func(p pipeReader, emu *ststest.Server) (oauth2.TokenSource, error) {
			return NewTokenSource(Config{Subject: TokenSourceSubject{Source: p}, SubjectTokenType: TokenTypeAccessToken, Audience: relAud,
				TokenURL: emu.TokenURL(), HTTPOptions: HTTPOptions{HTTPClient: emu.Client()}, Cache: co})
		}},
		{"cache over a plain oauth2.TokenSource", func(p pipeReader, _ *ststest.Server) (oauth2.TokenSource, error) {
			return NewCachedTokenSource(p, co)
		}},
		{"impersonated", func(p pipeReader, emu *ststest.Server) (oauth2.TokenSource, error) {
			return newImpersonatedTokenSource(impConfig{Source: p, URL: emu.ImpersonationURL(relSA), HTTPOptions: HTTPOptions{HTTPClient: emu.Client()}, Cache: co})
		}},
	}
	for _, l := range layers {
		t.Run(l.name, func(t *testing.T) {
			before := goleak.IgnoreCurrent()
			emu := ststest.NewInMemoryServer(ststest.Options{})
			defer emu.Close()
			fifo := filepath.Join(t.TempDir(), "pipe")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			ts, err := l.build(pipeReader{fifo}, emu)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = ts.Token()
			if took := time.Since(start); took < deadline {
				t.Errorf("ended after %v, before the refresh deadline", took)
			}
			if !errors.Is(err, context.DeadlineExceeded) || !IsTemporary(err) {
				t.Errorf("err = %v, want a temporary error wrapping the deadline", err)
			}
			// A writer releases the hung open; the late answer is dropped
			// and its goroutine ends (checked below and by TestMain).
			w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			w.WriteString("late")
			w.Close()
			emu.Close()
			if err := goleak.Find(before); err != nil {
				t.Error(err)
			}
		})
	}
}
