package bench

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/auth"
	authexternal "cloud.google.com/go/auth/credentials/externalaccount"
	"golang.org/x/oauth2"
	oauthexternal "golang.org/x/oauth2/google/externalaccount"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/ststest"
)

// The workload identity pool provider every exchange names.
const audience = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/prov"

// A subject token as a Kubernetes projected service account token file
// would hold it (an unsigned JWT is enough for the emulator).
const subjectJWT = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YmVuY2g6YmVuY2giLCJleHAiOjQxMDI0NDQ4MDB9.c2ln"

// The three libraries, in table order.
var libraries = []string{"sts", "oauth2", "auth"}

// env is what every library's source is built from: one emulator reached
// through one HTTP client, and one subject token file.
type env struct {
	srv     *ststest.Server
	client  *http.Client
	subject string
	held    *serverRef // what the test's cleanup closes
}

// serverRef is the emulator a test's cleanup closes, unless close has.
type serverRef struct{ srv *ststest.Server }

// close closes the emulator now and drops the test's reference to it (its
// cleanup would keep it, and every request it recorded, alive until the
// test ends): the benchmarks replace their emulator every chunk ops.
func (e *env) close() {
	e.srv.Close()
	e.held.srv = nil
}

// newEnv starts an in-memory emulator (it works inside synctest bubbles, and
// answers any URL, which the anchors' downscoping needs since its endpoint
// is fixed) and writes the subject token file.
func newEnv(tb testing.TB, opts ststest.Options) *env {
	tb.Helper()
	return envOf(tb, ststest.NewInMemoryServer(opts))
}

// newTCPEnv starts the emulator on a loopback port instead: the libraries
// then reach it through a real http.Transport over TCP (kept-alive
// connections), as they reach STS.
func newTCPEnv(tb testing.TB, opts ststest.Options) *env {
	tb.Helper()
	return envOf(tb, ststest.NewServer(opts))
}

func envOf(tb testing.TB, srv *ststest.Server) *env {
	tb.Helper()
	held := &serverRef{srv}
	tb.Cleanup(func() {
		if held.srv != nil {
			held.srv.Close()
		}
	})
	path := filepath.Join(tb.TempDir(), "subject.jwt")
	if err := os.WriteFile(path, []byte(subjectJWT), 0o600); err != nil {
		tb.Fatal(err)
	}
	return &env{srv: srv, client: srv.Client(), subject: path, held: held}
}

// exchanges counts the token exchanges the emulator received.
func (e *env) exchanges() int { return e.srv.Count("/v1/token") }

// getter is one library's cached external-account source reduced to what
// the scenarios look at.
type getter func(ctx context.Context) (value string, expiry time.Time, err error)

// newSTS builds sts's cached source: an exchange of the file subject,
// behind the refresh-ahead cache (default options unless given).
func newSTS(tb testing.TB, e *env, cache sts.CacheOptions) *sts.CachedTokenSource {
	tb.Helper()
	ts, err := sts.NewTokenSource(sts.Config{
		Subject:          sts.FileSubject{Path: e.subject},
		SubjectTokenType: sts.TokenTypeJWT,
		Audience:         audience,
		Scopes:           []string{sts.CloudPlatformScope},
		TokenURL:         e.srv.TokenURL(),
		HTTPOptions:      sts.HTTPOptions{HTTPClient: e.client},
		Cache:            cache,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return ts
}

// newOAuth2 builds golang.org/x/oauth2/google/externalaccount's source
// (an oauth2.ReuseTokenSource around the exchange).
func newOAuth2(tb testing.TB, e *env) oauth2.TokenSource {
	tb.Helper()
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, e.client)
	ts, err := oauthexternal.NewTokenSource(ctx, oauthexternal.Config{
		Audience:         audience,
		SubjectTokenType: sts.TokenTypeJWT,
		TokenURL:         e.srv.TokenURL(),
		Scopes:           []string{sts.CloudPlatformScope},
		CredentialSource: &oauthexternal.CredentialSource{File: e.subject},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return ts
}

// newAuth builds cloud.google.com/go/auth/credentials/externalaccount's
// credentials (a NewCachedTokenProvider around the exchange).
func newAuth(tb testing.TB, e *env) *auth.Credentials {
	tb.Helper()
	creds, err := authexternal.NewCredentials(&authexternal.Options{
		Audience:         audience,
		SubjectTokenType: sts.TokenTypeJWT,
		TokenURL:         e.srv.TokenURL(),
		Scopes:           []string{sts.CloudPlatformScope},
		CredentialSource: &authexternal.CredentialSource{File: e.subject},
		Client:           e.client,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return creds
}

// newGetter builds the named library's source with default options.
func newGetter(tb testing.TB, lib string, e *env) getter {
	tb.Helper()
	switch lib {
	case "sts":
		return stsGetter(newSTS(tb, e, sts.CacheOptions{}))
	case "oauth2":
		return oauth2Getter(newOAuth2(tb, e))
	case "auth":
		return authGetter(newAuth(tb, e))
	}
	tb.Fatalf("unknown library %q", lib)
	return nil
}

func stsGetter(ts sts.ContextTokenSource) getter {
	return func(ctx context.Context) (string, time.Time, error) {
		t, err := ts.TokenContext(ctx)
		if err != nil {
			return "", time.Time{}, err
		}
		return t.AccessToken, t.Expiry, nil
	}
}

func oauth2Getter(ts oauth2.TokenSource) getter {
	return func(context.Context) (string, time.Time, error) {
		t, err := ts.Token()
		if err != nil {
			return "", time.Time{}, err
		}
		return t.AccessToken, t.Expiry, nil
	}
}

func authGetter(tp auth.TokenProvider) getter {
	return func(ctx context.Context) (string, time.Time, error) {
		t, err := tp.Token(ctx)
		if err != nil {
			return "", time.Time{}, err
		}
		return t.Value, t.Expiry, nil
	}
}

// switchTransport forwards to the transport it holds; the scale test drops
// the emulator after filling its sources by clearing it, so that the
// emulator's own memory (it records every request) is not counted.
type switchTransport struct {
	rt atomic.Pointer[http.RoundTripper]
}

func (s *switchTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	p := s.rt.Load()
	if p == nil {
		return nil, http.ErrServerClosed
	}
	return (*p).RoundTrip(r)
}
