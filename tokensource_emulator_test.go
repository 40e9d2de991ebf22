package sts

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stsgo/sts/ststest"
)

func emulatorConfig(s *ststest.Server) Config {
	return Config{
		Subject:          StaticSubject(secretSubject),
		SubjectTokenType: TokenTypeJWT,
		Audience:         testAudience,
		TokenURL:         s.TokenURL(),
		HTTPOptions:      HTTPOptions{HTTPClient: s.Client()},
	}
}

// TestEmulatorColdHerdOneExchange: 1,000 goroutines calling Token() on a
// cold source cause exactly one exchange.
func TestEmulatorColdHerdOneExchange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := ststest.NewInMemoryServer(ststest.Options{})
		defer s.Close()
		s.SetLatency(200 * time.Millisecond)
		ts, err := NewTokenSource(emulatorConfig(s))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		tokens := make(chan string, 1000)
		for range 1000 {
			wg.Go(func() {
				tok, err := ts.Token()
				if err != nil {
					t.Error(err)
					return
				}
				tokens <- tok.AccessToken
			})
		}
		wg.Wait()
		close(tokens)
		first := <-tokens
		for tok := range tokens {
			if tok != first {
				t.Fatal("callers got different tokens")
			}
		}
		if n := s.Count("/v1/token"); n != 1 {
			t.Fatalf("exchanges = %d, want 1", n)
		}
		if _, ok := s.Lookup(first); !ok {
			t.Fatal("token not issued by the emulator")
		}
	})
}

// TestEmulatorNoWaitAfterFirstFill: with the emulator answering after
// 200 ms, 64 goroutines calling continuously across three token lifetimes
// never wait for an exchange after the first fill.
func TestEmulatorNoWaitAfterFirstFill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := ststest.NewInMemoryServer(ststest.Options{TokenLifetime: time.Hour})
		defer s.Close()
		s.SetLatency(200 * time.Millisecond)
		ts, err := NewTokenSource(emulatorConfig(s))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ts.Token(); err != nil {
			t.Fatal(err)
		}
		end := time.Now().Add(3 * time.Hour)
		var waited, calls atomic.Int64
		var wg sync.WaitGroup
		for i := range 64 {
			wg.Go(func() {
				time.Sleep(time.Duration(i) * 37 * time.Millisecond)
				for time.Now().Before(end) {
					start := time.Now()
					if _, err := ts.Token(); err != nil {
						t.Error(err)
						return
					}
					calls.Add(1)
					if time.Since(start) > 0 {
						waited.Add(1)
					}
					time.Sleep(5 * time.Second)
				}
			})
		}
		wg.Wait()
		if waited.Load() != 0 {
			t.Fatalf("%d of %d calls waited", waited.Load(), calls.Load())
		}
		if n := s.Count("/v1/token"); n < 4 || n > 5 {
			t.Fatalf("exchanges over 3 lifetimes = %d, want 4 or 5", n)
		}
		t.Logf("%d calls, %d exchanges, none waited", calls.Load(), s.Count("/v1/token"))
	})
}

// TestEmulatorOutageNearExpiry: STS unavailable from 5 minutes before the
// first token's expiry to 2 minutes after: no call fails, because the
// refresh happened earlier.
func TestEmulatorOutageNearExpiry(t *testing.T) {
	if failed := outageFailures(t, CacheOptions{}); failed != 0 {
		t.Fatalf("%d calls failed during the outage", failed)
	}
	// The same outage without refresh-ahead fails calls: the scenario bites.
	if failed := outageFailures(t, CacheOptions{StaleFraction: 1, Jitter: -1}); failed == 0 {
		t.Fatal("without refresh-ahead no call failed: the outage scenario tests nothing")
	}
}

func outageFailures(t *testing.T, co CacheOptions) (failed int) {
	synctest.Test(t, func(t *testing.T) {
		s := ststest.NewInMemoryServer(ststest.Options{TokenLifetime: time.Hour})
		defer s.Close()
		cfg := emulatorConfig(s)
		cfg.Cache = co
		cfg.Retry.InitialBackoff = time.Second
		ts, err := NewTokenSource(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ts.Token(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		outage := false
		for time.Since(start) < 2*time.Hour {
			el := time.Since(start)
			inOutage := el >= 55*time.Minute && el < 62*time.Minute
			if inOutage && !outage {
				for range 1000 {
					s.PushFaults(ststest.UnavailableFault(0))
				}
			} else if !inOutage && outage {
				s.ClearFaults()
			}
			outage = inOutage
			if _, err := ts.Token(); err != nil {
				failed++
			}
			time.Sleep(10 * time.Second)
		}
	})
	return failed
}

// TestEmulatorPermanentErrorNotRetried checks a rejected subject is an
// *Error with STS's code and one request.
func TestEmulatorPermanentErrorNotRetried(t *testing.T) {
	s := ststest.NewServer(ststest.Options{ValidateSubject: func(typ, tok string) error {
		return errors.New("subject token rejected")
	}})
	defer s.Close()
	ts, err := NewTokenSource(emulatorConfig(s))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.Token()
	var se *Error
	if !errors.As(err, &se) || se.Code != "invalid_grant" || se.Temporary() || se.StatusCode != 400 {
		t.Fatalf("err = %#v", err)
	}
	if n := s.Count("/v1/token"); n != 1 {
		t.Fatalf("requests = %d, want 1", n)
	}
	assertNoSecrets(t, err.Error())
}

// TestEmulatorTruncatedAnswerRetried: a 200 whose body is cut short is a
// broken connection, retried like one.
func TestEmulatorTruncatedAnswerRetried(t *testing.T) {
	s := ststest.NewServer(ststest.Options{})
	defer s.Close()
	s.PushFaults(ststest.Fault{Truncate: true})
	cfg := emulatorConfig(s)
	cfg.Retry = RetryPolicy{InitialBackoff: time.Millisecond}
	ts, err := NewTokenSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Token(); err != nil {
		t.Fatalf("truncated answer not retried: %v", err)
	}
	if n := s.Count("/v1/token"); n != 2 {
		t.Fatalf("requests = %d, want 2", n)
	}
}

// TestEmulatorClientCredentialsWithSpecialCharacters: Basic credentials are
// form-encoded (RFC 6749 section 2.3.1) and the emulator decodes them.
func TestEmulatorClientCredentialsWithSpecialCharacters(t *testing.T) {
	id, secret := "client@example.com:42", "s3cr3t/+ with space%"
	s := ststest.NewServer(ststest.Options{ClientID: id, ClientSecret: secret, RequireClientAuth: true})
	defer s.Close()
	cfg := emulatorConfig(s)
	cfg.ClientID, cfg.ClientSecret = id, secret
	ts, err := NewTokenSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Token(); err != nil {
		t.Fatal(err)
	}
	cfg.ClientSecret = "wrong"
	x, _ := newExchanger(cfg)
	var se *Error
	if _, err := x.Token(); !errors.As(err, &se) || se.Code != "invalid_client" {
		t.Fatalf("wrong secret: err = %v", err)
	}
}

// TestEmulatorSubjectAudience: against an emulator checking audiences, a
// subject minted for another provider fails once, with STS's permanent
// invalid_grant as an *Error, and one minted for the configured audience
// is exchanged.
func TestEmulatorSubjectAudience(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{CheckSubjectAudience: true})
	defer s.Close()
	cfg := emulatorConfig(s)
	cfg.Subject = StaticSubject(s.SubjectJWT("u", "//iam.googleapis.com/locations/global/workforcePools/p/providers/q"))
	ts, err := NewTokenSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.Token()
	se, ok := err.(*Error)
	if !ok || se.StatusCode != 400 || se.Code != "invalid_grant" || se.Description != "The audience in JWT does not match the expected values." || se.Temporary() {
		t.Fatalf("wrong audience: %v, want a permanent invalid_grant *Error", err)
	}
	if n := s.Count("/v1/token"); n != 1 {
		t.Errorf("%d exchanges, want 1 (a permanent failure is not retried)", n)
	}
	cfg.Subject = StaticSubject(s.SubjectJWT("u", testAudience))
	if ts, err = NewTokenSource(cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Token(); err != nil {
		t.Fatalf("right audience: %v", err)
	}
}
