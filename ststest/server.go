// Package ststest provides an in-process emulator of Google's Security Token
// Service (STS) for tests, in the spirit of net/http/httptest.
//
// A Server answers the token exchange endpoints POST /v1/token and
// POST /v1beta/token the way STS does: it validates requests with the same
// rules, answers RFC 6749 error JSON for bad ones, and issues opaque,
// unguessable access tokens that it remembers (see Server.Lookup). Every
// request is recorded (Server.Requests) and faults can be injected
// (Server.PushFaults, Server.SetLatency) to exercise a client's error
// handling and retries.
//
// Like STS, it refuses a JWT subject that is not a JWT or has expired
// (Options.AcceptAnySubject turns this off; Server.SubjectJWT mints
// subjects that pass), with Options.CheckSubjectAudience one whose aud the
// provider does not allow, and, given Options.Providers, an audience
// naming another provider.
//
// Besides token exchange, the server emulates the neighbouring endpoints a
// federation client calls: IAM Credentials generateAccessToken and
// generateIdToken (Server.ImpersonationURL, Server.SetImpersonationCheck)
// and the regional access boundary lookups (Server.SetAllowedLocations), the workforce /v1/oauthtoken endpoint and
// its sign-in (Server.AddRefreshToken, Server.AuthorizeURL), token
// introspection and revocation (Server.IntrospectURL, Server.RevokeURL),
// and the access boundary intermediary token of client-side Credential
// Access Boundaries (Server.Allows checks what a downscoped token may do).
// Other paths get 404. Every endpoint that takes client credentials applies
// the same client policy (see Options.ClientID).
//
// NewServer starts a real HTTP server on a loopback port; NewTLSServer an
// HTTPS one that asks clients for certificates, against which it checks
// certificate-bound tokens (TokenInfo.CertFingerprint); NewInMemoryServer
// builds one that is only reachable through Server.Client, whose transport
// calls the handler in-process without sockets. The in-process form works
// inside testing/synctest bubbles, whether the Server was created inside or
// outside the bubble: everything it waits on is a channel or a timer made by
// the waiting request, and it starts no goroutines.
//
// The package is for tests only: it keeps every request, including subject
// tokens and credentials, in memory.
package ststest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// inMemoryURL is the base URL of a Server built with NewInMemoryServer. It
// names a literal loopback address, which clients accept over plain http,
// with port 0, where nothing can listen: a request that does not go through
// Server.Client fails at once instead of reaching some other server.
const inMemoryURL = "http://127.0.0.1:0"

// DefaultTokenLifetime is the lifetime of issued tokens when
// Options.TokenLifetime is zero.
const DefaultTokenLifetime = time.Hour

// maxBodyBytes bounds request bodies; larger ones get 413.
const maxBodyBytes = 1 << 20

// Options configures a Server. The zero value is an emulator that checks
// subject tokens as STS does (see AcceptAnySubject), knows every provider,
// issues tokens that live one hour, and accepts any client credentials, or
// none.
type Options struct {
	// TokenLifetime is the lifetime of issued access tokens. Zero (or
	// negative) means DefaultTokenLifetime, one hour.
	TokenLifetime time.Duration

	// AcceptAnySubject turns off the subject checks STS makes and the
	// emulator repeats by default: a subject token of the JWT or ID token
	// type must be a JWT (else 400 invalid_grant "Unable to parse the ID
	// Token.") whose exp claim is in the future (else 400 invalid_grant "ID
	// Token issued at N is stale to sign-in."). The emulator verifies no
	// signature. Server.SubjectJWT mints subject tokens that pass.
	AcceptAnySubject bool

	// CheckSubjectAudience adds STS's check of the aud claim of a JWT or
	// ID token subject (a string or an array of strings): it must name an
	// audience the provider allows, that is the request's audience with
	// "https:" in front of its leading "//" (as SubjectJWT mints it) or
	// one of AllowedAudiences; else 400 invalid_grant "The audience in JWT
	// does not match the expected values.". Off by default, so that tests
	// with hand-made subjects keep passing; AcceptAnySubject turns it off.
	CheckSubjectAudience bool

	// AllowedAudiences are the audiences a subject's aud may name besides
	// the default one under CheckSubjectAudience, as the allowed audiences
	// configured on a provider (they apply to every provider). Nil means
	// the default one only.
	AllowedAudiences []string

	// Providers, if not empty, lists the audiences of the workload and
	// workforce identity pool providers the emulator knows, each written
	// as STS expects it ("//iam.googleapis.com/projects/NUMBER/locations/
	// global/workloadIdentityPools/POOL/providers/PROVIDER" or
	// "//iam.googleapis.com/locations/global/workforcePools/POOL/providers/
	// PROVIDER"). A token exchange naming another provider gets what STS
	// answers for a missing or disabled provider: 400 invalid_target. Nil
	// accepts every well-formed audience.
	Providers []string

	// ValidateSubject, if set, is called for every token exchange with the
	// request's subject_token_type and subject_token, after the subject
	// checks. A non-nil error makes the server answer 400 invalid_grant
	// with the error's text as error_description. Nil accepts any non-empty
	// subject token.
	ValidateSubject func(subjectTokenType, subjectToken string) error

	// ClientID and ClientSecret, when ClientID is set, are the only client
	// credentials any endpoint accepts: a request that carries HTTP Basic
	// credentials (or client_id/client_secret body parameters) that do not
	// match both gets 401 invalid_client. When ClientID is empty, any client
	// ID is accepted, with any secret. Requests without client credentials
	// are accepted unless RequireClientAuth is set, except where the
	// endpoint needs the client (the workforce token endpoint, and the
	// revocation of a token issued to a client).
	ClientID, ClientSecret string

	// RequireClientAuth makes requests without client credentials fail with
	// 401 invalid_client on every endpoint that takes them.
	RequireClientAuth bool

	// NoClientAuth makes every endpoint refuse client credentials with 401
	// invalid_client, for tests that check that a client sends none (STS
	// expects none unless the client was given an OAuth client). It cannot
	// be combined with ClientID or RequireClientAuth.
	NoClientAuth bool

	// OnRequest, if set, is called with a copy of every request as soon as
	// it is recorded, before latency, faults and handling: a test can use it
	// to learn that a request arrived (for example to cancel it, or to
	// close the server while it hangs). It runs on the request's goroutine
	// and should return quickly.
	OnRequest func(Request)
}

// String describes the options without the client secret.
func (o Options) String() string {
	secret := ""
	if o.ClientSecret != "" {
		secret = "REDACTED"
	}
	return fmt.Sprintf("ststest.Options{TokenLifetime:%v AcceptAnySubject:%t CheckSubjectAudience:%t AllowedAudiences:%q Providers:%q ValidateSubject:%t ClientID:%q ClientSecret:%s RequireClientAuth:%t NoClientAuth:%t OnRequest:%t}",
		o.TokenLifetime, o.AcceptAnySubject, o.CheckSubjectAudience, o.AllowedAudiences, o.Providers, o.ValidateSubject != nil, o.ClientID, secret, o.RequireClientAuth, o.NoClientAuth, o.OnRequest != nil)
}

// GoString is like String, so that %#v does not print the secret either.
func (o Options) GoString() string { return o.String() }

// Server is an STS emulator. It is an http.Handler. All its methods are safe
// for concurrent use. Close it when done.
type Server struct {
	// URL is the base URL of the server, without a trailing slash: the
	// loopback address of a started server ("http://127.0.0.1:PORT",
	// "https://…" for NewTLSServer), or "http://127.0.0.1:0" for an
	// in-memory one.
	URL string

	opts   Options
	ts     *httptest.Server // nil when in-memory
	mux    *http.ServeMux
	client *http.Client

	cab cabState // client-side access boundary session keys (intermediary.go)

	mu        sync.Mutex
	closed    bool
	waiters   map[chan struct{}]struct{} // requests blocked in wait, released by Close
	tokens    map[string]TokenInfo
	requests  []Request
	faults    []Fault
	latency   time.Duration
	iam       iamState       // iam.go
	oauth     oauthState     // oauthtoken.go
	login     loginState     // login.go: authorization codes
	locations locationsState // locations.go
}

// routes is the emulator's route table: one line per endpoint, as
// "METHOD /path" patterns of net/http.ServeMux. Every route gets request
// recording, latency and fault injection; handlers read the decoded body
// with requestForm.
var routes = []struct {
	pattern string
	handle  func(s *Server, w http.ResponseWriter, r *http.Request)
}{
	{"POST /v1/token", (*Server).serveToken},
	{"POST /v1beta/token", (*Server).serveToken},
	{"POST /v1/projects/{project}/serviceAccounts/{name}", (*Server).serveIAM},
	{"POST /v1/introspect", (*Server).serveIntrospect},
	{"GET /authorize", (*Server).serveAuthorize},
	{"POST /v1/oauthtoken", (*Server).serveOAuthToken},
	{"POST /v1/revoke", (*Server).serveRevoke},
	{"GET /v1/projects/{project}/serviceAccounts/{name}/allowedLocations", (*Server).serveAllowedLocations},
	{"GET /v1/projects/{project}/locations/global/workloadIdentityPools/{pool}/allowedLocations", (*Server).serveAllowedLocations},
	{"GET /v1/locations/global/workforcePools/{pool}/allowedLocations", (*Server).serveAllowedLocations},
}

// NewServer starts an emulator on a loopback port and returns it. Use
// Server.URL or Server.TokenURL as the endpoint and any HTTP client (or
// Server.Client). Close it when done.
func NewServer(opts Options) *Server {
	s := newServer(opts)
	s.ts = httptest.NewServer(s)
	s.URL = s.ts.URL
	s.client = s.ts.Client()
	return s
}

// NewInMemoryServer returns an emulator that does not listen on any socket.
// Its URL is "http://127.0.0.1:0" (a literal loopback address, which
// clients accept over plain http, with a port where nothing can listen) and
// it is reachable only through Server.Client (or
// by calling ServeHTTP directly). It is the form to use inside
// testing/synctest bubbles.
func NewInMemoryServer(opts Options) *Server {
	s := newServer(opts)
	s.URL = inMemoryURL
	s.client = &http.Client{Transport: &memTransport{s: s}}
	return s
}

func newServer(opts Options) *Server {
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = DefaultTokenLifetime
	}
	s := &Server{
		opts:    opts,
		mux:     http.NewServeMux(),
		tokens:  make(map[string]TokenInfo),
		waiters: make(map[chan struct{}]struct{}),
	}
	for _, rt := range routes {
		h := rt.handle
		s.mux.HandleFunc(rt.pattern, func(w http.ResponseWriter, r *http.Request) { h(s, w, r) })
	}
	return s
}

// TokenURL returns the token exchange endpoint, URL+"/v1/token".
func (s *Server) TokenURL() string { return s.URL + "/v1/token" }

// Client returns an HTTP client for the server. For a started server it is
// an ordinary client for its loopback address; for an in-memory one its
// transport calls ServeHTTP in-process, so requests to any URL are answered
// by this server.
func (s *Server) Client() *http.Client { return s.client }

// Close shuts the server down. Requests blocked in a Hang fault or a delay
// are released (their connection is reset). It is safe to call Close more
// than once.
func (s *Server) Close() {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	for ch := range s.waiters {
		close(ch)
		delete(s.waiters, ch)
	}
	s.mu.Unlock()
	if !already && s.ts != nil {
		s.ts.Close()
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// String describes the server without any token, credential or request
// content.
func (s *Server) String() string {
	if s == nil {
		return "ststest.Server(nil)"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("ststest.Server{URL:%q tokens:%d requests:%d queued faults:%d}",
		s.URL, len(s.tokens), len(s.requests), len(s.faults))
}

// GoString is like String.
func (s *Server) GoString() string { return s.String() }

// TokenInfo describes a token the server issued.
type TokenInfo struct {
	// Token is the issued token itself.
	Token string
	// Kind says how the token was obtained: "exchange" (token exchange),
	// "downscoped" (an access token exchanged with an access boundary);
	// other endpoints use "impersonated", "id_token" (IAM generateIdToken;
	// not an access token), "refreshed", "intermediary" and
	// "authorization_code" (a workforce sign-in, see AuthorizeURL).
	Kind string
	// Subject identifies the principal: the "sub" claim of a JWT or ID
	// token subject, the Subject of the original token when the subject was
	// a token this server issued, else an identifier derived from a hash of
	// the subject token (never the subject token itself).
	Subject string
	// SubjectTokenType is the subject_token_type of the exchange.
	SubjectTokenType string
	// Audience is the audience of the exchange ("" for downscoping).
	Audience string
	// Scopes are the requested scopes, in request order. A token obtained
	// by exchanging a token this server issued, without scopes, inherits
	// its scopes.
	Scopes []string
	// AccessBoundary is the accessBoundary member of the request's options
	// (the object holding accessBoundaryRules, compacted), or the subject
	// token's when it was issued here with one, or nil.
	AccessBoundary json.RawMessage
	// UserProject is the userProject member of the request's options.
	UserProject string
	// CertFingerprint is the certificate the token is bound to: the
	// bindCertFingerprint member of the exchange's options (the unpadded
	// base64url SHA-256 of the certificate's DER encoding), or the subject
	// token's when it was issued here bound; "" for a token usable over any
	// connection. A bound token is refused where it is presented over a
	// connection without that client certificate (see NewTLSServer).
	CertFingerprint string
	// IssuedAt and ExpiresAt bound the token's validity.
	IssuedAt, ExpiresAt time.Time
}

// String describes the token information without the token itself.
func (t TokenInfo) String() string {
	return fmt.Sprintf("ststest.TokenInfo{Token:%s Kind:%q Subject:%q SubjectTokenType:%q Audience:%q Scopes:%q AccessBoundary:%s UserProject:%q CertFingerprint:%q IssuedAt:%s ExpiresAt:%s}",
		redacted(t.Token), t.Kind, t.Subject, t.SubjectTokenType, t.Audience, t.Scopes, t.AccessBoundary, t.UserProject,
		t.CertFingerprint, t.IssuedAt.Format(time.RFC3339), t.ExpiresAt.Format(time.RFC3339))
}

// GoString is like String.
func (t TokenInfo) GoString() string { return t.String() }

// Valid reports whether the token is valid at time now.
func (t TokenInfo) Valid(now time.Time) bool {
	return t.Token != "" && now.Before(t.ExpiresAt)
}

func redacted(secret string) string {
	if secret == "" {
		return `""`
	}
	return "REDACTED"
}

// Lookup returns what the server recorded about a token it issued, and
// whether it issued it. Expired tokens are still found; check ExpiresAt.
func (s *Server) Lookup(token string) (TokenInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	info, ok := s.tokens[token]
	return info.clone(), ok
}

func (t TokenInfo) clone() TokenInfo {
	t.Scopes = append([]string(nil), t.Scopes...)
	if t.AccessBoundary != nil {
		t.AccessBoundary = append(json.RawMessage(nil), t.AccessBoundary...)
	}
	return t
}

// issue records a token and returns the completed information. If
// info.Token is empty a new access token is generated; if IssuedAt is zero it
// is now; if ExpiresAt is zero it is IssuedAt plus the configured lifetime.
// Endpoints in other files of the package issue their tokens through it.
func (s *Server) issue(info TokenInfo) TokenInfo {
	if info.Token == "" {
		info.Token = newToken("ststest-at-")
	}
	if info.IssuedAt.IsZero() {
		info.IssuedAt = time.Now()
	}
	if info.ExpiresAt.IsZero() {
		info.ExpiresAt = info.IssuedAt.Add(s.opts.TokenLifetime)
	}
	info = info.clone()
	s.mu.Lock()
	s.tokens[info.Token] = info
	s.mu.Unlock()
	return info.clone()
}

// newToken returns prefix followed by 256 random bits in unpadded base64url.
// The result never contains a '.', so that client-side boundary tokens
// (token "." ciphertext) split unambiguously.
func newToken(prefix string) string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// subjectID derives a stable, non-secret identifier from a secret token.
func subjectID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "subject-" + hex.EncodeToString(sum[:8])
}

// Request is a request the server received, as recorded.
type Request struct {
	// Method and Path are the request's method and URL path.
	Method, Path string
	// Header is a copy of the request header, including Authorization.
	Header http.Header
	// Form holds the body parameters, with snake_case names whatever the
	// body encoding (a JSON body's camelCase names are converted: a
	// "subjectToken" member is recorded as "subject_token"). Non-string
	// JSON members are recorded as their JSON text, arrays as one value
	// per element. It is empty when the body could not be decoded.
	Form url.Values
	// Time is when the server received the request.
	Time time.Time
}

// String describes the request without header values or parameter values,
// which carry credentials and tokens.
func (r Request) String() string {
	hdr := make([]string, 0, len(r.Header))
	for k := range r.Header {
		hdr = append(hdr, k)
	}
	params := make([]string, 0, len(r.Form))
	for k := range r.Form {
		params = append(params, k)
	}
	slices.Sort(hdr)
	slices.Sort(params)
	return fmt.Sprintf("ststest.Request{%s %s headers:%v params:%v at %s}",
		r.Method, r.Path, hdr, params, r.Time.Format(time.RFC3339Nano))
}

// GoString is like String.
func (r Request) GoString() string { return r.String() }

func (r Request) clone() Request {
	r.Header = r.Header.Clone()
	f := make(url.Values, len(r.Form))
	for k, v := range r.Form {
		f[k] = append([]string(nil), v...)
	}
	r.Form = f
	return r
}

// Requests returns copies of all requests received so far, in arrival
// order, whatever their path and outcome (faulted ones included).
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = r.clone()
	}
	return out
}

// Count returns how many requests were received for path (for example
// "/v1/token"); an empty path counts all requests.
func (s *Server) Count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if path == "" {
		return len(s.requests)
	}
	n := 0
	for _, r := range s.requests {
		if r.Path == path {
			n++
		}
	}
	return n
}

// ServeHTTP records the request, applies latency and any queued fault, then
// routes it to the endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, bodyErr := readBody(r)
	var form url.Values
	if bodyErr == nil {
		form, bodyErr = decodeBody(r.Header.Get("Content-Type"), body)
	}
	rec := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Form: url.Values{}, Time: time.Now()}
	if bodyErr == nil {
		rec.Form = form
	}
	s.mu.Lock()
	s.requests = append(s.requests, rec.clone())
	s.mu.Unlock()
	if s.opts.OnRequest != nil {
		s.opts.OnRequest(rec)
	}

	h, pattern := s.mux.Handler(r)
	if pattern == "" { // unknown path or method: no faults, no latency
		h.ServeHTTP(w, r)
		return
	}
	f := s.popFault(r.URL.Path)
	s.mu.Lock()
	delay := s.latency + f.Delay
	s.mu.Unlock()
	if !s.wait(w, r, delay) {
		return
	}
	if f.Hang {
		s.wait(w, r, -1)
		return
	}
	if f.Reset {
		resetConn(w)
		return
	}
	bw := &bufferedWriter{header: http.Header{}}
	if f.canned() {
		f.writeCanned(bw)
	} else {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, parsedBody{form: form, err: bodyErr}))
		h.ServeHTTP(bw, r)
	}
	for k, v := range f.Header {
		bw.header[k] = append([]string(nil), v...)
	}
	if f.RetryAfter != "" {
		bw.header.Set("Retry-After", f.RetryAfter)
	}
	if f.Stall {
		bw.copyTo(w, true)
		if st, ok := w.(staller); ok {
			st.stall()
			return
		}
		_ = http.NewResponseController(w).Flush()
		s.wait(w, r, -1)
		return
	}
	bw.copyTo(w, f.Truncate)
}

// wait sleeps for d (forever when d < 0), returning early with false when the
// request's context ends or the server closes (then the connection is
// reset). It returns true when d elapsed.
func (s *Server) wait(w http.ResponseWriter, r *http.Request, d time.Duration) bool {
	if d == 0 {
		return true
	}
	// The release channel and the timer are made here, on the request's
	// goroutine, so that they belong to the caller's synctest bubble even
	// when the Server was created outside it.
	release := make(chan struct{})
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		resetConn(w)
		return false
	}
	s.waiters[release] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.waiters, release)
		s.mu.Unlock()
	}()
	var tc <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		tc = t.C
	}
	select {
	case <-tc:
		return true
	case <-r.Context().Done():
		return false
	case <-release:
		resetConn(w)
		return false
	}
}

type bodyKey struct{}

type parsedBody struct {
	form url.Values
	err  error
}

// requestForm returns the decoded body parameters of a routed request
// (snake_case names), or an error (*oauthError) to answer with when the body
// was too large or undecodable.
func requestForm(r *http.Request) (url.Values, *oauthError) {
	pb, _ := r.Context().Value(bodyKey{}).(parsedBody)
	if pb.err != nil {
		if oe, ok := pb.err.(*oauthError); ok {
			return nil, oe
		}
		return nil, badRequest("could not decode the request body: %v", pb.err)
	}
	if pb.form == nil {
		return url.Values{}, nil
	}
	return pb.form, nil
}

func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, badRequest("could not read the request body")
	}
	if len(b) > maxBodyBytes {
		return nil, &oauthError{status: http.StatusRequestEntityTooLarge, code: "invalid_request",
			desc: fmt.Sprintf("request body larger than %d bytes", maxBodyBytes)}
	}
	return b, nil
}

// bufferedWriter collects a response so that faults can alter it before it
// is sent.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// copyTo sends the collected response to w. With truncate, it declares the
// full Content-Length (at least 1) but sends only the first half of the
// body.
func (b *bufferedWriter) copyTo(w http.ResponseWriter, truncate bool) {
	h := w.Header()
	for k, v := range b.header {
		h[k] = v
	}
	status := b.status
	if status == 0 {
		status = http.StatusOK
	}
	body := b.body.Bytes()
	if truncate {
		h.Set("Content-Length", fmt.Sprint(max(len(body), 1)))
		body = body[:len(body)/2]
	} else {
		h.Set("Content-Length", fmt.Sprint(len(body)))
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// oauthError is an RFC 6749 error response.
type oauthError struct {
	status int
	code   string
	desc   string
}

func (e *oauthError) Error() string { return e.code + ": " + e.desc }

func badRequest(format string, args ...any) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_request", desc: fmt.Sprintf(format, args...)}
}

// writeOAuthError answers e as RFC 6749 error JSON.
func writeOAuthError(w http.ResponseWriter, e *oauthError) {
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="ststest"`)
	}
	writeJSON(w, e.status, map[string]string{"error": e.code, "error_description": e.desc})
}

// writeJSON answers v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"server_error","error_description":"ststest: could not encode the response"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// camelToSnake converts a JSON member name such as "subjectTokenType" to
// "subject_token_type". Names without upper-case letters are unchanged.
func camelToSnake(name string) string {
	if strings.IndexFunc(name, func(r rune) bool { return r >= 'A' && r <= 'Z' }) < 0 {
		return name
	}
	var b strings.Builder
	for i, r := range name {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
