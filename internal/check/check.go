// Package check holds the module's value checks: each takes the name of the
// field as the caller wrote it (a Go field path such as "Config.Audience",
// or a JSON path such as "credential_source.url") and returns a *Error
// naming it, or nil. Every value is checked by exactly one function here.
//
// Error has exactly the fields of sts.ValidationError, so that a public
// package converts with (*sts.ValidationError)(e).
package check

import (
	"fmt"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stsgo/sts/internal/executable"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/iam"
	"github.com/stsgo/sts/internal/loopback"
)

// Error is an invalid value; see sts.ValidationError.
type Error struct {
	Field  string
	Reason string
}

// Error renders "sts: invalid FIELD: REASON", the text of
// sts.ValidationError too.
func (e *Error) Error() string {
	return fmt.Sprintf("sts: invalid %s: %s", e.Field, e.Reason)
}

// Errorf returns an *Error for field with a formatted reason. It is not
// inlined: it has callers by the hundred, each of which would grow by an
// allocation.
//
//go:noinline
func Errorf(field, format string, args ...any) *Error {
	return &Error{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// spaceOrControl reports a space, a control character or DEL.
func spaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

// Audience checks a pool provider audience: a full resource name starting
// with "//", without spaces or control characters, in any universe.
func Audience(field, aud string) *Error {
	if aud == "" {
		return Errorf(field, "must not be empty")
	}
	if !strings.HasPrefix(aud, "//") {
		return Errorf(field, "must be a full resource name starting with \"//\"")
	}
	if strings.ContainsFunc(aud, spaceOrControl) {
		return Errorf(field, "must not contain spaces or control characters")
	}
	return nil
}

// WorkforceAudience reports whether aud names a workforce pool provider,
// "//iam.UNIVERSE/locations/LOC/workforcePools/POOL/...". An empty
// universe matches any.
func WorkforceAudience(aud, universe string) bool {
	rest, ok := strings.CutPrefix(aud, "//iam.")
	if !ok {
		return false
	}
	host, path, ok := strings.Cut(rest, "/")
	if !ok || (universe != "" && host != universe) {
		return false
	}
	parts := strings.Split(path, "/")
	return len(parts) >= 4 && parts[0] == "locations" && parts[1] != "" && parts[2] == "workforcePools" && parts[3] != ""
}

// Scopes checks that every scope is non-empty and has no spaces; the
// element's field is field+"[i]".
func Scopes(field string, scopes []string) *Error {
	for i, s := range scopes {
		if s == "" || strings.ContainsFunc(s, spaceOrControl) {
			return Errorf(fmt.Sprintf("%s[%d]", field, i), "must be a non-empty scope without spaces")
		}
	}
	return nil
}

// ProjectID checks a project ID that goes in an HTTP header or the options
// JSON.
func ProjectID(field, v string) *Error {
	if len(v) > 100 {
		return Errorf(field, "is longer than 100 bytes")
	}
	if strings.ContainsFunc(v, spaceOrControl) {
		return Errorf(field, "must not contain spaces or control characters")
	}
	return nil
}

// Principal checks a service account e-mail address or unique ID.
func Principal(field, p string) *Error {
	if p == "" {
		return Errorf(field, "service account must not be empty")
	}
	if len(p) > 320 || strings.ContainsAny(p, "/:?#% \t\r\n") || strings.ContainsFunc(p, spaceOrControl) {
		return Errorf(field, "%q is not a service account e-mail address or unique ID", httpx.Truncate(p, 64))
	}
	return nil
}

// Headers checks the HTTP headers a configuration adds to requests (a URL
// subject's): every name must be an RFC 9110 token, reported under field;
// two names may not differ only in case (HTTP does not tell them apart, and
// which one is sent would depend on map order); every value must be visible
// ASCII, spaces and tabs, reported under field+"."+name and never quoted
// (it is often a credential). Names are checked in sorted order, so that
// the error is the same at every run.
func Headers(field string, h map[string]string) *Error {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	seen := make(map[string]string, len(h))
	for _, k := range names {
		if err := Header(field, k, h[k]); err != nil {
			return err
		}
		c := textproto.CanonicalMIMEHeaderKey(k)
		if prev, ok := seen[c]; ok {
			return Errorf(field, "header names %q and %q differ only in case", prev, k)
		}
		seen[c] = k
	}
	return nil
}

// Header checks one HTTP header; see Headers.
func Header(field, name, value string) *Error {
	if name == "" || strings.ContainsFunc(name, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", r)
	}) {
		return Errorf(field, "invalid header name %q", httpx.Truncate(name, 64))
	}
	// RFC 9110 field content: visible characters, spaces and tabs. Bytes
	// past ASCII ("obs-text") are obsolete; in a header of a credential
	// configuration they are a mistake (typographic quotes, say).
	for i := 0; i < len(value); i++ {
		switch b := value[i]; {
		case b == '\r' || b == '\n' || b == 0:
			return Errorf(field+"."+name, "value must not contain line breaks or NUL")
		case b < ' ' && b != '\t', b == 0x7f:
			return Errorf(field+"."+name, "value must not contain control characters")
		case b >= 0x80:
			return Errorf(field+"."+name, "value must be ASCII")
		}
	}
	return nil
}

// NonNegative checks a duration that must not be negative.
func NonNegative(field string, d time.Duration) *Error {
	if d < 0 {
		return Errorf(field, "must not be negative")
	}
	return nil
}

// Retry checks the fields of a retry policy, reported as
// field+".MaxAttempts" and so on.
func Retry(field string, maxAttempts int, initial, max time.Duration) *Error {
	switch {
	case maxAttempts < 0:
		return Errorf(field+".MaxAttempts", "must not be negative")
	case maxAttempts > 20:
		return Errorf(field+".MaxAttempts", "must be at most 20, got %d", maxAttempts)
	case initial < 0:
		return Errorf(field+".InitialBackoff", "must not be negative")
	case max < 0:
		return Errorf(field+".MaxBackoff", "must not be negative")
	}
	return nil
}

// ExecutableTimeout checks the time-out of a credential executable: within
// executable.MinTimeout and MaxTimeout.
func ExecutableTimeout(field string, d time.Duration) *Error {
	return between(field, d, executable.MinTimeout, executable.MaxTimeout)
}

// InteractiveTimeout checks the interactive time-out of a credential
// executable: within executable.MinInteractiveTimeout and
// MaxInteractiveTimeout.
func InteractiveTimeout(field string, d time.Duration) *Error {
	return between(field, d, executable.MinInteractiveTimeout, executable.MaxInteractiveTimeout)
}

func between(field string, d, lo, hi time.Duration) *Error {
	if d < lo || d > hi {
		return Errorf(field, "must be between %s and %s, got %s", lo, hi, d)
	}
	return nil
}

// URL parses the URL of a field: it must be absolute, with a host and
// without user information (which would be a password in the
// configuration).
func URL(field, raw string) (*url.URL, *Error) {
	if raw == "" {
		return nil, Errorf(field, "must not be empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, Errorf(field, "not a valid URL")
	}
	if u.Host == "" {
		return nil, Errorf(field, "URL %q has no host", httpx.RedactURL(u))
	}
	if u.User != nil {
		return nil, Errorf(field, "URL must not carry user information")
	}
	return u, nil
}

// Endpoint checks a URL credentials are sent to: https, or plain http to a
// loopback host (tests, emulators).
func Endpoint(field, raw string) *Error {
	// Programs build many sources for one endpoint (a downscoped source
	// per boundary, say): the last endpoint that passed passes again
	// without being parsed.
	if p := lastEndpoint.Load(); p != nil && *p == raw {
		return nil
	}
	if err := endpoint(field, raw); err != nil {
		return err
	}
	lastEndpoint.Store(&raw)
	return nil
}

// lastEndpoint is the last URL Endpoint accepted.
var lastEndpoint atomic.Pointer[string]

func endpoint(field, raw string) *Error {
	u, err := URL(field, raw)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if Loopback(u.Hostname()) {
			return nil
		}
		return Errorf(field, "plain http is only allowed for loopback hosts (a literal loopback IP address or localhost), got host %q", httpx.Truncate(u.Hostname(), 100))
	default:
		return Errorf(field, "scheme must be https, got %q", u.Scheme)
	}
}

// SourceURL checks a URL a subject token or AWS metadata is read from:
// http or https, since link-local metadata services serve plain http.
func SourceURL(field, raw string) *Error {
	u, err := URL(field, raw)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return Errorf(field, "scheme must be http or https, got %q", httpx.Truncate(u.Scheme, 16))
	}
	return nil
}

// Loopback reports whether host (a host name or IP literal, without port)
// is loopback by the module's one rule (see package internal/loopback): a
// literal loopback IP address, or the bare name "localhost" when the
// system's hosts file gives it only loopback addresses.
func Loopback(host string) bool { return loopback.Is(host) }

// Universe checks a universe domain; empty is accepted (it means the
// default).
func Universe(field, domain string) *Error {
	if domain != "" && !Domain(domain) {
		return Errorf(field, "%q is not a domain name", httpx.Truncate(domain, 100))
	}
	return nil
}

// Domain reports whether d is a DNS name with at least two labels.
func Domain(d string) bool {
	if len(d) > 253 || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") || !strings.Contains(d, ".") {
		return false
	}
	for _, r := range d {
		if !(r == '.' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// ImpersonationLifetime checks the lifetime asked of impersonated access
// tokens: whole seconds between iam.MinLifetime and iam.MaxLifetime.
func ImpersonationLifetime(field string, d time.Duration) *Error {
	if d%time.Second != 0 {
		return Errorf(field, "must be whole seconds, got %v", d)
	}
	if d < iam.MinLifetime || d > iam.MaxLifetime {
		return Errorf(field, "must be between %d and %d seconds, got %d",
			int64(iam.MinLifetime/time.Second), int64(iam.MaxLifetime/time.Second), int64(d/time.Second))
	}
	return nil
}

// ImpersonationURL checks a generateAccessToken URL (an Endpoint whose path
// is ".../projects/PROJECT/serviceAccounts/EMAIL:generateAccessToken") and
// returns its service account.
func ImpersonationURL(field, raw string) (string, *Error) {
	if err := Endpoint(field, raw); err != nil {
		return "", err
	}
	u, _ := url.Parse(raw)
	rest, ok := strings.CutSuffix(u.Path, iam.AccessTokenSuffix)
	if !ok {
		return "", Errorf(field, "path must end with %q", iam.AccessTokenSuffix)
	}
	i := strings.LastIndex(rest, "/serviceAccounts/")
	if i < 0 || !strings.Contains(rest[:i], "/projects/") {
		return "", Errorf(field, "path must be …/projects/-/serviceAccounts/EMAIL%s", iam.AccessTokenSuffix)
	}
	email := rest[i+len("/serviceAccounts/"):]
	if err := Principal(field, email); err != nil {
		return "", err
	}
	return email, nil
}

// SubjectTokenType checks a subject (or actor) token type: one STS takes
// as subject and actor tokens. (A switch rather than a map, which would be
// built at every program's start.)
func SubjectTokenType(field, typ string) *Error {
	switch typ {
	case "":
		return Errorf(field, "must not be empty")
	case "urn:ietf:params:oauth:token-type:jwt",
		"urn:ietf:params:oauth:token-type:id_token",
		"urn:ietf:params:oauth:token-type:saml2",
		"urn:ietf:params:oauth:token-type:access_token",
		"urn:ietf:params:oauth:token-type:mtls",
		"urn:ietf:params:aws:token-type:aws4_request":
		return nil
	}
	return Errorf(field, "unknown token type %q", httpx.Truncate(typ, 100))
}

// Command checks the argv of a credential executable: a program name, and
// no NUL byte in any word.
func Command(field string, argv []string) *Error {
	if len(argv) == 0 {
		return Errorf(field, "must not be empty")
	}
	if argv[0] == "" {
		return Errorf(field, "program name (first word) must not be empty")
	}
	for _, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return Errorf(field, "must not contain NUL bytes")
		}
	}
	return nil
}

// FileName checks a file name: no NUL byte.
func FileName(field, name string) *Error {
	if strings.IndexByte(name, 0) >= 0 {
		return Errorf(field, "must not contain NUL bytes")
	}
	return nil
}
