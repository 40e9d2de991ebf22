// Package x509cert is the engine of certificate-based workload identity
// federation: it finds the certificate configuration gcloud writes, loads
// the key pair it names (again whenever the files change), builds the subject
// token (the leaf and trust chain as base64 DER in a JSON array) and the
// mutual-TLS client of the exchange.
//
// Its checks take the names of the caller's fields (Go fields of
// x509subject.Subject, JSON paths of a credential file).
package x509cert

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
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

	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/errs"
	"github.com/stsgo/sts/internal/errtree"
	"github.com/stsgo/sts/internal/fsutil"
	"github.com/stsgo/sts/internal/httpx"
)

// ConfigEnv names the environment variable that holds the path of the
// default certificate configuration.
const ConfigEnv = "GOOGLE_API_CERTIFICATE_CONFIG"

// maxFileSize bounds every file a source reads.
const maxFileSize = 1 << 20

// Config is where a source finds its files.
type Config struct {
	// ConfigFile is the certificate configuration's path; exactly one of
	// it and UseDefault must be set.
	ConfigFile string
	// UseDefault selects $GOOGLE_API_CERTIFICATE_CONFIG, else gcloud's
	// default location.
	UseDefault bool
	// TrustChainFile is an optional PEM file of the chain.
	TrustChainFile string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
}

// Fields names the Config's fields as the caller wrote them.
type Fields struct {
	ConfigFile, UseDefault, TrustChain string
}

func (c *Config) getenv(k string) string {
	if c.Getenv != nil {
		return c.Getenv(k)
	}
	return os.Getenv(k)
}

// ConfigPath resolves the certificate configuration's path.
func (c *Config) ConfigPath(f Fields) (string, *check.Error) {
	switch {
	case c.ConfigFile != "" && c.UseDefault:
		return "", check.Errorf(f.UseDefault, "must not be set together with %s", f.ConfigFile)
	case c.ConfigFile != "":
		return c.ConfigFile, nil
	case !c.UseDefault:
		return "", check.Errorf(f.ConfigFile, "must be set unless %s is", f.UseDefault)
	}
	if p := c.getenv(ConfigEnv); p != "" {
		return p, nil
	}
	if runtime.GOOS == "windows" {
		if d := c.getenv("APPDATA"); d != "" {
			return filepath.Join(d, "gcloud", "certificate_config.json"), nil
		}
	} else if h := c.getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "gcloud", "certificate_config.json"), nil
	}
	return "", check.Errorf(f.UseDefault, "%s is not set and the home directory is unknown", ConfigEnv)
}

// Check resolves the configuration's path and reads the files it names
// (into sh), reporting a file that does not hold a usable key pair and
// chain under the field that leads to it.
func Check(c Config, f Fields, sh *Shared) *check.Error {
	path, cerr := c.ConfigPath(f)
	if cerr != nil {
		return cerr
	}
	if _, err := sh.Get(path, c.TrustChainFile).SubjectToken(); err != nil {
		field := f.ConfigFile
		switch {
		case err.Part == PartTrustChain:
			field = f.TrustChain
		case c.ConfigFile == "":
			field = f.UseDefault
		}
		return check.Errorf(field, "%s", err.Msg)
	}
	return nil
}

// Client returns a copy of base (or of http.DefaultClient) whose transport
// presents st's current key pair as its TLS client certificate. The base
// transport must be an *http.Transport (or nil); its settings are kept.
// field names base in the error.
func Client(st *State, base *http.Client, field string) (*http.Client, *check.Error) {
	if err := CheckClient(field, base); err != nil {
		return nil, err
	}
	if base == nil {
		base = http.DefaultClient
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if t, ok := base.Transport.(*http.Transport); ok {
		tr = t.Clone()
	}
	var tc *tls.Config
	if tr.TLSClientConfig != nil {
		tc = tr.TLSClientConfig.Clone()
	} else {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tc.Certificates = nil
	tc.GetClientCertificate = st.ClientCertificate
	tr.TLSClientConfig = tc
	st.Track(tr)
	c := *base
	c.Transport = tr
	return &c, nil
}

// CheckClient checks that the client (nil means http.DefaultClient) can be
// the base of Client: its Transport is an *http.Transport, or nil.
func CheckClient(field string, base *http.Client) *check.Error {
	if base == nil {
		return nil
	}
	switch base.Transport.(type) {
	case nil, *http.Transport:
		return nil
	}
	return check.Errorf(field, "X.509 federation needs the client's Transport to be an *http.Transport (or nil) to present the certificate, got %T", base.Transport)
}

// Shared holds the State of a source, shared by copies of the value that
// holds it (when copied after first use). Its zero value is ready to use.
type Shared struct{ v atomic.Value } // *State

// Get returns the State for these files, a new one when they changed since
// the last call.
func (sh *Shared) Get(configPath, chainPath string) *State {
	key := stateKey{configPath, chainPath}
	for {
		old, _ := sh.v.Load().(*State)
		if old != nil && old.key == key {
			return old
		}
		n := &State{key: key}
		var prev any
		if old != nil {
			prev = old
		}
		if sh.v.CompareAndSwap(prev, n) {
			return n
		}
	}
}

// Error is a problem with the files a source reads. It never holds file
// contents.
type Error struct {
	// Not comparable, so that no equality function is linked for it.
	_ [0]func()
	// Part is the file at fault: PartConfig, PartCert, PartKey or
	// PartTrustChain.
	Part string
	// Msg describes the problem, naming the file.
	Msg string
	err error
}

// Parts of an Error.
const (
	PartConfig     = "config"
	PartCert       = "cert"
	PartKey        = "key"
	PartTrustChain = "trust_chain"
)

func (e *Error) Error() string { return "x509: " + e.Msg }

// Unwrap returns the file-system error, if any.
func (e *Error) Unwrap() error { return e.err }

// errorf builds an *Error (out of line: it has a dozen callers).
//
//go:noinline
func errorf(part string, err error, format string, args ...any) *Error {
	return &Error{Part: part, Msg: fmt.Sprintf(format, args...), err: err}
}

type stateKey struct{ configPath, chainPath string }

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

// State holds the loaded key pair, reloaded when the files change.
type State struct {
	key stateKey

	mu        sync.Mutex
	cfgStamp  fileStamp
	certStamp fileStamp
	keyStamp  fileStamp
	certPath  string
	keyPath   string
	pair      *tls.Certificate // last good pair, or nil
	// transports are those of the exchange clients presenting the pair,
	// held weakly: an exchange that is dropped takes its transport with
	// it, however many exchanges are built from one source.
	transports []weak.Pointer[http.Transport]
}

// Track has st close the idle connections of tr when the key pair
// changes. tr is held weakly.
func (st *State) Track(tr *http.Transport) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.transports = slices.DeleteFunc(st.transports, func(p weak.Pointer[http.Transport]) bool { return p.Value() == nil })
	st.transports = append(st.transports, weak.Make(tr))
}

// current returns the key pair, reading the files again if they changed.
// When they changed into something unusable, it returns the error and the
// last good pair (nil before the first success).
func (st *State) current() (*tls.Certificate, *Error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	cfgStamp, err := stampOf(st.key.configPath)
	if err != nil {
		return st.pair, fsError(PartConfig, "certificate configuration", st.key.configPath, err)
	}
	if cfgStamp != st.cfgStamp || st.certPath == "" {
		data, err := readLimited(st.key.configPath)
		if err != nil {
			return st.pair, fsError(PartConfig, "certificate configuration", st.key.configPath, err)
		}
		certPath, keyPath, err := ParseCertificateConfig(data)
		if err != nil {
			return st.pair, errorf(PartConfig, err, "certificate configuration %s: %v", st.key.configPath, err)
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
		return st.pair, fsError(PartCert, "certificate", st.certPath, err)
	}
	ks, err := stampOf(st.keyPath)
	if err != nil {
		return st.pair, fsError(PartKey, "private key", st.keyPath, err)
	}
	if st.pair != nil && cs == st.certStamp && ks == st.keyStamp {
		return st.pair, nil
	}
	pair, xerr := loadKeyPair(st.certPath, st.keyPath)
	if xerr != nil {
		return st.pair, xerr
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

// ClientCertificate is the tls.Config.GetClientCertificate of the exchange
// client: the current key pair, or the last good one while the files hold
// an unusable pair.
func (st *State) ClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	pair, xerr := st.current()
	if pair != nil {
		return pair, nil
	}
	return nil, xerr
}

// Leaf returns the leaf certificate of the current key pair, the one TLS
// handshakes present.
func (st *State) Leaf() (*x509.Certificate, *Error) {
	pair, xerr := st.current()
	if xerr != nil {
		return nil, xerr
	}
	return pair.Leaf, nil
}

// SubjectToken returns the JSON array of base64 DER certificates: the leaf
// of the current key pair, then the trust chain.
func (st *State) SubjectToken() (string, *Error) {
	pair, xerr := st.current()
	if xerr != nil {
		return "", xerr
	}
	var chain []byte
	if st.key.chainPath != "" {
		var err error
		chain, err = readLimited(st.key.chainPath)
		if err != nil {
			return "", fsError(PartTrustChain, "trust chain", st.key.chainPath, err)
		}
	}
	tok, err := SubjectTokenOf(pair.Certificate[0], chain)
	if err != nil {
		return "", errorf(PartTrustChain, err, "trust chain %s: %v", st.key.chainPath, err)
	}
	return tok, nil
}

// SubjectTokenOf builds the subject token from the leaf's DER and the
// trust chain's PEM (possibly empty).
func SubjectTokenOf(leaf, chainPEM []byte) (string, error) {
	chain, err := ParseCertificateChain(chainPEM)
	if err != nil {
		return "", err
	}
	for i, c := range chain {
		if bytes.Equal(c, leaf) {
			if i == 0 {
				chain = chain[1:]
				break
			}
			return "", errs.Errorf("the leaf certificate is certificate %d of the chain; it may only come first", i+1)
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

// ParseCertificateChain returns the DER of every CERTIFICATE block of a PEM
// file. Any other block, a certificate that does not parse, or trailing
// garbage is an error; an empty input is an empty chain.
func ParseCertificateChain(data []byte) ([][]byte, error) {
	var out [][]byte
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, errs.Errorf("PEM block %d is a %q, not a CERTIFICATE", len(out)+1, httpx.Truncate(b.Type, 40))
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return nil, errs.Errorf("certificate %d does not parse: %v", len(out)+1, err)
		}
		out = append(out, b.Bytes)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		if len(out) == 0 {
			return nil, errs.New("no PEM certificate found")
		}
		return nil, errs.New("data after the last PEM certificate is not PEM")
	}
	return out, nil
}

// ParseCertificateConfig reads cert_configs.workload.{cert_path,key_path}.
func ParseCertificateConfig(data []byte) (certPath, keyPath string, err error) {
	var doc struct {
		CertConfigs *struct {
			Workload *struct {
				CertPath string `json:"cert_path"`
				KeyPath  string `json:"key_path"`
			} `json:"workload"`
		} `json:"cert_configs"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		if se, ok := errtree.As[*json.SyntaxError](err); ok {
			return "", "", errs.Errorf("not valid JSON (at byte %d)", se.Offset)
		}
		return "", "", errs.New("not a JSON object of the expected shape")
	}
	switch {
	case doc.CertConfigs == nil:
		return "", "", errs.New("no cert_configs")
	case doc.CertConfigs.Workload == nil:
		return "", "", errs.New("no cert_configs.workload")
	case doc.CertConfigs.Workload.CertPath == "":
		return "", "", errs.New("no cert_configs.workload.cert_path")
	case doc.CertConfigs.Workload.KeyPath == "":
		return "", "", errs.New("no cert_configs.workload.key_path")
	}
	return doc.CertConfigs.Workload.CertPath, doc.CertConfigs.Workload.KeyPath, nil
}

// loadKeyPair reads and checks a PEM certificate and private key. Errors
// never quote the key file.
func loadKeyPair(certPath, keyPath string) (*tls.Certificate, *Error) {
	certPEM, err := readLimited(certPath)
	if err != nil {
		return nil, fsError(PartCert, "certificate", certPath, err)
	}
	keyPEM, err := readLimited(keyPath)
	if err != nil {
		return nil, fsError(PartKey, "private key", keyPath, err)
	}
	if b, _ := pem.Decode(certPEM); b == nil || b.Type != "CERTIFICATE" {
		return nil, errorf(PartCert, nil, "certificate %s: no PEM CERTIFICATE block", certPath)
	}
	if b, _ := pem.Decode(keyPEM); b == nil || !bytes.Contains([]byte(b.Type), []byte("PRIVATE KEY")) {
		return nil, errorf(PartKey, nil, "private key %s: no PEM PRIVATE KEY block", keyPath)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// crypto/tls's messages name the problem (mismatch, unsupported
		// key type) without key material.
		return nil, errorf(PartKey, nil, "key pair %s, %s: %v", certPath, keyPath, err)
	}
	if pair.Leaf == nil {
		leaf, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			return nil, errorf(PartCert, nil, "certificate %s does not parse", certPath)
		}
		pair.Leaf = leaf
	}
	return &pair, nil
}

// readLimited reads a regular file only: opening a named pipe or a device
// could block forever, and with it every TLS handshake waiting for the key
// pair.
func readLimited(path string) ([]byte, error) {
	return fsutil.ReadFileLimited(path, maxFileSize)
}

// fsError is the *Error of a file that cannot be read: what (such as
// "private key") and path, then the file system's reason.
//
//go:noinline
func fsError(part, what, path string, err error) *Error {
	return &Error{Part: part, Msg: what + " " + path + ": " + describeFSError(err), err: err}
}

// describeFSError renders a file-system error without repeating the path.
func describeFSError(err error) string {
	if pe, ok := errtree.As[*fs.PathError](err); ok {
		return pe.Err.Error()
	}
	return err.Error()
}
