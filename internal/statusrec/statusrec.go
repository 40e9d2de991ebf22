// Package statusrec records the status code an HTTP handler answers with,
// for request logs.
package statusrec

import "net/http"

// Writer is an http.ResponseWriter that remembers the first status written
// through it. ResponseWriter must be set.
type Writer struct {
	http.ResponseWriter
	status int
}

// WriteHeader records code, if no status was written before, and passes it
// on.
func (w *Writer) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records 200, if no status was written before, and passes p on.
func (w *Writer) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap returns the wrapped writer, so that http.ResponseController
// reaches the connection.
func (w *Writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Status returns the status written, or 200 if the handler wrote nothing
// (net/http answers 200 then).
func (w *Writer) Status() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
