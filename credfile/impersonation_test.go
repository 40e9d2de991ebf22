package credfile

import (
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/ststest"
)

// TestImpersonationRefreshAhead runs a loaded impersonation file through
// the cache's lifetime in virtual time: the impersonated token is renewed
// in the background before it expires, with a fresh exchange each time.
func TestImpersonationRefreshAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := ststest.NewInMemoryServer(ststest.Options{})
		defer emu.Close()
		subject := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(subject, []byte(testSubjectJWT), 0o600); err != nil {
			t.Fatal(err)
		}
		m := decodeMap(t, readTestdata(t, "impersonation.json"))
		m["token_url"] = emu.TokenURL()
		m["service_account_impersonation_url"] = emu.ImpersonationURL("deployer@example-project.iam.gserviceaccount.com")
		m["service_account_impersonation"] = map[string]any{"token_lifetime_seconds": 600}
		m["credential_source"] = map[string]any{"file": subject}
		c, err := Load(encodeMap(t, m), Options{HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()}, Getenv: fixture.EnvMap(nil),
			Cache: sts.CacheOptions{StaleFraction: 0.5, Jitter: -1}})
		if err != nil {
			t.Fatal(err)
		}
		ts := c.TokenSource()
		first, err := ts.Token()
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(4 * time.Minute) // fresh: served from the cache
		if tok, _ := ts.Token(); tok != first {
			t.Fatal("fresh token not served from the cache")
		}
		time.Sleep(2 * time.Minute) // stale: served, and renewed in the background
		if tok, _ := ts.Token(); tok != first {
			t.Fatal("stale token not served while renewing")
		}
		synctest.Wait()
		second, err := ts.Token()
		if err != nil || second == first {
			t.Fatalf("after the background refresh: %v, same token %t", err, second == first)
		}
		if info, _ := emu.Lookup(second.AccessToken); info.Kind != "impersonated" || info.ExpiresAt.Sub(info.IssuedAt) != 10*time.Minute {
			t.Errorf("renewed token %v", info)
		}
		if emu.Count("/v1/token") != 2 || emu.Count("/v1/projects/-/serviceAccounts/deployer@example-project.iam.gserviceaccount.com:generateAccessToken") != 2 {
			t.Errorf("requests: %d exchanges, %d impersonations; want 2 and 2", emu.Count("/v1/token"),
				emu.Count("/v1/projects/-/serviceAccounts/deployer@example-project.iam.gserviceaccount.com:generateAccessToken"))
		}
	})
}
