package statusrec

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		name   string
		handle func(w http.ResponseWriter)
		want   int
	}{
		{"nothing written", func(http.ResponseWriter) {}, http.StatusOK},
		{"body only", func(w http.ResponseWriter) { w.Write([]byte("x")) }, http.StatusOK},
		{"header", func(w http.ResponseWriter) { w.WriteHeader(http.StatusTeapot) }, http.StatusTeapot},
		{"first header wins", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusNotFound)
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte("x"))
		}, http.StatusNotFound},
		{"body then header", func(w http.ResponseWriter) {
			w.Write([]byte("x"))
			w.WriteHeader(http.StatusBadGateway)
		}, http.StatusOK},
	} {
		rec := httptest.NewRecorder()
		w := &Writer{ResponseWriter: rec}
		tc.handle(w)
		if got := w.Status(); got != tc.want {
			t.Errorf("%s: Status() = %d, want %d", tc.name, got, tc.want)
		}
		if rec.Code != tc.want {
			t.Errorf("%s: the wrapped writer got %d, want %d", tc.name, rec.Code, tc.want)
		}
		if w.Unwrap() != rec {
			t.Errorf("%s: Unwrap does not return the wrapped writer", tc.name)
		}
	}
}
