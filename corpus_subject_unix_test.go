//go:build unix && !solaris && !illumos && !aix

package sts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/internal/fsutil"
	"github.com/stsgo/sts/internal/fsutil/swaptest"
	"github.com/stsgo/sts/ststest"
)

// TestFileSubjectNamedPipeDoesNotHang: a subject token "file" that is a
// named pipe nobody writes to must fail at once, not block the refresh
// forever (opening a FIFO for reading waits for a writer, whatever the
// context says).
func TestFileSubjectNamedPipeDoesNotHang(t *testing.T) {
	fifo := fixture.FIFO(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	fixture.WantNoHang(t, fifo, func() error {
		_, err := FileSubject{Path: fifo}.SubjectToken(ctx, SubjectRequest{})
		return err
	}, func(t *testing.T, err error) { relCheckCorpusError(t, err, "not a regular file") })
}

// TestNamedPipesDoNotHangProviders: the same for the output file of an
// executable source (package x509subject checks its files).
func TestNamedPipesDoNotHangProviders(t *testing.T) {
	fifo := fixture.FIFO(t)
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
			fixture.WantNoHang(t, fifo, call, func(t *testing.T, err error) { relCheckCorpusError(t, err, "regular file") })
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

// pipeReader is a fixture.PipeReader that is also a Subject.
type pipeReader struct{ fixture.PipeReader }

func (p pipeReader) SubjectToken(context.Context, SubjectRequest) (string, error) { return p.Read() }

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
		build func(p fixture.PipeReader, emu *ststest.Server) (oauth2.TokenSource, error)
	}{
		{"exchange, context-aware subject", func(p fixture.PipeReader, emu *ststest.Server) (oauth2.TokenSource, error) {
			return NewTokenSource(Config{Subject: pipeReader{p}, SubjectTokenType: TokenTypeJWT, Audience: relAud, TokenURL: emu.TokenURL(),
				HTTPOptions: HTTPOptions{HTTPClient: emu.Client()}, Cache: co})
		}},
		{"exchange, oauth2.TokenSource subject", func(p fixture.PipeReader, emu *ststest.Server) (oauth2.TokenSource, error) {
			return NewTokenSource(Config{Subject: TokenSourceSubject{Source: p}, SubjectTokenType: TokenTypeAccessToken, Audience: relAud,
				TokenURL: emu.TokenURL(), HTTPOptions: HTTPOptions{HTTPClient: emu.Client()}, Cache: co})
		}},
		{"cache over a plain oauth2.TokenSource", func(p fixture.PipeReader, _ *ststest.Server) (oauth2.TokenSource, error) {
			return NewCachedTokenSource(p, co)
		}},
		{"impersonated", func(p fixture.PipeReader, emu *ststest.Server) (oauth2.TokenSource, error) {
			return newImpersonatedTokenSource(impConfig{Source: p, URL: emu.ImpersonationURL(relSA), HTTPOptions: HTTPOptions{HTTPClient: emu.Client()}, Cache: co})
		}},
	}
	for _, l := range layers {
		t.Run(l.name, func(t *testing.T) { fixture.WantHungPipeCut(t, deadline, IsTemporary, l.build) })
	}
}
