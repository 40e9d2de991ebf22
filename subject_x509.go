package sts

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/stsgo/sts/internal/fsutil"
	"github.com/stsgo/sts/internal/httpx"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"weak"
)

// CertificateConfigEnv names the environment variable that holds the path of
// the certificate configuration when X509Subject.UseDefaultCertificateConfig
// is set.
const CertificateConfigEnv = "GOOGLE_API_CERTIFICATE_CONFIG"

// maxCertFileSize bounds every file an X509Subject reads.
const maxCertFileSize = 1 << 20

// X509Subject is the subject-token provider of certificate-based workload
// identity federation (subject token type TokenTypeMTLS). The workload holds
// an X.509 certificate and its private key; the subject token is the JSON
// array of the standard-base64 DER certificates (the leaf, then the optional
// trust chain), and the token exchange itself goes over mutual TLS with that
// certificate: the Exchanger built from a Config with an X509Subject uses an
// HTTP client that presents it. Google serves mutual TLS at the mTLS host, so
// set Config.TokenURL to "https://sts.mtls.googleapis.com/v1/token" (the
// token_url gcloud writes for such pools).
//
// The certificate and key file names come from a certificate configuration
// file, as gcloud writes it:
//
//	{"cert_configs": {"workload": {"cert_path": "/path/cert.pem", "key_path": "/path/key.pem"}}}
//
// Relative paths in it are relative to the configuration file's directory.
// Exactly one of CertificateConfigFile and UseDefaultCertificateConfig must
// be set. The configuration, the certificate and the key are checked when the
// token source is built; afterwards they are read again whenever the files
// change (by modification time or size), so a rotated key pair is picked up
// by the next subject token and the next TLS handshake. While a rotation
// leaves a certificate and key that do not match, the last good pair is
// presented.
//
// Use an X509Subject through a pointer. Copying one is safe: copies share the
// loaded key pair when made after first use. The exported fields must not be
// changed while the provider is in use. The private key never appears in an
// error or in String's output.
type X509Subject struct {
	// CertificateConfigFile is the path of the certificate configuration
	// (the credential file's "certificate_config_location").
	CertificateConfigFile string
	// UseDefaultCertificateConfig selects the configuration named by the
	// GOOGLE_API_CERTIFICATE_CONFIG environment variable, or else gcloud's
	// default, ~/.config/gcloud/certificate_config.json
	// (%APPDATA%\gcloud\certificate_config.json on Windows) (the file's
	// "use_default_certificate_config").
	UseDefaultCertificateConfig bool
	// TrustChainFile is an optional PEM file of the certificates that chain
	// the leaf to a trust anchor configured in the pool (the file's
	// "trust_chain_path"). Empty means the subject token holds the leaf only.
	// A leaf repeated as its first certificate is dropped; the leaf anywhere
	// else in it is an error.
	TrustChainFile string
	// Getenv reads the environment (for UseDefaultCertificateConfig). Nil
	// means os.Getenv.
	Getenv func(string) string

	state atomic.Value // *x509State, shared by copies
}

var _ SubjectTokenProvider = (*X509Subject)(nil)

// SourceKind returns "x509".
func (s *X509Subject) SourceKind() string { return "x509" }

// SubjectTokenTypes returns TokenTypeMTLS.
func (s *X509Subject) SubjectTokenTypes() []string { return []string{TokenTypeMTLS} }

// String describes the provider without any key material.
func (s *X509Subject) String() string {
	if s == nil {
		return "sts.X509Subject(nil)"
	}
	return fmt.Sprintf("sts.X509Subject{CertificateConfigFile:%q UseDefaultCertificateConfig:%t TrustChainFile:%q}",
		s.CertificateConfigFile, s.UseDefaultCertificateConfig, s.TrustChainFile)
}

// GoString is String, so %#v shows no key material either.
func (s *X509Subject) GoString() string { return s.String() }

func (s *X509Subject) getenv(k string) string {
	if s.Getenv != nil {
		return s.Getenv(k)
	}
	return os.Getenv(k)
}

// configPath resolves the certificate configuration's path.
func (s *X509Subject) configPath() (string, error) {
	switch {
	case s.CertificateConfigFile != "" && s.UseDefaultCertificateConfig:
		return "", invalid("X509Subject.UseDefaultCertificateConfig", "must not be set together with X509Subject.CertificateConfigFile")
	case s.CertificateConfigFile != "":
		return s.CertificateConfigFile, nil
	case !s.UseDefaultCertificateConfig:
		return "", invalid("X509Subject.CertificateConfigFile", "must be set unless X509Subject.UseDefaultCertificateConfig is")
	}
	if p := s.getenv(CertificateConfigEnv); p != "" {
		return p, nil
	}
	if runtime.GOOS == "windows" {
		if d := s.getenv("APPDATA"); d != "" {
			return filepath.Join(d, "gcloud", "certificate_config.json"), nil
		}
	} else if h := s.getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "gcloud", "certificate_config.json"), nil
	}
	return "", invalid("X509Subject.UseDefaultCertificateConfig", "%s is not set and the home directory is unknown", CertificateConfigEnv)
}

// Validate checks the configuration and that the files it names hold a
// usable key pair and chain, naming the offending field.
func (s *X509Subject) Validate() error {
	if s == nil {
		return invalid("X509Subject", "must not be nil")
	}
	path, err := s.configPath()
	if err != nil {
		return err
	}
	st := s.shared(path)
	if _, err := st.subjectToken(); err != nil {
		var xe *x509Error
		if errors.As(err, &xe) {
			field := "X509Subject.CertificateConfigFile"
			switch {
			case xe.field == "trust_chain":
				field = "X509Subject.TrustChainFile"
			case s.CertificateConfigFile == "":
				field = "X509Subject.UseDefaultCertificateConfig"
			}
			return invalid(field, "%s", xe.msg)
		}
		return err
	}
	return nil
}

// SubjectToken returns the JSON array of base64 DER certificates: the leaf of
// the current key pair, then the trust chain. File and format problems are
// *Error values with Op "subject".
func (s *X509Subject) SubjectToken(ctx context.Context, _ SubjectRequest) (string, error) {
	if s == nil {
		return "", invalid("X509Subject", "must not be nil")
	}
	path, err := s.configPath()
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", &Error{Op: "subject", Err: httpx.Transient(err)}
	}
	tok, err := s.shared(path).subjectToken()
	if err != nil {
		var xe *x509Error
		if errors.As(err, &xe) {
			return "", &Error{Op: "subject", Err: xe}
		}
		return "", err
	}
	return tok, nil
}

// ExchangeClient returns a copy of base (or of http.DefaultClient) whose
// transport presents the current key pair as its TLS client certificate. The
// base transport must be an *http.Transport (or nil); its settings are kept.
func (s *X509Subject) ExchangeClient(base *http.Client) (*http.Client, error) {
	path, err := s.configPath()
	if err != nil {
		return nil, err
	}
	st := s.shared(path)
	if base == nil {
		base = http.DefaultClient
	}
	var tr *http.Transport
	switch t := base.Transport.(type) {
	case nil:
		tr = http.DefaultTransport.(*http.Transport).Clone()
	case *http.Transport:
		tr = t.Clone()
	default:
		return nil, invalid("Config.HTTPClient", "X.509 federation needs the client's Transport to be an *http.Transport (or nil) to present the certificate, got %T", base.Transport)
	}
	var tc *tls.Config
	if tr.TLSClientConfig != nil {
		tc = tr.TLSClientConfig.Clone()
	} else {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tc.Certificates = nil
	tc.GetClientCertificate = st.clientCertificate
	tr.TLSClientConfig = tc
	st.track(tr)
	c := *base
	c.Transport = tr
	return &c, nil
}

func (s *X509Subject) shared(configPath string) *x509State {
	key := x509Key{configPath, s.TrustChainFile}
	for {
		old, _ := s.state.Load().(*x509State)
		if old != nil && old.key == key {
			return old
		}
		n := &x509State{key: key}
		var prev any
		if old != nil {
			prev = old
		}
		if s.state.CompareAndSwap(prev, n) {
			return n
		}
	}
}

// x509Error is a problem with the files an X509Subject reads. It never
// holds file contents.
type x509Error struct {
	field string // "config", "cert", "key", "trust_chain"
	msg   string
	err   error
}

func (e *x509Error) Error() string { return "x509: " + e.msg }
func (e *x509Error) Unwrap() error { return e.err }

func x509Errorf(field string, err error, format string, args ...any) *x509Error {
	return &x509Error{field: field, msg: fmt.Sprintf(format, args...), err: err}
}

type x509Key struct{ configPath, chainPath string }

// fileStamp identifies a version of a file.
type fileStamp struct {
	path    string
	size    int64
	modTime time.Time
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{path, fi.Size(), fi.ModTime()}, nil
}

// x509State holds the loaded key pair, reloaded when the files change.
type x509State struct {
	key x509Key

	mu        sync.Mutex
	cfgStamp  fileStamp
	certStamp fileStamp
	keyStamp  fileStamp
	certPath  string
	keyPath   string
	pair      *tls.Certificate // last good pair, or nil
	// transports are those of the exchange clients presenting the pair,
	// held weakly: an Exchanger that is dropped takes its transport with
	// it, however many Exchangers are built from one X509Subject.
	transports []weak.Pointer[http.Transport]
}

func (st *x509State) track(tr *http.Transport) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.transports = slices.DeleteFunc(st.transports, func(p weak.Pointer[http.Transport]) bool { return p.Value() == nil })
	st.transports = append(st.transports, weak.Make(tr))
}

// current returns the key pair, reading the files again if they changed.
// When they changed into something unusable, it returns the error and the
// last good pair (nil before the first success).
func (st *x509State) current() (*tls.Certificate, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	cfgStamp, err := stampOf(st.key.configPath)
	if err != nil {
		return st.pair, x509Errorf("config", err, "certificate configuration %s: %s", st.key.configPath, describeFSError(err))
	}
	if cfgStamp != st.cfgStamp || st.certPath == "" {
		data, err := readLimited(st.key.configPath)
		if err != nil {
			return st.pair, x509Errorf("config", err, "certificate configuration %s: %s", st.key.configPath, describeFSError(err))
		}
		certPath, keyPath, err := parseCertificateConfig(data)
		if err != nil {
			return st.pair, x509Errorf("config", err, "certificate configuration %s: %v", st.key.configPath, err)
		}
		dir := filepath.Dir(st.key.configPath)
		if !filepath.IsAbs(certPath) {
			certPath = filepath.Join(dir, certPath)
		}
		if !filepath.IsAbs(keyPath) {
			keyPath = filepath.Join(dir, keyPath)
		}
		st.cfgStamp, st.certPath, st.keyPath = cfgStamp, certPath, keyPath
	}
	cs, err := stampOf(st.certPath)
	if err != nil {
		return st.pair, x509Errorf("cert", err, "certificate %s: %s", st.certPath, describeFSError(err))
	}
	ks, err := stampOf(st.keyPath)
	if err != nil {
		return st.pair, x509Errorf("key", err, "private key %s: %s", st.keyPath, describeFSError(err))
	}
	if st.pair != nil && cs == st.certStamp && ks == st.keyStamp {
		return st.pair, nil
	}
	pair, err := loadKeyPair(st.certPath, st.keyPath)
	if err != nil {
		return st.pair, err
	}
	st.pair, st.certStamp, st.keyStamp = pair, cs, ks
	// Connections made with the previous certificate must not carry a
	// subject token of the new one.
	for _, p := range st.transports {
		tr := p.Value()
		if tr == nil {
			continue
		}
		tr.CloseIdleConnections()
	}
	return pair, nil
}

func (st *x509State) clientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	pair, err := st.current()
	if pair != nil {
		return pair, nil
	}
	return nil, err
}

func (st *x509State) subjectToken() (string, error) {
	pair, err := st.current()
	if err != nil {
		return "", err
	}
	var chain []byte
	if st.key.chainPath != "" {
		chain, err = readLimited(st.key.chainPath)
		if err != nil {
			return "", x509Errorf("trust_chain", err, "trust chain %s: %s", st.key.chainPath, describeFSError(err))
		}
	}
	tok, err := x509SubjectToken(pair.Certificate[0], chain)
	if err != nil {
		return "", x509Errorf("trust_chain", err, "trust chain %s: %v", st.key.chainPath, err)
	}
	return tok, nil
}

// x509SubjectToken builds the subject token from the leaf's DER and the
// trust chain's PEM (possibly empty).
func x509SubjectToken(leaf, chainPEM []byte) (string, error) {
	chain, err := parseCertificateChain(chainPEM)
	if err != nil {
		return "", err
	}
	for i, c := range chain {
		if bytes.Equal(c, leaf) {
			if i == 0 {
				chain = chain[1:]
				break
			}
			return "", fmt.Errorf("the leaf certificate is certificate %d of the chain; it may only come first", i+1)
		}
	}
	out := make([]string, 0, 1+len(chain))
	out = append(out, base64.StdEncoding.EncodeToString(leaf))
	for _, c := range chain {
		out = append(out, base64.StdEncoding.EncodeToString(c))
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// parseCertificateChain returns the DER of every CERTIFICATE block of a PEM
// file. Any other block, a certificate that does not parse, or trailing
// garbage is an error; an empty input is an empty chain.
func parseCertificateChain(data []byte) ([][]byte, error) {
	var out [][]byte
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is a %q, not a CERTIFICATE", len(out)+1, httpx.Truncate(b.Type, 40))
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return nil, fmt.Errorf("certificate %d does not parse: %v", len(out)+1, err)
		}
		out = append(out, b.Bytes)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		if len(out) == 0 {
			return nil, errors.New("no PEM certificate found")
		}
		return nil, errors.New("data after the last PEM certificate is not PEM")
	}
	return out, nil
}

// parseCertificateConfig reads cert_configs.workload.{cert_path,key_path}.
func parseCertificateConfig(data []byte) (certPath, keyPath string, err error) {
	var doc struct {
		CertConfigs *struct {
			Workload *struct {
				CertPath string `json:"cert_path"`
				KeyPath  string `json:"key_path"`
			} `json:"workload"`
		} `json:"cert_configs"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return "", "", fmt.Errorf("not valid JSON (at byte %d)", se.Offset)
		}
		return "", "", errors.New("not a JSON object of the expected shape")
	}
	switch {
	case doc.CertConfigs == nil:
		return "", "", errors.New("no cert_configs")
	case doc.CertConfigs.Workload == nil:
		return "", "", errors.New("no cert_configs.workload")
	case doc.CertConfigs.Workload.CertPath == "":
		return "", "", errors.New("no cert_configs.workload.cert_path")
	case doc.CertConfigs.Workload.KeyPath == "":
		return "", "", errors.New("no cert_configs.workload.key_path")
	}
	return doc.CertConfigs.Workload.CertPath, doc.CertConfigs.Workload.KeyPath, nil
}

// loadKeyPair reads and checks a PEM certificate and private key. Errors
// never quote the key file.
func loadKeyPair(certPath, keyPath string) (*tls.Certificate, error) {
	certPEM, err := readLimited(certPath)
	if err != nil {
		return nil, x509Errorf("cert", err, "certificate %s: %s", certPath, describeFSError(err))
	}
	keyPEM, err := readLimited(keyPath)
	if err != nil {
		return nil, x509Errorf("key", err, "private key %s: %s", keyPath, describeFSError(err))
	}
	if b, _ := pem.Decode(certPEM); b == nil || b.Type != "CERTIFICATE" {
		return nil, x509Errorf("cert", nil, "certificate %s: no PEM CERTIFICATE block", certPath)
	}
	if b, _ := pem.Decode(keyPEM); b == nil || !bytes.Contains([]byte(b.Type), []byte("PRIVATE KEY")) {
		return nil, x509Errorf("key", nil, "private key %s: no PEM PRIVATE KEY block", keyPath)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// crypto/tls's messages name the problem (mismatch, unsupported
		// key type) without key material.
		return nil, x509Errorf("key", nil, "key pair %s, %s: %v", certPath, keyPath, err)
	}
	if pair.Leaf == nil {
		leaf, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			return nil, x509Errorf("cert", nil, "certificate %s does not parse", certPath)
		}
		pair.Leaf = leaf
	}
	return &pair, nil
}

// readLimited reads a regular file only: opening a named pipe or a device
// could block forever, and with it every TLS handshake waiting for the key
// pair.
func readLimited(path string) ([]byte, error) {
	return fsutil.ReadFileLimited(path, maxCertFileSize)
}

// describeFSError renders a file-system error without repeating the path.
func describeFSError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
