package ststest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
)

// errConnectionReset is the error the in-memory client's transport returns
// (wrapped in a *net.OpError, and by http.Client in a *url.Error) for a
// request dropped by a Reset fault or by closing the server while the
// request waited. Like a real reset it is a net.Error and matches
// syscall.ECONNRESET with errors.Is.
var errConnectionReset error = errno{"connection reset by the emulator", syscall.ECONNRESET}

// errServerClosed is the error the in-memory client's transport returns
// (wrapped in a *net.OpError) once the server is closed. Like a real refused
// connection it is a net.Error and matches syscall.ECONNREFUSED with
// errors.Is.
var errServerClosed error = errno{"server closed", syscall.ECONNREFUSED}

// errno is an emulated network error.
type errno struct {
	msg string
	sys syscall.Errno
}

func (e errno) Error() string            { return "ststest: " + e.msg + " (" + e.sys.Error() + ")" }
func (e errno) Timeout() bool            { return false }
func (e errno) Temporary() bool          { return false }
func (e errno) Is(target error) bool     { return target == e.sys }
func opError(op string, err error) error { return &net.OpError{Op: op, Net: "tcp", Err: err} }

// memTransport is an http.RoundTripper that calls the server's handler in the
// calling goroutine.
type memTransport struct{ s *Server }

func (t *memTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("ststest: reading request body: %w", err)
		}
		body = b
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if t.s.isClosed() {
		return nil, opError("dial", errServerClosed)
	}
	r := req.Clone(ctx)
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.GetBody = nil
	r.RequestURI = req.URL.RequestURI()
	r.RemoteAddr = "127.0.0.1:1"
	if r.Host == "" {
		r.Host = req.URL.Host
	}
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1

	w := &memWriter{header: http.Header{}}
	if aborted := serve(t.s, w, r); aborted || w.wasReset {
		return nil, opError("read", errConnectionReset)
	}
	if err := ctx.Err(); err != nil && !w.wroteHeader {
		return nil, err
	}
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	resp := &http.Response{
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.header.Clone(),
		ContentLength: int64(w.body.Len()),
		Request:       req,
	}
	var rc io.Reader = bytes.NewReader(w.body.Bytes())
	if cl, err := strconv.ParseInt(w.header.Get("Content-Length"), 10, 64); err == nil && cl > int64(w.body.Len()) {
		resp.ContentLength = cl
		rc = io.MultiReader(rc, errReader{io.ErrUnexpectedEOF})
	}
	if w.stalled {
		rc = io.MultiReader(bytes.NewReader(w.body.Bytes()), &stallReader{s: t.s, req: req})
	}
	if req.Method == http.MethodHead {
		rc = bytes.NewReader(nil)
	}
	resp.Body = io.NopCloser(rc)
	return resp, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// memWriter is the in-memory http.ResponseWriter.
type memWriter struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
	wasReset    bool
	stalled     bool
}

func (m *memWriter) Header() http.Header { return m.header }

func (m *memWriter) WriteHeader(status int) {
	if m.wroteHeader {
		return
	}
	m.wroteHeader = true
	m.status = status
}

func (m *memWriter) Write(p []byte) (int, error) {
	m.WriteHeader(http.StatusOK)
	return m.body.Write(p)
}

func (m *memWriter) reset() { m.wasReset = true }

func (m *memWriter) stall() { m.stalled = true }

// stallReader is the rest of a stalled body: reading blocks until the
// request's context ends (then it returns the context's error) or the server
// is closed (then a connection reset).
type stallReader struct {
	s   *Server
	req *http.Request
}

func (r *stallReader) Read([]byte) (int, error) {
	release := make(chan struct{})
	s := r.s
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, opError("read", errConnectionReset)
	}
	s.waiters[release] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.waiters, release)
		s.mu.Unlock()
	}()
	select {
	case <-r.req.Context().Done():
		return 0, r.req.Context().Err()
	case <-release:
		return 0, opError("read", errConnectionReset)
	}
}

// serve calls the handler, turning the http.ErrAbortHandler panic (the
// conventional way for a handler to abort a response) into aborted, as a
// real server would by dropping the connection. Other panics propagate.
func serve(h http.Handler, w http.ResponseWriter, r *http.Request) (aborted bool) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			aborted = true
		}
	}()
	h.ServeHTTP(w, r)
	return false
}
