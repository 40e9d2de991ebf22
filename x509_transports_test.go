package sts

import (
	"runtime"
	"testing"
)

// TestX509SubjectDropsUnusedTransports checks that an X509Subject does not
// keep the transport of every exchange client ever built from it: clients
// that are dropped are collected.
func TestX509SubjectDropsUnusedTransports(t *testing.T) {
	f := newX509Fixture(t)
	s := &X509Subject{CertificateConfigFile: f.config}
	for range 100 {
		if _, err := s.ExchangeClient(nil); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.GC()
	keep, err := s.ExchangeClient(nil) // prunes the collected ones
	if err != nil {
		t.Fatal(err)
	}
	st := s.state.Load().(*x509State)
	st.mu.Lock()
	n := len(st.transports)
	st.mu.Unlock()
	if n > 10 {
		t.Errorf("%d transports tracked after 100 dropped clients, want about 1", n)
	}
	runtime.KeepAlive(keep)
}
