package downscope_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/downscope"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/ststest"
	"golang.org/x/oauth2"
)

// TestOutageAroundEveryExpiry: STS is down from 5 minutes before to 2
// minutes after the expiry of every token handed out so far, for six hours,
// for both kinds of downscoping over the package's root cache (downscoped
// tokens live only as long as the root token they came from). The Minter
// fetches intermediary tokens ahead, the server-side source refreshes ahead,
// and so does the root cache: no Token call fails or waits after the first.
func TestOutageAroundEveryExpiry(t *testing.T) {
	for _, kind := range []string{"client-side", "server-side"} {
		t.Run(kind, func(t *testing.T) { outageAroundEveryExpiry(t, kind) })
	}
}

func outageAroundEveryExpiry(t *testing.T, kind string) {
	synctest.Test(t, func(t *testing.T) {
		var outage fixture.ExpiryOutage
		emu, client := outage.Emulator(t)
		root, err := sts.NewTokenSource(sts.Config{Subject: sts.StaticSubject(testJWT), SubjectTokenType: sts.TokenTypeJWT,
			Audience: workloadAud, TokenURL: emu.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: client}})
		if err != nil {
			t.Fatal(err)
		}
		ts := downscoped(t, kind, downscope.Config{Source: root, TokenURL: emu.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: client}}, true)
		tokens := outage.Drive(t, ts, 6*time.Hour)
		if tokens < 6 {
			t.Errorf("only %d intermediary lifetimes in six hours", tokens)
		}
		t.Logf("%s: %d lifetimes, %d requests refused by outages", kind, tokens, outage.Refused())
	})
}

// downscoped returns a source of downscoped tokens over cfg, of the kind:
// "client-side", tokens minted by a Minter for prefixBoundary (a new token
// each call with mintEachCall, else its TokenSource); "server-side", tokens
// for a bucket viewer boundary from NewTokenSource.
func downscoped(t *testing.T, kind string, cfg downscope.Config, mintEachCall bool) oauth2.TokenSource {
	t.Helper()
	if kind == "client-side" {
		m, err := downscope.NewMinter(cfg)
		if err != nil {
			t.Fatal(err)
		}
		cb := prefixBoundary(t)
		if mintEachCall {
			return mintEach(func() (*oauth2.Token, error) { return m.Token(t.Context(), cb) })
		}
		return m.TokenSource(cb)
	}
	cfg.Boundary = &sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{sts.BucketRule("b", "roles/storage.objectViewer")}}
	ts, err := downscope.NewTokenSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// mintEach is an oauth2.TokenSource that mints a new token per call.
type mintEach func() (*oauth2.Token, error)

func (f mintEach) Token() (*oauth2.Token, error) { return f() }

// TestHungContextlessRootIsCut: with a root that is a plain
// oauth2.TokenSource (as golang.org/x/oauth2/google gives) and hangs, a
// downscoped source's refresh, or a Minter's fetch, ends at
// Cache.RefreshTimeout with a temporary error.
func TestHungContextlessRootIsCut(t *testing.T) {
	for _, kind := range []string{"client-side", "server-side"} {
		t.Run(kind, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				emu := ststest.NewInMemoryServer(ststest.Options{})
				defer emu.Close()
				src := fixture.NewHungSource()
				defer src.Release()
				cfg := downscope.Config{Source: src, TokenURL: emu.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()},
					Cache: sts.CacheOptions{RefreshTimeout: 5 * time.Second}}
				fixture.WantCutAt(t, downscoped(t, kind, cfg, false), 5*time.Second, sts.IsTemporary)
				if n := src.Calls(); n != 1 {
					t.Errorf("root asked %d times", n)
				}
			})
		})
	}
}
