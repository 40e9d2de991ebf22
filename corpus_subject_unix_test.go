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

// TestNamedPipesDoNotHangProviders: the same for the files of X.509 and
// executable sources.
func TestNamedPipesDoNotHangProviders(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	cert, key, _ := relCertFiles(t, dir)
	conf := filepath.Join(dir, "certificate_config.json")
	writeConf := func(c, k string) {
		if err := os.WriteFile(conf, []byte(`{"cert_configs":{"workload":{"cert_path":`+relJSONQuote(c)+`,"key_path":`+relJSONQuote(k)+`}}}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	allow := func(k string) string {
		if k == "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES" {
			return "1"
		}
		return ""
	}
	cases := map[string]func() error{
		"certificate config": func() error {
			_, err := (&X509Subject{CertificateConfigFile: fifo}).SubjectToken(context.Background(), SubjectRequest{})
			return err
		},
		"certificate": func() error {
			writeConf(fifo, key)
			_, err := (&X509Subject{CertificateConfigFile: conf}).SubjectToken(context.Background(), SubjectRequest{})
			return err
		},
		"private key": func() error {
			writeConf(cert, fifo)
			_, err := (&X509Subject{CertificateConfigFile: conf}).SubjectToken(context.Background(), SubjectRequest{})
			return err
		},
		"trust chain": func() error {
			writeConf(cert, key)
			_, err := (&X509Subject{CertificateConfigFile: conf, TrustChainFile: fifo}).SubjectToken(context.Background(), SubjectRequest{})
			return err
		},
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
