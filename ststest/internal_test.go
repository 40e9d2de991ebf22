package ststest

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestServeAbort(t *testing.T) {
	abort := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	if !serve(abort, httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil)) {
		t.Fatal("ErrAbortHandler not reported as aborted")
	}
	defer func() {
		if v := recover(); v == nil || v.(error).Error() != "boom" {
			t.Fatalf("recovered %v, want the handler's panic", v)
		}
	}()
	serve(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(errors.New("boom")) }),
		httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
}

func TestResetWithoutHijack(t *testing.T) {
	// A ResponseWriter that cannot be hijacked aborts the handler instead.
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler", v)
		}
	}()
	resetConn(httptest.NewRecorder())
}
