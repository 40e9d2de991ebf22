//go:build unix && !solaris && !illumos && !aix

package x509subject

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/internal/fsutil"
	"github.com/stsgo/sts/internal/fsutil/swaptest"
)

// TestNamedPipesDoNotHang: a certificate configuration, certificate, key or
// chain that is a named pipe nobody writes to fails at once, without
// blocking.
func TestNamedPipesDoNotHang(t *testing.T) {
	dir := t.TempDir()
	fifo := fixture.FIFO(t)
	cert, key, _ := fixture.CertFiles(t, dir)
	conf := filepath.Join(dir, "certificate_config.json")
	writeConf := func(c, k string) {
		if err := os.WriteFile(conf, []byte(`{"cert_configs":{"workload":{"cert_path":`+fixture.JSONQuote(c)+`,"key_path":`+fixture.JSONQuote(k)+`}}}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string]func() error{
		"certificate config": func() error {
			_, err := (&Subject{CertificateConfigFile: fifo}).SubjectToken(context.Background(), sts.SubjectRequest{})
			return err
		},
		"certificate": func() error {
			writeConf(fifo, key)
			_, err := (&Subject{CertificateConfigFile: conf}).SubjectToken(context.Background(), sts.SubjectRequest{})
			return err
		},
		"private key": func() error {
			writeConf(cert, fifo)
			_, err := (&Subject{CertificateConfigFile: conf}).SubjectToken(context.Background(), sts.SubjectRequest{})
			return err
		},
		"trust chain": func() error {
			writeConf(cert, key)
			_, err := (&Subject{CertificateConfigFile: conf, TrustChainFile: fifo}).SubjectToken(context.Background(), sts.SubjectRequest{})
			return err
		},
	}
	for name, call := range cases {
		t.Run(name, func(t *testing.T) {
			fixture.WantNoHang(t, fifo, call, func(t *testing.T, err error) { fixture.CheckCorpusError(t, err, "regular file", isPublic) })
		})
	}
}

// TestFilesSwappedToNamedPipe: every file a Subject reads (the
// certificate configuration, certificate, private key and trust chain) is
// swapped between a regular file and a named pipe while it is read, from
// several goroutines: each read gets the file's content or is refused at
// once as not a regular file. A reader that checked the path and then
// opened it blocked whenever the swap fell in between.
func TestFilesSwappedToNamedPipe(t *testing.T) {
	dir := t.TempDir()
	cert, key, _ := fixture.CertFiles(t, dir)
	certPEM, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	certConfig := func(c, k string) []byte {
		return []byte(`{"cert_configs":{"workload":{"cert_path":` + fixture.JSONQuote(c) + `,"key_path":` + fixture.JSONQuote(k) + `}}}`)
	}
	conf := filepath.Join(dir, "certificate_config.json")
	if err := os.WriteFile(conf, certConfig(cert, key), 0o600); err != nil {
		t.Fatal(err)
	}
	// x509Read reads through a configuration naming the swapped path
	// in the place of one of its files.
	x509Read := func(write func(path string) string, chain bool) func(path string) error {
		return func(path string) error {
			x := &Subject{CertificateConfigFile: write(path)}
			if chain {
				x.CertificateConfigFile, x.TrustChainFile = conf, path
			}
			_, err := x.SubjectToken(context.Background(), sts.SubjectRequest{})
			return err
		}
	}
	confWith := func(name string, c, k func(path string) string) func(path string) string {
		return func(path string) string {
			p := filepath.Join(filepath.Dir(path), name)
			if _, err := os.Stat(p); err != nil {
				// Readers may come at once: each replaces it whole.
				if err := fsutil.WriteFileAtomic(p, certConfig(c(path), k(path)), 0o600); err != nil {
					t.Error(err)
				}
			}
			return p
		}
	}
	same := func(s string) func(string) string { return func(string) string { return s } }
	self := func(path string) string { return path }
	cases := []struct {
		name    string
		content []byte
		read    func(path string) error
	}{
		{"certificate configuration", certConfig(cert, key), x509Read(self, false)},
		{"certificate", certPEM, x509Read(confWith("cert-swapped.json", self, same(key)), false)},
		{"private key", keyPEM, x509Read(confWith("key-swapped.json", same(cert), self), false)},
		{"trust chain", certPEM, x509Read(self, true)},
	}
	refused := func(err error) bool {
		return errors.Is(err, fsutil.ErrNotRegular) && strings.Contains(err.Error(), "not a regular file")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			regular := filepath.Join(t.TempDir(), "file")
			fixture.WriteFile(t, regular, c.content)
			if err := c.read(regular); err != nil {
				t.Fatalf("reading the regular file: %v", err)
			}
			bad, errs := swaptest.Race(t, 1000, "file", c.content, c.read, refused)
			if bad > 0 {
				t.Errorf("%d of 1000 reads opened the named pipe or failed otherwise: %v", bad, errs)
			}
		})
	}
}
