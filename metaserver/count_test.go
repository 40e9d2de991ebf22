package metaserver

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/ststest"
)

// emulatedSource is the usual pipeline against the emulator: an exchange
// behind a refresh-ahead cache.
func emulatedSource(t *testing.T, emu *ststest.Server, cache sts.CacheOptions) *sts.CachedTokenSource {
	t.Helper()
	src, err := sts.NewTokenSource(sts.Config{
		Subject:          sts.StaticSubject("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3b3JrbG9hZCIsImV4cCI6NDEwMjQ0NDgwMH0.subject-token"),
		SubjectTokenType: sts.TokenTypeJWT,
		Audience:         "//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/pool/providers/prov",
		TokenURL:         emu.TokenURL(),
		HTTPOptions:      sts.HTTPOptions{HTTPClient: emu.Client()},
		Cache:            cache,
	})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestOneExchangePerLifetime: 100 clients, each on its own connection,
// asking for a token every two minutes for three token lifetimes cause one
// exchange per lifetime, however many requests they make.
func TestOneExchangePerLifetime(t *testing.T) {
	const (
		clients  = 100
		lifetime = time.Hour
		step     = 2 * time.Minute
		steps    = 88 // 176 minutes: three lifetimes, less the expiry margins
	)
	synctest.Test(t, func(t *testing.T) {
		emu := ststest.NewInMemoryServer(ststest.Options{TokenLifetime: lifetime})
		defer emu.Close()
		// No refresh-ahead: a token is replaced when it expires (10 s
		// early), so three lifetimes hold exactly three tokens.
		src := emulatedSource(t, emu, sts.CacheOptions{StaleFraction: 1})
		s := newServer(t, Config{TokenSource: src})
		ln := fixture.NewPipeListener(80)
		srv := &http.Server{Handler: s}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()

		var requests, failures atomic.Int64
		var wg sync.WaitGroup
		for range clients {
			tr := &http.Transport{DialContext: ln.DialContext, MaxConnsPerHost: 1}
			wg.Go(func() {
				defer tr.CloseIdleConnections()
				c := &http.Client{Transport: tr}
				for range steps {
					req, _ := http.NewRequest("GET", "http://127.0.0.1"+tokenPath, nil)
					req.Header.Set("Metadata-Flavor", "Google")
					resp, err := c.Do(req)
					requests.Add(1)
					if err != nil {
						failures.Add(1)
					} else {
						body, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 || !strings.Contains(string(body), `"access_token"`) {
							failures.Add(1)
						}
					}
					time.Sleep(step)
				}
			})
		}
		wg.Wait()
		srv.Close()
		<-served

		if f := failures.Load(); f != 0 {
			t.Errorf("%d of %d requests failed", f, requests.Load())
		}
		if got := emu.Count("/v1/token"); got != 3 {
			t.Errorf("%d exchanges for %d requests over three lifetimes, want 3", got, requests.Load())
		}
		t.Logf("%d clients, %d requests, %d exchanges in %v of virtual time", clients, requests.Load(), emu.Count("/v1/token"), steps*step)
	})
}
