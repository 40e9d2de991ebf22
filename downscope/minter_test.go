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
	testJWT     = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIiwiYXVkIjoieCJ9.c2ln"
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
		HTTPClient:       s.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func newMinter(t testing.TB, s *ststest.Server, root oauth2.TokenSource, mod func(*downscope.Config)) *downscope.Minter {
	t.Helper()
	cfg := downscope.Config{Source: root, TokenURL: s.TokenURL(), HTTPClient: s.Client()}
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
	s := ststest.NewUnstartedServer(ststest.Options{})
	defer s.Close()
	root := rootSource(t, s)
	m := newMinter(t, s, root, nil)
	for _, bc := range boundaryCases {
		t.Run(bc.name, func(t *testing.T) {
			t.Run("server-side", func(t *testing.T) {
				ts, err := sts.NewDownscopedTokenSource(sts.DownscopeConfig{
					Source: root, Boundary: bc.boundary, TokenURL: s.TokenURL(), HTTPClient: s.Client()})
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

// TestMinterWindows walks an intermediary token through its lifetime: fresh
// (no I/O), the refresh window (background fetch, current token served), and
// checks that every token handed out is valid at the server.
func TestMinterWindows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := ststest.NewUnstartedServer(ststest.Options{TokenLifetime: time.Hour})
		defer s.Close()
		// A root whose tokens live 1 h and are refreshed only at the end,
		// so that intermediary tokens get the full hour.
		root, err := sts.NewTokenSource(sts.Config{
			Subject: sts.StaticSubject(testJWT), SubjectTokenType: sts.TokenTypeJWT, Audience: workloadAud,
			TokenURL: s.TokenURL(), HTTPClient: s.Client(), Cache: sts.CacheOptions{StaleFraction: 1, ExpiryMargin: -1},
		})
		if err != nil {
			t.Fatal(err)
		}
		m := newMinter(t, s, root, nil)
		ts := m.TokenSource(prefixBoundary(t))
		ctx := context.Background()

		t0, err := ts.TokenContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := t0.Expiry.Sub(time.Now()); got != time.Hour {
			t.Fatalf("expiry in %v, want 1h (the root token's)", got)
		}
		base := s.Count("")
		// Fresh: the same token, no request.
		time.Sleep(15*time.Minute - time.Second)
		if t1, _ := ts.TokenContext(ctx); t1 != t0 {
			t.Fatal("fresh token not reused")
		}
		synctest.Wait()
		if s.Count("") != base {
			t.Fatalf("%d requests while fresh", s.Count("")-base)
		}
		// Refresh window (45 min left): served at once from the current
		// intermediary, one background fetch.
		time.Sleep(2 * time.Second)
		t2, err := ts.TokenContext(ctx)
		if err != nil || interOf(t2) != interOf(t0) {
			t.Fatalf("refresh window: %v, same intermediary %v", err, interOf(t2) == interOf(t0))
		}
		synctest.Wait()
		if n := intermediaryFetches(s); n != 2 {
			t.Fatalf("%d intermediary fetches, want 2", n)
		}
		t3, _ := ts.TokenContext(ctx)
		if interOf(t3) == interOf(t0) {
			t.Fatal("new intermediary not used after the background fetch")
		}
		for _, tok := range []*oauth2.Token{t0, t2, t3} {
			if ok, err := s.Allows(tok.AccessToken, "storage.objects.get", bucketA+"/objects/customer-a/x", ""); !ok || err != nil {
				t.Errorf("token rejected: %v %v", ok, err)
			}
		}
	})
}

// TestMinterBlockingAndFailures: within the blocking window callers wait
// for a fetch; when fetches fail a valid intermediary keeps being used, an
// expired one never is.
func TestMinterBlockingAndFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := ststest.NewUnstartedServer(ststest.Options{TokenLifetime: time.Hour})
		defer s.Close()
		// A static root token that expires in an hour and is never
		// refreshed: every intermediary ends at the same instant.
		rootTok, err := rootSource(t, s).Token()
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		m := newMinter(t, s, oauth2.StaticTokenSource(rootTok), func(c *downscope.Config) {
			c.Retry = sts.RetryPolicy{MaxAttempts: 1}
			c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		})
		cb := prefixBoundary(t)
		ctx := context.Background()
		first, err := m.Token(ctx, cb)
		if err != nil {
			t.Fatal(err)
		}
		// Blocking window (30 min left) with STS failing: the caller
		// waits for the fetch, which fails, and gets a token from the
		// current, still valid intermediary.
		time.Sleep(30*time.Minute + time.Second)
		s.PushFaults(ststest.ErrorFault(503, "temporarily_unavailable", "try later"))
		tok, err := m.Token(ctx, cb)
		if err != nil || interOf(tok) != interOf(first) {
			t.Fatalf("blocking window with failing STS: %v", err)
		}
		if m.LastError() == nil || !sts.IsTemporary(m.LastError()) {
			t.Fatalf("LastError = %v, want a temporary error", m.LastError())
		}
		// Backoff: no new fetch right away.
		before := intermediaryFetches(s)
		if _, err := m.Token(ctx, cb); err != nil {
			t.Fatal(err)
		}
		if intermediaryFetches(s) != before {
			t.Fatal("fetch retried without backoff")
		}
		// After the backoff, a blocking fetch succeeds (same root, so the
		// same expiry) and is used.
		time.Sleep(2 * time.Second)
		tok, err = m.Token(ctx, cb)
		if err != nil || interOf(tok) == interOf(first) {
			t.Fatalf("after backoff: %v, new intermediary %v", err, interOf(tok) != interOf(first))
		}
		// Past the expiry (minus the margin), with STS failing, there is
		// no token at all.
		time.Sleep(time.Until(first.Expiry) - 5*time.Second)
		for range 4 {
			s.PushFaults(ststest.ErrorFault(503, "temporarily_unavailable", "down"))
		}
		if tok, err := m.Token(ctx, cb); err == nil {
			ok, aerr := s.Allows(tok.AccessToken, "storage.objects.get", bucketA+"/objects/customer-a/x", "")
			t.Fatalf("minted near expiry: %v (Allows %v %v)", tok.Expiry, ok, aerr)
		}
		synctest.Wait() // background fetches have finished logging
		for _, secret := range []string{rootTok.AccessToken, interOf(first), interOf(tok)} {
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
		s := ststest.NewUnstartedServer(ststest.Options{})
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
		s := ststest.NewUnstartedServer(ststest.Options{TokenLifetime: 20 * time.Minute})
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
	s := ststest.NewUnstartedServer(ststest.Options{})
	defer s.Close()
	bad := []struct {
		cfg   downscope.Config
		field string
	}{
		{downscope.Config{}, "Config.Source"},
		{downscope.Config{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "x"}), TokenURL: "http://example.com/v1/token"}, "Config.TokenURL"},
		{downscope.Config{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "x"}), BlockingWindow: time.Hour}, "Config.BlockingWindow"},
		{downscope.Config{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "x"}), RefreshWindow: -1}, "Config.RefreshWindow"},
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
}

// TestDownscopedServerSideOneExchangePerLifetime: 1,000 distinct
// boundaries, each asked for many times over two token lifetimes, cost one
// STS exchange per boundary per lifetime.
func TestDownscopedServerSideOneExchangePerLifetime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 1000
		s := ststest.NewUnstartedServer(ststest.Options{TokenLifetime: time.Hour})
		defer s.Close()
		root := rootSource(t, s)
		sources := make([]*sts.CachedTokenSource, n)
		for i := range sources {
			b := &sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{
				sts.ObjectPrefixRule("bucket-a", fmt.Sprintf("customer-%04d/", i), "roles/storage.objectViewer")}}
			ts, err := sts.NewDownscopedTokenSource(sts.DownscopeConfig{Source: root, Boundary: b, TokenURL: s.TokenURL(), HTTPClient: s.Client()})
			if err != nil {
				t.Fatal(err)
			}
			sources[i] = ts
		}
		downscoped := func() int {
			c := 0
			for _, r := range s.Requests() {
				if r.Form.Get("options") != "" {
					c++
				}
			}
			return c
		}
		for range 10 {
			for _, ts := range sources {
				if _, err := ts.Token(); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(time.Minute)
		}
		synctest.Wait()
		if got := downscoped(); got != n {
			t.Fatalf("%d downscoping exchanges for %d boundaries × 10 calls, want %d", got, n, n)
		}
		tok, _ := sources[7].Token()
		if ok, err := s.Allows(tok.AccessToken, "storage.objects.get", bucketA+"/objects/customer-0007/x", ""); !ok || err != nil {
			t.Fatalf("Allows own prefix: %v %v", ok, err)
		}
		if ok, _ := s.Allows(tok.AccessToken, "storage.objects.get", bucketA+"/objects/customer-0008/x", ""); ok {
			t.Fatal("token for one prefix opens another")
		}
		t.Logf("%d boundaries x 10 calls in the first lifetime: %d STS downscoping requests", n, downscoped())
	})
}
