package integration

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/ststest"
)

// audience is a made-up workload identity pool provider.
const audience = "//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/pool/providers/oidc"

// exchangeSource returns a cached exchange token source backed by an
// in-memory emulator, and the emulator.
func exchangeSource(t testing.TB) (*sts.CachedTokenSource, *ststest.Server) {
	t.Helper()
	return exchangeSourceWith(t, ststest.Options{})
}

// exchangeSourceWith is exchangeSource with an emulator configured by opts.
func exchangeSourceWith(t testing.TB, opts ststest.Options) (*sts.CachedTokenSource, *ststest.Server) {
	t.Helper()
	emu := ststest.NewInMemoryServer(opts)
	t.Cleanup(emu.Close)
	ts, err := sts.NewTokenSource(sts.Config{
		Subject:          sts.StaticSubject("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3b3JrbG9hZCIsImV4cCI6NDEwMjQ0NDgwMH0.signature"),
		SubjectTokenType: sts.TokenTypeJWT,
		Audience:         audience,
		TokenURL:         emu.TokenURL(),
		HTTPOptions:      sts.HTTPOptions{HTTPClient: emu.Client()},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ts, emu
}

// fakeAPI is a loopback stand-in for a Google API. It answers routes with
// canned JSON after checking that the request carries a Bearer token the
// emulator issued; otherwise it answers 401 like Google's front ends.
type fakeAPI struct {
	*httptest.Server
	emu    *ststest.Server
	mu     sync.Mutex
	seen   []string // paths of authorized requests
	tokens map[string]int
	quota  []string // x-goog-user-project values
	kinds  []string // ststest.TokenInfo.Kind of each authorized request's token
	// allowedLocations holds the x-allowed-locations of each authorized
	// request ("" for none).
	allowedLocations []string
}

func newFakeAPI(t testing.TB, emu *ststest.Server, routes map[string]string) *fakeAPI {
	f := &fakeAPI{emu: emu, tokens: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		// A client-side downscoped token is an intermediary token the
		// emulator issued, a dot, and the sealed boundary.
		intermediary, _, _ := strings.Cut(tok, ".")
		info, issued := emu.Lookup(intermediary)
		if !ok || !issued {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`))
			return
		}
		f.mu.Lock()
		f.kinds = append(f.kinds, info.Kind)
		f.seen = append(f.seen, r.Method+" "+r.URL.Path)
		f.tokens[tok]++
		if q := r.Header.Get("X-Goog-User-Project"); q != "" {
			f.quota = append(f.quota, q)
		}
		f.allowedLocations = append(f.allowedLocations, r.Header.Get("X-Allowed-Locations"))
		f.mu.Unlock()
		body, ok := routes[r.Method+" "+r.URL.Path]
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"code":404,"message":"not found","status":"NOT_FOUND"}}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(f.Close)
	return f
}

// requests returns the authorized requests seen and how many distinct
// tokens they carried.
func (f *fakeAPI) requests() (paths []string, distinctTokens int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...), len(f.tokens)
}

// isSTSError reports whether err wraps an *sts.Error with the OAuth code.
func isSTSError(err error, code string) bool {
	var se *sts.Error
	return errors.As(err, &se) && se.Code == code
}
