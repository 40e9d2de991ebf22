package downscope_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/downscope"
	"github.com/stsgo/sts/ststest"
	"golang.org/x/oauth2"
)

const (
	workloadAud = "//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/pool-1/providers/prov-1"
	testJWT     = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIiwiYXVkIjoieCIsImV4cCI6NDEwMjQ0NDgwMH0.c2ln"
	bucketA     = "//storage.googleapis.com/projects/_/buckets/bucket-a"
	bucketB     = "//storage.googleapis.com/projects/_/buckets/bucket-b"
)

// rootSource is a cached source of root access tokens from the emulator.
func rootSource(t testing.TB, s *ststest.Server) *sts.CachedTokenSource {
	t.Helper()
	ts, err := sts.NewTokenSource(sts.Config{
		Subject:          sts.StaticSubject(testJWT),
		SubjectTokenType: sts.TokenTypeJWT,
		Audience:         workloadAud,
		TokenURL:         s.TokenURL(),
		HTTPOptions:      sts.HTTPOptions{HTTPClient: s.Client()},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func newMinter(t testing.TB, s *ststest.Server, root oauth2.TokenSource, mod func(*downscope.Config)) *downscope.Minter {
	t.Helper()
	cfg := downscope.Config{Source: root, TokenURL: s.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: s.Client()}}
	if mod != nil {
		mod(&cfg)
	}
	m, err := downscope.NewMinter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type check struct {
	perm, resource, listPrefix string
	want                       bool
}

// boundaryCases are the boundaries both kinds of downscoped token are
// checked against, each with what it must allow and deny.
var boundaryCases = []struct {
	name     string
	boundary *sts.AccessBoundary
	checks   []check
}{
	{
		name:     "bucket rule",
		boundary: &sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{sts.BucketRule("bucket-a", "roles/storage.objectViewer")}},
		checks: []check{
			{"storage.objects.get", bucketA + "/objects/any/object", "", true},
			{"storage.objects.list", bucketA, "", true},
			{"storage.objects.list", bucketA, "x/", true},
			{"storage.objects.create", bucketA + "/objects/new", "", false},
			{"storage.objects.delete", bucketA + "/objects/any/object", "", false},
			{"storage.buckets.get", bucketA, "", false},
			{"storage.objects.get", bucketB + "/objects/any/object", "", false},
			{"storage.objects.get", bucketA + "-other/objects/o", "", false},
		},
	},
	{
		name: "prefix rule",
		boundary: &sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{
			sts.ObjectPrefixRule("bucket-a", "customer-a/", "roles/storage.objectViewer")}},
		checks: []check{
			{"storage.objects.get", bucketA + "/objects/customer-a/report.csv", "", true},
			{"storage.objects.get", bucketA + "/objects/customer-a/deep/er", "", true},
			{"storage.objects.list", bucketA, "customer-a/", true},
			{"storage.objects.list", bucketA, "customer-a/2024/", true},
			{"storage.objects.get", bucketA + "/objects/customer-b/report.csv", "", false},
			{"storage.objects.get", bucketA + "/objects/customer-a", "", false},
			{"storage.objects.list", bucketA, "", false},
			{"storage.objects.list", bucketA, "customer-", false},
			{"storage.objects.list", bucketA, "customer-b/", false},
			{"storage.objects.create", bucketA + "/objects/customer-a/new", "", false},
			{"storage.objects.get", bucketB + "/objects/customer-a/report.csv", "", false},
		},
	},
	{
		name: "several rules",
		boundary: &sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{
			sts.BucketRule("bucket-a", "roles/storage.objectViewer"),
			sts.ObjectPrefixRule("bucket-b", "uploads/", "roles/storage.objectCreator"),
			sts.BucketRule("bucket-c", "roles/storage.legacyBucketReader"),
		}},
		checks: []check{
			{"storage.objects.get", bucketA + "/objects/x", "", true},
			{"storage.objects.create", bucketA + "/objects/x", "", false},
			{"storage.objects.create", bucketB + "/objects/uploads/x", "", true},
			{"storage.objects.create", bucketB + "/objects/downloads/x", "", false},
			{"storage.objects.get", bucketB + "/objects/uploads/x", "", false},
			{"storage.objects.list", "//storage.googleapis.com/projects/_/buckets/bucket-c", "", true},
			{"storage.buckets.get", "//storage.googleapis.com/projects/_/buckets/bucket-c", "", true},
			{"storage.objects.get", "//storage.googleapis.com/projects/_/buckets/bucket-c/objects/x", "", false},
			{"storage.objects.get", "//storage.googleapis.com/projects/_/buckets/bucket-d/objects/x", "", false},
		},
	},
}

func runChecks(t *testing.T, s *ststest.Server, token string, checks []check) {
	t.Helper()
	for _, c := range checks {
		got, err := s.Allows(token, c.perm, c.resource, c.listPrefix)
		if err != nil {
			t.Errorf("Allows(%s on %s, list prefix %q): %v", c.perm, c.resource, c.listPrefix, err)
		} else if got != c.want {
			t.Errorf("Allows(%s on %s, list prefix %q) = %v, want %v", c.perm, c.resource, c.listPrefix, got, c.want)
		}
	}
}

// TestBothKindsAllowExactlyTheBoundary checks server-side and client-side
// downscoped tokens for the same boundaries through the emulator.
func TestBothKindsAllowExactlyTheBoundary(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{})
	defer s.Close()
	root := rootSource(t, s)
	m := newMinter(t, s, root, nil)
	for _, bc := range boundaryCases {
		t.Run(bc.name, func(t *testing.T) {
			t.Run("server-side", func(t *testing.T) {
				ts, err := downscope.NewTokenSource(downscope.Config{
					Source: root, Boundary: bc.boundary, TokenURL: s.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: s.Client()}})
				if err != nil {
					t.Fatal(err)
				}
				tok, err := ts.Token()
				if err != nil {
					t.Fatal(err)
				}
				if info, ok := s.Lookup(tok.AccessToken); !ok || info.Kind != "downscoped" {
					t.Fatalf("lookup: %v %v", info, ok)
				}
				runChecks(t, s, tok.AccessToken, bc.checks)
			})
			t.Run("client-side", func(t *testing.T) {
				cb, err := downscope.Compile(bc.boundary)
				if err != nil {
					t.Fatal(err)
				}
				tok, err := m.Token(context.Background(), cb)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(tok.AccessToken, ".") || tok.Expiry.IsZero() {
					t.Fatalf("client-side token %v", tok.Expiry)
				}
				runChecks(t, s, tok.AccessToken, bc.checks)
				tok2, err := m.TokenSource(cb).Token()
				if err != nil {
					t.Fatal(err)
				}
				runChecks(t, s, tok2.AccessToken, bc.checks)
			})
		})
	}
	// One intermediary token served every client-side boundary.
	if n := intermediaryFetches(s); n != 1 {
		t.Errorf("%d intermediary fetches, want 1", n)
	}
}

func intermediaryFetches(s *ststest.Server) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Form.Get("requested_token_type") == sts.TokenTypeIntermediary {
			n++
		}
	}
	return n
}

func prefixBoundary(t testing.TB) *downscope.CompiledBoundary {
	t.Helper()
	cb, err := downscope.Compile(boundaryCases[1].boundary)
	if err != nil {
		t.Fatal(err)
	}
	return cb
}

func interOf(tok *oauth2.Token) string {
	i, _, _ := strings.Cut(tok.AccessToken, ".")
	return i
}

// rotatingRoot is a root token source the test controls: it serves one
// emulator token until rotate fetches a new one.
type rotatingRoot struct {
	t   testing.TB
	s   *ststest.Server
	mu  sync.Mutex
	tok *oauth2.Token
}

func newRotatingRoot(t testing.TB, s *ststest.Server) *rotatingRoot {
	r := &rotatingRoot{t: t, s: s}
	r.rotate()
	return r
}

func (r *rotatingRoot) rotate() {
	x, err := sts.NewTokenSource(sts.Config{Subject: sts.StaticSubject(testJWT), SubjectTokenType: sts.TokenTypeJWT,
		Audience: workloadAud, TokenURL: r.s.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: r.s.Client()}})
	if err != nil {
		r.t.Fatal(err)
	}
	tok, err := x.Token()
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.tok = tok
	r.mu.Unlock()
}

func (r *rotatingRoot) Token() (*oauth2.Token, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tok, nil
}

// TestMinterWindows runs a Minter for three hours over the package's own
// refresh-ahead root cache, minting every minute, with a slow STS: no call
// waits after the first, every token is accepted, and there is one
// intermediary exchange per root token (no exchange can outlive its root
// token, so none is made while the root token is unchanged).
func TestMinterWindows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := ststest.NewInMemoryServer(ststest.Options{TokenLifetime: time.Hour})
		defer s.Close()
		s.SetLatency(time.Second)
		m := newMinter(t, s, rootSource(t, s), nil)
		ts := m.TokenSource(prefixBoundary(t))
		ctx := context.Background()
		var prev *oauth2.Token
		minLeft := time.Duration(1 << 62)
		for minute := range 180 {
			start := time.Now()
			tok, err := ts.TokenContext(ctx)
			if err != nil {
				t.Fatalf("minute %d: %v", minute, err)
			}
			if waited := time.Since(start); minute > 0 && waited > 0 {
				t.Errorf("minute %d: waited %v for a token", minute, waited)
			}
			minLeft = min(minLeft, time.Until(tok.Expiry))
			if left := time.Until(tok.Expiry); left < 10*time.Minute {
				t.Errorf("minute %d: token with %v left", minute, left)
			}
			if ok, err := s.Allows(tok.AccessToken, "storage.objects.get", bucketA+"/objects/customer-a/x", ""); !ok || err != nil {
				t.Fatalf("minute %d: token rejected: %v %v", minute, ok, err)
			}
			if prev != nil && interOf(prev) == interOf(tok) && prev != tok {
				t.Errorf("minute %d: token re-minted for the same intermediary", minute)
			}
			prev = tok
			synctest.Wait()
			time.Sleep(time.Minute)
		}
		// In order, r for a root exchange and i for an intermediary one:
		// each root token is followed by its one intermediary exchange,
		// except a root token that the root cache fetched ahead after the
		// last mint (its jitter decides whether it does), which no mint
		// has used yet.
		var seq strings.Builder
		inter, roots := 0, 0
		for _, r := range s.Requests() {
			if r.Form.Get("requested_token_type") == sts.TokenTypeIntermediary {
				inter++
				seq.WriteByte('i')
			} else {
				roots++
				seq.WriteByte('r')
			}
		}
		if want := strings.Repeat("ri", inter); roots < 2 || seq.String() != want && seq.String() != want+"r" {
			t.Errorf("%d intermediary exchanges for %d root tokens, in the order %s; want one after each root token (r)", inter, roots, seq.String())
		}
		t.Logf("3 h, minting every minute: %d root tokens, %d intermediary exchanges (%s), shortest lifetime left on a minted token %v", roots, inter, seq.String(), minLeft)
	})
}

// TestMinterBlockingAndFailures: within the blocking window callers wait
// for a fetch; when fetches fail a valid intermediary keeps being used, an
// expired one never is.
func TestMinterBlockingAndFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := ststest.NewInMemoryServer(ststest.Options{TokenLifetime: time.Hour})
		defer s.Close()
		root := newRotatingRoot(t, s)
		var logs bytes.Buffer
		m := newMinter(t, s, root, func(c *downscope.Config) {
			c.Retry = sts.RetryPolicy{MaxAttempts: 1}
			c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		})
		cb := prefixBoundary(t)
		ctx := context.Background()
		first, err := m.Token(ctx, cb)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Minute)
		root.rotate() // expires at 70 min
		// Blocking window (30 min left) with STS failing: the caller
		// waits for the fetch, which fails, and gets a token from the
		// current, still valid intermediary.
		time.Sleep(20*time.Minute + time.Second)
		s.PushFaults(ststest.ErrorFault(503, "temporarily_unavailable", "try later"))
		before := intermediaryFetches(s)
		tok, err := m.Token(ctx, cb)
		if err != nil || interOf(tok) != interOf(first) {
			t.Fatalf("blocking window with failing STS: %v", err)
		}
		if intermediaryFetches(s) != before+1 {
			t.Fatal("no fetch in the blocking window")
		}
		if m.LastError() == nil || !sts.IsTemporary(m.LastError()) {
			t.Fatalf("LastError = %v, want a temporary error", m.LastError())
		}
		// Backoff: no new fetch right away.
		if _, err := m.Token(ctx, cb); err != nil {
			t.Fatal(err)
		}
		if intermediaryFetches(s) != before+1 {
			t.Fatal("fetch retried without backoff")
		}
		// After the backoff, a blocking fetch succeeds and is used.
		time.Sleep(2 * time.Second)
		second, err := m.Token(ctx, cb)
		if err != nil || interOf(second) == interOf(first) {
			t.Fatalf("after backoff: %v, new intermediary %v", err, interOf(second) != interOf(first))
		}
		if got := second.Expiry.Sub(first.Expiry); got != 10*time.Minute {
			t.Fatalf("new intermediary expires %v after the first, want 10m", got)
		}
		// The root is not rotated again: the intermediary is kept to its
		// end without exchanges (none could live longer); past its expiry
		// (minus the margin), with STS failing, there is no token at all.
		before = intermediaryFetches(s)
		for time.Until(second.Expiry) > 15*time.Second {
			if _, err := m.Token(ctx, cb); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Second)
		}
		if intermediaryFetches(s) != before {
			t.Fatalf("%d exchanges with an unchanged root token", intermediaryFetches(s)-before)
		}
		time.Sleep(time.Until(second.Expiry) - 5*time.Second)
		s.PushFaults(ststest.ErrorFault(503, "temporarily_unavailable", "down"))
		if tok, err := m.Token(ctx, cb); err == nil {
			ok, aerr := s.Allows(tok.AccessToken, "storage.objects.get", bucketA+"/objects/customer-a/x", "")
			t.Fatalf("minted near expiry: %v (Allows %v %v)", tok.Expiry, ok, aerr)
		}
		// Without faults, an exchange of a root token about to expire
		// gives an intermediary that is already unusable: still no token.
		if tok, err := m.Token(ctx, cb); err == nil {
			t.Fatalf("minted from an intermediary expiring in %v", time.Until(tok.Expiry))
		}
		synctest.Wait() // background fetches have finished logging
		rootTok, _ := root.Token()
		for _, secret := range []string{rootTok.AccessToken, interOf(first), interOf(second)} {
			if strings.Contains(logs.String(), secret) || strings.Contains(fmt.Sprint(m.LastError()), secret) {
				t.Error("a token appears in the logs or the error")
			}
		}
		if !strings.Contains(logs.String(), "intermediary token fetch failed") {
			t.Errorf("no failure logged: %s", logs.String())
		}
	})
}

// TestMinterSingleFlight: concurrent first callers share one fetch.
func TestMinterSingleFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := ststest.NewInMemoryServer(ststest.Options{})
		defer s.Close()
		s.SetLatency(100 * time.Millisecond)
		m := newMinter(t, s, rootSource(t, s), nil)
		cb := prefixBoundary(t)
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for range 50 {
			wg.Go(func() {
				if _, err := m.Token(context.Background(), cb); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := intermediaryFetches(s); n != 1 {
			t.Fatalf("%d intermediary fetches, want 1", n)
		}
		// A caller whose context ends stops waiting; the fetch goes on.
		m.Invalidate()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		if _, err := m.Token(ctx, cb); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want deadline exceeded", err)
		}
		if _, err := m.Token(context.Background(), cb); err != nil {
			t.Fatal(err)
		}
		if n := intermediaryFetches(s); n != 2 {
			t.Fatalf("%d intermediary fetches, want 2", n)
		}
	})
}

// TestMinterShortLivedIntermediary: an intermediary that lives less than
// the windows assume is still used (the windows shrink with it).
func TestMinterShortLivedIntermediary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := ststest.NewInMemoryServer(ststest.Options{TokenLifetime: 20 * time.Minute})
		defer s.Close()
		m := newMinter(t, s, rootSource(t, s), nil)
		cb := prefixBoundary(t)
		tok, err := m.Token(context.Background(), cb)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(4 * time.Minute) // 16 min left: inside both default windows
		tok2, err := m.Token(context.Background(), cb)
		if err != nil || interOf(tok2) != interOf(tok) {
			t.Fatalf("short-lived intermediary not reused: %v", err)
		}
		synctest.Wait()
		if n := intermediaryFetches(s); n != 1 {
			t.Fatalf("%d fetches, want 1", n)
		}
	})
}

func TestMinterErrors(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{})
	defer s.Close()
	bad := []struct {
		cfg   downscope.Config
		field string
	}{
		{downscope.Config{}, "downscope.Config.Source"},
		{downscope.Config{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "x"}), TokenURL: "http://example.com/v1/token"}, "downscope.Config.TokenURL"},
		{downscope.Config{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "x"}), BlockingWindow: time.Hour}, "downscope.Config.BlockingWindow"},
		{downscope.Config{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "x"}), RefreshWindow: -1}, "downscope.Config.RefreshWindow"},
		{downscope.Config{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "x"}), HTTPOptions: sts.HTTPOptions{Timeout: -1}}, "downscope.Config.Timeout"},
		{downscope.Config{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "x"}), HTTPOptions: sts.HTTPOptions{Retry: sts.RetryPolicy{MaxAttempts: 99}}}, "downscope.Config.Retry.MaxAttempts"},
	}
	for _, b := range bad {
		_, err := downscope.NewMinter(b.cfg)
		var ve *sts.ValidationError
		if !errors.As(err, &ve) || ve.Field != b.field {
			t.Errorf("NewMinter(%v) = %v, want a ValidationError for %s", b.cfg, err, b.field)
		}
	}
	// STS refusing the root token: a permanent *sts.Error without secrets.
	s.PushFaults(ststest.ErrorFault(400, "invalid_grant", "the subject token is invalid"))
	m := newMinter(t, s, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "root-secret-token"}), nil)
	_, err := m.Token(context.Background(), prefixBoundary(t))
	var se *sts.Error
	if !errors.As(err, &se) || se.Code != "invalid_grant" || se.Temporary() {
		t.Fatalf("err = %v, want permanent invalid_grant", err)
	}
	if strings.Contains(err.Error(), "root-secret-token") || strings.Contains(m.String(), "root-secret-token") {
		t.Error("root token leaked")
	}
	if _, err := m.Token(context.Background(), nil); err == nil {
		t.Error("nil boundary accepted")
	}
	// A session key that is not a keyset: a permanent *sts.Error that does
	// not quote it.
	const badKey = "U0VDUkVULUtFWS1NQVRFUklBTA=="
	s.PushFaults(ststest.Fault{Status: 200, Body: `{"access_token":"inter","token_type":"Bearer","access_boundary_session_key":"` + badKey + `"}`})
	m = newMinter(t, s, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "root-secret-token"}), nil)
	_, err = m.Token(context.Background(), prefixBoundary(t))
	if !errors.As(err, &se) || se.Temporary() || !strings.Contains(err.Error(), "access_boundary_session_key") || strings.Contains(err.Error(), badKey) {
		t.Fatalf("bad session key: %v", err)
	}
}

// TestMinterRemembersPermanentFailure: with no intermediary token, a fetch
// refused with invalid_grant is remembered for the backoff: calls in the
// meantime get the same *sts.Error, saying so, without a request; after
// it, a fetch is made again.
func TestMinterRemembersPermanentFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := ststest.NewInMemoryServer(ststest.Options{})
		defer s.Close()
		root := rootSource(t, s)
		if _, err := root.Token(); err != nil {
			t.Fatal(err)
		}
		m := newMinter(t, s, root, nil)
		cb := prefixBoundary(t)
		s.PushFaults(ststest.ErrorFault(400, "invalid_grant", "the subject token is invalid"))
		_, first := m.Token(t.Context(), cb)
		for range 100 {
			_, err := m.Token(t.Context(), cb)
			var se *sts.Error
			if !errors.As(err, &se) || se.Code != "invalid_grant" || se.Temporary() ||
				!strings.Contains(err.Error(), "cached failure, retry after") || !errors.Is(err, first) {
				t.Fatalf("err = %v, want the remembered invalid_grant", err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if n := intermediaryFetches(s); n != 1 {
			t.Fatalf("%d intermediary fetches during the backoff, want 1", n)
		}
		time.Sleep(500 * time.Millisecond)
		if _, err := m.Token(t.Context(), cb); err != nil {
			t.Fatalf("after the backoff: %v", err)
		}
		if n := intermediaryFetches(s); n != 2 {
			t.Fatalf("%d intermediary fetches, want 2", n)
		}
	})
}

// TestDownscopedServerSideOneExchangePerLifetime: 1,000 distinct
// boundaries, each asked for every minute, cost one STS exchange per
// boundary in the first token lifetime, and over three hours one per
// boundary per root token at most (a downscoped token cannot outlive its
// root token, so none is exchanged while the root token is unchanged).
func TestDownscopedServerSideOneExchangePerLifetime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 1000
		s := ststest.NewInMemoryServer(ststest.Options{TokenLifetime: time.Hour})
		defer s.Close()
		root := rootSource(t, s)
		sources := make([]*sts.CachedTokenSource, n)
		for i := range sources {
			b := &sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{
				sts.ObjectPrefixRule("bucket-a", fmt.Sprintf("customer-%04d/", i), "roles/storage.objectViewer")}}
			ts, err := downscope.NewTokenSource(downscope.Config{Source: root, Boundary: b, TokenURL: s.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: s.Client()}})
			if err != nil {
				t.Fatal(err)
			}
			sources[i] = ts
		}
		count := func() (downscoped, roots int) {
			for _, r := range s.Requests() {
				if r.Form.Get("options") != "" {
					downscoped++
				} else {
					roots++
				}
			}
			return
		}
		calls := 0
		for minute := range 180 {
			for _, ts := range sources {
				tok, err := ts.Token()
				if err != nil {
					t.Fatal(err)
				}
				if time.Until(tok.Expiry) <= 0 {
					t.Fatalf("minute %d: expired token", minute)
				}
				calls++
			}
			synctest.Wait()
			if minute == 29 {
				if d, _ := count(); d != n {
					t.Fatalf("%d downscoping exchanges in the first 30 minutes for %d boundaries, want %d", d, n, n)
				}
			}
			time.Sleep(time.Minute)
		}
		d, roots := count()
		if d > n*roots {
			t.Errorf("%d downscoping exchanges for %d boundaries and %d root tokens, want at most %d", d, n, roots, n*roots)
		}
		tok, _ := sources[7].Token()
		if ok, err := s.Allows(tok.AccessToken, "storage.objects.get", bucketA+"/objects/customer-0007/x", ""); !ok || err != nil {
			t.Fatalf("Allows own prefix: %v %v", ok, err)
		}
		if ok, _ := s.Allows(tok.AccessToken, "storage.objects.get", bucketA+"/objects/customer-0008/x", ""); ok {
			t.Fatal("token for one prefix opens another")
		}
		t.Logf("%d boundaries, %d calls over 3 h: %d root tokens, %d STS downscoping requests (%.2f per boundary per hour)",
			n, calls, roots, d, float64(d)/n/3)
	})
}

// BenchmarkDownscopedServerSide1000 asks 1,000 server-side downscoped
// sources for tokens in turn and reports the STS requests made.
func BenchmarkDownscopedServerSide1000(b *testing.B) {
	const n = 1000
	s := ststest.NewInMemoryServer(ststest.Options{TokenLifetime: time.Hour})
	defer s.Close()
	root := rootSource(b, s)
	sources := make([]*sts.CachedTokenSource, n)
	for i := range sources {
		bd := &sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{
			sts.ObjectPrefixRule("bucket-a", fmt.Sprintf("customer-%04d/", i), "roles/storage.objectViewer")}}
		ts, err := downscope.NewTokenSource(downscope.Config{Source: root, Boundary: bd, TokenURL: s.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: s.Client()}})
		if err != nil {
			b.Fatal(err)
		}
		sources[i] = ts
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := sources[i%n].Token(); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(s.Count("/v1/token")-1), "STS-requests")
	b.ReportMetric(float64(min(i, n)), "boundaries")
}

// BenchmarkTokenSourceMinted measures a Minter's TokenSource once its token
// is minted (the common path: a pointer load).
func BenchmarkTokenSourceMinted(b *testing.B) {
	s := ststest.NewInMemoryServer(ststest.Options{})
	defer s.Close()
	m := newMinter(b, s, rootSource(b, s), nil)
	ts := m.TokenSource(prefixBoundary(b))
	if _, err := ts.Token(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ts.Token(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMinterToken measures minting a fresh token per call through a
// Minter (intermediary cached): tokens/s on one core with -cpu 1.
func BenchmarkMinterToken(b *testing.B) {
	s := ststest.NewInMemoryServer(ststest.Options{})
	defer s.Close()
	m := newMinter(b, s, rootSource(b, s), nil)
	cb := prefixBoundary(b)
	ctx := context.Background()
	if _, err := m.Token(ctx, cb); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Token(ctx, cb); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// TestMinterRootExpiryPast2262: a root token whose expiry lies beyond int64
// nanoseconds (year 2262) gives an intermediary token that lives as long
// (STS gives no expires_in for it): it is used, not refused as already
// expired, and not fetched again.
func TestMinterRootExpiryPast2262(t *testing.T) {
	for _, exp := range []time.Time{
		time.Date(2262, 4, 12, 0, 0, 0, 0, time.UTC),
		time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
	} {
		t.Run(exp.Format("2006"), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := ststest.NewInMemoryServer(ststest.Options{})
				defer s.Close()
				r := newRotatingRoot(t, s)
				r.tok.Expiry = exp
				m := newMinter(t, s, r, nil)
				cb := prefixBoundary(t)
				for range 3 {
					tok, err := m.Token(context.Background(), cb)
					if err != nil {
						t.Fatal(err)
					}
					if !tok.Expiry.Equal(exp) {
						t.Fatalf("expiry %v, want the root's %v", tok.Expiry, exp)
					}
				}
				time.Sleep(30 * time.Minute) // the emulator's root token itself lives an hour
				if _, err := m.Token(context.Background(), cb); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				if n := intermediaryFetches(s); n != 1 {
					t.Errorf("%d intermediary fetches, want 1", n)
				}
			})
		})
	}
}

// TestMinterRequestShape: an intermediary request exchanges the root token
// for requested_token_type access_boundary_intermediary_token with no
// scope, options or audience; the intermediary (and each minted token)
// expires with the root token; the Minter prints no secret.
func TestMinterRequestShape(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := ststest.NewInMemoryServer(ststest.Options{})
		defer emu.Close()
		exp := time.Now().Add(50 * time.Minute)
		root := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: dsRootSecret, Expiry: exp})
		m := newMinter(t, emu, root, nil)
		tok, err := m.Token(t.Context(), prefixBoundary(t))
		if err != nil {
			t.Fatal(err)
		}
		if !tok.Expiry.Equal(exp) {
			t.Errorf("minted token expires at %v, want the root token's %v", tok.Expiry, exp)
		}
		reqs := emu.Requests()
		if len(reqs) != 1 {
			t.Fatalf("%d requests", len(reqs))
		}
		f := reqs[0].Form
		if f.Get("requested_token_type") != sts.TokenTypeIntermediary || f.Get("subject_token") != dsRootSecret ||
			f.Get("subject_token_type") != sts.TokenTypeAccessToken || f.Has("scope") || f.Has("options") || f.Has("audience") {
			t.Errorf("request %v", f)
		}
		if a := reqs[0].Header.Get("Authorization"); a != "" {
			t.Error("Authorization header sent")
		}
		inter := interOf(tok)
		for _, s := range []string{m.String(), fmt.Sprintf("%v %+v %#v", m, m, m)} {
			if strings.Contains(s, inter) || strings.Contains(s, dsRootSecret) || !strings.Contains(s, "downscope.Minter") {
				t.Errorf("prints secrets: %s", s)
			}
		}
		// An answer without a session key is an error naming it.
		m.Invalidate()
		emu.PushFaults(ststest.Fault{Status: 200, Body: `{"access_token":"x","token_type":"Bearer","issued_token_type":"` + sts.TokenTypeIntermediary + `"}`})
		if _, err := m.Token(t.Context(), prefixBoundary(t)); err == nil || !strings.Contains(err.Error(), "access_boundary_session_key") {
			t.Errorf("err = %v", err)
		}
		// A root source with no token.
		m = newMinter(t, emu, oauth2.StaticTokenSource(nil), nil)
		var se *sts.Error
		if _, err := m.Token(t.Context(), prefixBoundary(t)); !errors.As(err, &se) || se.Op != "subject" {
			t.Errorf("no root token: %v", err)
		}
	})
}
