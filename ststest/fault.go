package ststest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Fault is a misbehaviour injected into one request (see Server.PushFaults).
// The fields combine: Delay (plus the server's latency) is waited first, then
// Hang or Reset end the exchange, else a response is produced — the canned
// one described by Status, Body, ContentType and HTML, or the normal answer
// when none of those is set — and then altered by RetryAfter, Header, and
// Truncate or Stall.
//
// The zero Fault lets the request through unchanged, so Fault{Delay: d}
// slows one request and Fault{Truncate: true} cuts one normal answer.
type Fault struct {
	// Path restricts the fault to requests for this URL path (for example
	// "/v1/token"). Empty matches every routed request.
	Path string

	// Status is the HTTP status of the canned response. Zero means 200 when
	// Body is set, 502 when HTML is set.
	Status int
	// Body is the canned response body.
	Body string
	// ContentType is the canned response's Content-Type. Empty means
	// "application/json; charset=utf-8" (or "text/html; charset=utf-8"
	// with HTML).
	ContentType string
	// HTML answers an HTML error page, as a proxy or load balancer in front
	// of the service would. Body, if set, replaces the default page.
	HTML bool

	// RetryAfter, if set, is sent as the Retry-After header.
	RetryAfter string
	// Header holds extra response headers.
	Header http.Header

	// Delay is waited before answering (in addition to the server's
	// latency). The wait ends early when the request's context ends.
	Delay time.Duration
	// Hang blocks the request until its context ends (or the server is
	// closed); no response is written.
	Hang bool
	// Truncate declares the full Content-Length but sends only the first
	// half of the body, so that reading the body fails with an unexpected
	// EOF.
	Truncate bool
	// Stall sends the status, the headers (with the full Content-Length)
	// and the first half of the body, then stops sending until the
	// request's context ends or the server is closed: reading the body
	// blocks, which tests deadlines that cover the body and not only the
	// headers.
	Stall bool
	// Reset drops the connection without any response. With a started
	// server the connection is closed with a TCP reset; the in-memory
	// client's RoundTrip returns an error.
	Reset bool
}

// ErrorFault returns a fault answering an RFC 6749 error, as STS does:
// status with body {"error":code,"error_description":description}.
func ErrorFault(status int, code, description string) Fault {
	b, _ := json.Marshal(map[string]string{"error": code, "error_description": description})
	return Fault{Status: status, Body: string(b)}
}

// GoogleErrorFault returns a fault answering a Google API error, as IAM
// Credentials and Google's front ends do: status with body
// {"error":{"code":status,"message":message,"status":googleStatus}}, for
// example GoogleErrorFault(403, "PERMISSION_DENIED", "denied").
func GoogleErrorFault(status int, googleStatus, message string) Fault {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": status, "message": message, "status": googleStatus}})
	return Fault{Status: status, Body: string(b)}
}

// UnavailableFault returns a fault answering 503 temporarily_unavailable
// with a Retry-After header of the given whole seconds (none when
// retryAfter is zero).
func UnavailableFault(retryAfter time.Duration) Fault {
	f := ErrorFault(http.StatusServiceUnavailable, "temporarily_unavailable", "the service is temporarily unavailable")
	if retryAfter > 0 {
		f.RetryAfter = strconv.FormatInt(int64((retryAfter+time.Second-1)/time.Second), 10)
	}
	return f
}

// PushFaults queues faults. Each routed request takes the first queued fault
// whose Path matches it (FIFO), before normal handling.
func (s *Server) PushFaults(f ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range f {
		x.Header = x.Header.Clone()
		s.faults = append(s.faults, x)
	}
}

// ClearFaults drops every queued fault and returns how many there were; use
// it to end an outage simulated by pushing many faults.
func (s *Server) ClearFaults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.faults)
	s.faults = nil
	return n
}

// SetLatency delays every later answer by d (zero removes the delay). The
// delay uses timers, so it is virtual inside testing/synctest bubbles, and
// ends early when the request's context ends.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = max(d, 0)
}

// popFault removes and returns the first queued fault matching path, or the
// zero Fault.
func (s *Server) popFault(path string) Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Path == "" || f.Path == path {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			return f
		}
	}
	return Fault{}
}

func (f Fault) canned() bool { return f.Status != 0 || f.Body != "" || f.HTML }

func (f Fault) writeCanned(w http.ResponseWriter) {
	status, body, ct := f.Status, f.Body, f.ContentType
	if f.HTML {
		if status == 0 {
			status = http.StatusBadGateway
		}
		if body == "" {
			body = fmt.Sprintf("<!DOCTYPE html>\n<html lang=en><head><title>Error %d</title></head><body><h1>%d %s</h1><p>The server encountered a temporary error.</p></body></html>\n",
				status, status, http.StatusText(status))
		}
		if ct == "" {
			ct = "text/html; charset=utf-8"
		}
	}
	if status == 0 {
		status = http.StatusOK
	}
	if ct == "" {
		ct = "application/json; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// resetter and staller are implemented by the in-memory response writer.
type (
	resetter interface{ reset() }
	staller  interface{ stall() }
)

// resetConn drops the connection under w without a response.
func resetConn(w http.ResponseWriter) {
	if r, ok := w.(resetter); ok {
		r.reset()
		return
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Cannot hijack (HTTP/2): abort the handler, which resets the stream.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
