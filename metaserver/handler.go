package metaserver

import (
	"context"
	"errors"
	"hash/fnv"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/jsonstr"
)

// Limits on requests.
const (
	maxQuery    = 8192 // bytes of the raw query
	maxAudience = 2048 // bytes of ?audience=
	maxIDToken  = 64 << 10
)

// Content types of the answers, as the real server sends them.
const (
	typeText = "application/text"
	typeJSON = "application/json"
)

// Header values shared by every answer (never modified).
var (
	hdrFlavor  = []string{"Google"}
	hdrServer  = []string{"sts serve"}
	hdrXSS     = []string{"0"}
	hdrFrame   = []string{"SAMEORIGIN"}
	hdrText    = []string{typeText}
	hdrJSON    = []string{typeJSON}
	hdrPlain   = []string{"text/plain; charset=utf-8"}
	hdrNoStore = []string{"no-store"}
	hdrNoSniff = []string{"nosniff"}
)

// Messages of refusals and failures (they hold no request data).
const (
	msgFlavor       = `sts serve: the request needs the header "Metadata-Flavor: Google"`
	msgForwarded    = "sts serve: forwarded requests (with X-Forwarded-For) are refused"
	msgOrigin       = "sts serve: requests from browsers (with an Origin header) are refused"
	msgHost         = "sts serve: requests for this Host are refused (set it to the server's loopback address, localhost or metadata.google.internal)"
	msgNotFound     = "sts serve: no such metadata entry"
	msgNoToken      = "sts serve: no valid access token: fetching one failed (the server's log says why)"
	msgNoIDToken    = "sts serve: no ID token: minting one failed (the server's log says why)"
	msgIDRefused    = "sts serve: minting an ID token was refused (the server's log says why)"
	msgAudience     = "sts serve: non-empty audience parameter required"
	msgWaitChange   = "sts serve: wait_for_change is not supported (values never change)"
	msgNotReady     = "not ready: no valid access token"
	msgMethod       = "sts serve: only GET and HEAD are answered"
	msgQueryTooLong = "sts serve: the query is longer than 8192 bytes"
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if r.URL.Path == ReadinessPath {
		s.serveReadiness(w, r)
		return
	}
	h["Metadata-Flavor"] = hdrFlavor
	h["Server"] = hdrServer
	h["X-Xss-Protection"] = hdrXSS
	h["X-Frame-Options"] = hdrFrame
	switch {
	case len(r.Header["X-Forwarded-For"]) > 0:
		refuse(w, http.StatusForbidden, msgForwarded)
		return
	case len(r.Header["Origin"]) > 0:
		refuse(w, http.StatusForbidden, msgOrigin)
		return
	case !s.hostAllowed(r.Host):
		refuse(w, http.StatusForbidden, msgHost)
		return
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		h["Allow"] = []string{"GET, HEAD"}
		refuse(w, http.StatusMethodNotAllowed, msgMethod)
		return
	case r.URL.Path != "/" && r.Header.Get("Metadata-Flavor") != "Google":
		// The root answers without the header: it is the ping clients
		// use to detect a metadata server, and holds nothing.
		refuse(w, http.StatusForbidden, msgFlavor)
		return
	}

	n, dirSlash := s.tree.lookup(r.URL.Path)
	if n == nil || (dirSlash && !n.isDir()) {
		refuse(w, http.StatusNotFound, msgNotFound)
		return
	}
	if n.isDir() && !dirSlash {
		loc := r.URL.Path + "/"
		if r.URL.RawQuery != "" {
			loc += "?" + r.URL.RawQuery
		}
		h["Location"] = []string{loc}
		h["Content-Type"] = hdrPlain
		w.WriteHeader(http.StatusMovedPermanently)
		return
	}

	var q url.Values
	if r.URL.RawQuery != "" {
		if len(r.URL.RawQuery) > maxQuery {
			refuse(w, http.StatusBadRequest, msgQueryTooLong)
			return
		}
		var err error
		if q, err = url.ParseQuery(r.URL.RawQuery); err != nil {
			refuse(w, http.StatusBadRequest, "sts serve: the query is malformed")
			return
		}
	}
	opts, msg := readOptions(q)
	if msg != "" {
		refuse(w, http.StatusBadRequest, msg)
		return
	}

	switch {
	case n.kind == leafToken && !n.isDir():
		s.serveToken(w, r.Context(), q)
	case n.kind == leafIdentity && !n.isDir():
		s.serveIdentity(w, r.Context(), q)
	case n.isDir() && opts.recursive && opts.alt != "text":
		answer(w, hdrJSON, n.appendJSON(nil))
	case n.isDir() && opts.recursive:
		answer(w, hdrText, n.appendFlat(nil, ""))
	case n.isDir() && opts.alt == "json":
		answer(w, hdrJSON, appendJSONStrings(nil, n.listing()))
	case n.isDir():
		var b []byte
		for _, e := range n.listing() {
			b = append(append(b, e...), '\n')
		}
		answer(w, hdrText, b)
	case opts.alt == "json":
		answer(w, hdrJSON, n.appendJSON(nil))
	default:
		answer(w, hdrText, n.appendText(nil))
	}
}

// options are the query parameters every path takes.
type options struct {
	alt       string // "", "text" or "json"
	recursive bool
}

// readOptions checks alt, recursive and wait_for_change; it returns a
// message for a 400 answer, or "".
func readOptions(q url.Values) (options, string) {
	var o options
	if q == nil {
		return o, ""
	}
	switch alt := strings.ToLower(q.Get("alt")); alt {
	case "", "text", "json":
		o.alt = alt
	default:
		return o, `sts serve: alt must be "text" or "json"`
	}
	switch strings.ToLower(q.Get("recursive")) {
	case "", "false":
	case "true":
		o.recursive = true
	default:
		return o, `sts serve: recursive must be "true" or "false"`
	}
	switch strings.ToLower(q.Get("wait_for_change")) {
	case "", "false":
	case "true":
		return o, msgWaitChange
	default:
		return o, `sts serve: wait_for_change must be "true" or "false"`
	}
	return o, ""
}

// hostAllowed reports whether a request's Host names this server as a
// local client would.
func (s *Server) hostAllowed(host string) bool {
	if s.anyHost || host == "" {
		return true
	}
	host = stripPort(host)
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().IsLoopback() || s.hosts[a.Unmap().String()]
	}
	return s.hosts[strings.ToLower(strings.TrimSuffix(host, "."))]
}

// stripPort returns the host of a Host header value: without its port,
// and without the brackets of an IPv6 literal.
func stripPort(host string) string {
	if strings.HasPrefix(host, "[") {
		if i := strings.IndexByte(host, ']'); i > 0 {
			return host[1:i]
		}
		return host
	}
	if i := strings.IndexByte(host, ':'); i >= 0 && strings.LastIndexByte(host, ':') == i {
		return host[:i]
	}
	return host
}

// answer writes a 200 answer with an ETag.
func answer(w http.ResponseWriter, contentType []string, body []byte) {
	h := w.Header()
	h["Content-Type"] = contentType
	f := fnv.New64a()
	f.Write(body)
	h["Etag"] = []string{strconv.FormatUint(f.Sum64(), 16)}
	w.Write(body)
}

// refuse writes an error answer: a fixed message, never request data.
func refuse(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h["Content-Type"] = hdrPlain
	h["X-Content-Type-Options"] = hdrNoSniff
	w.WriteHeader(status)
	w.Write([]byte(msg + "\n"))
}

// serveToken answers .../token: {"access_token","expires_in","token_type"}.
func (s *Server) serveToken(w http.ResponseWriter, ctx context.Context, q url.Values) {
	scopes, err := s.requestedScopes(q)
	if err != nil {
		refuse(w, http.StatusBadRequest, "sts serve: "+err.Error())
		return
	}
	now := time.Now()
	tok, err := s.token(ctx, scopes, now)
	if err != nil {
		s.warn(ctx, "sts serve: access token fetch failed", err)
		refuse(w, http.StatusServiceUnavailable, msgNoToken)
		return
	}
	secs := int64(300) // a token without expiry: have clients ask again soon
	if !tok.Expiry.IsZero() {
		secs = max(int64(tok.Expiry.Sub(now)/time.Second), 1)
	}
	bp := bufPool.Get().(*[]byte)
	b := append((*bp)[:0], `{"access_token":`...)
	b = jsonstr.AppendString(b, tok.AccessToken, true)
	b = append(b, `,"expires_in":`...)
	b = strconv.AppendInt(b, secs, 10)
	b = append(b, `,"token_type":`...)
	b = jsonstr.AppendString(b, tok.Type(), true)
	b = append(b, '}')
	h := w.Header()
	h["Content-Type"] = hdrJSON
	h["Cache-Control"] = hdrNoStore
	w.Write(b)
	if cap(b) <= 64<<10 {
		*bp = b
		bufPool.Put(bp)
	}
}

// bufPool holds the buffers token answers are built in.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// serveIdentity answers .../identity?audience=: an ID token as text.
func (s *Server) serveIdentity(w http.ResponseWriter, ctx context.Context, q url.Values) {
	aud := q.Get("audience")
	switch {
	case aud == "":
		refuse(w, http.StatusBadRequest, msgAudience)
		return
	case len(aud) > maxAudience:
		refuse(w, http.StatusBadRequest, "sts serve: the audience is longer than 2048 bytes")
		return
	case strings.ContainsFunc(aud, func(r rune) bool { return r < ' ' || r == 0x7f }):
		refuse(w, http.StatusBadRequest, "sts serve: the audience holds a control character")
		return
	}
	switch strings.ToLower(q.Get("format")) {
	case "", "standard", "full":
	default:
		refuse(w, http.StatusBadRequest, `sts serve: format must be "standard" or "full"`)
		return
	}
	switch strings.ToLower(q.Get("licenses")) {
	case "", "true", "false":
	default:
		refuse(w, http.StatusBadRequest, `sts serve: licenses must be "TRUE" or "FALSE"`)
		return
	}
	if s.ids == nil {
		refuse(w, http.StatusNotFound, "sts serve: no identity tokens: "+s.noIdentity)
		return
	}
	tok, err := s.ids.token(ctx, aud)
	if err == nil && (tok == "" || len(tok) > maxIDToken || strings.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r >= 0x7f })) {
		err = errors.New("sts: metaserver: the ID token func returned a malformed token")
	}
	if err != nil {
		s.warn(ctx, "sts serve: ID token mint failed", err)
		var se *sts.Error
		if errors.As(err, &se) && se.StatusCode >= 400 && se.StatusCode < 500 && !se.Temporary() {
			refuse(w, http.StatusForbidden, msgIDRefused)
			return
		}
		refuse(w, http.StatusServiceUnavailable, msgNoIDToken)
		return
	}
	h := w.Header()
	h["Content-Type"] = hdrText
	h["Cache-Control"] = hdrNoStore
	w.Write([]byte(tok))
}

// serveReadiness answers ReadinessPath.
func (s *Server) serveReadiness(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Cache-Control"] = hdrNoStore
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h["Allow"] = []string{"GET, HEAD"}
		refuse(w, http.StatusMethodNotAllowed, msgMethod)
		return
	}
	if err := s.Check(r.Context()); err != nil {
		s.warn(r.Context(), "sts serve: readiness: access token fetch failed", err)
		refuse(w, http.StatusServiceUnavailable, msgNotReady)
		return
	}
	h["Content-Type"] = hdrPlain
	w.Write([]byte("ok\n"))
}
