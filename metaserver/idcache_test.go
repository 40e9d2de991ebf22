package metaserver

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// testJWT is an unsigned JWT with the given exp claim (raw JSON).
func testJWT(exp string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(`{"aud":"a","exp":`+exp+`}`)) + ".sig"
}

// TestIdentityCache: many clients asking for one audience cause one mint
// per ID token lifetime; tokens without an exp claim are not kept; the
// audiences kept are bounded.
func TestIdentityCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mints atomic.Int64
		noExp := false
		s := newServer(t, Config{
			TokenSource: &countingSource{prefix: "tok", life: time.Hour},
			IDToken: func(ctx context.Context, aud string) (string, error) {
				mints.Add(1)
				time.Sleep(100 * time.Millisecond) // a slow mint: concurrent callers share it
				if noExp {
					return testJWT(`"soon"`), nil
				}
				return testJWT(strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)), nil
			},
		})
		ask := func(aud string) string {
			w := get(s, identityPath+"?audience="+aud)
			if w.Code != 200 {
				t.Fatalf("identity %s: %d %q", aud, w.Code, w.Body)
			}
			return w.Body.String()
		}
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() { ask("svc") })
		}
		wg.Wait()
		if n := mints.Load(); n != 1 {
			t.Errorf("%d mints for 100 concurrent requests, want 1", n)
		}
		first := ask("svc")
		time.Sleep(54 * time.Minute) // still 6 minutes from expiry
		if ask("svc") != first || mints.Load() != 1 {
			t.Errorf("token replaced %d minutes before expiry", 6)
		}
		time.Sleep(2 * time.Minute) // within the 5-minute margin
		if ask("svc") == first || mints.Load() != 2 {
			t.Errorf("token not replaced near its expiry (%d mints)", mints.Load())
		}
		// Audiences are bounded: the oldest is dropped.
		for i := range MaxIDTokenAudiences + 3 {
			ask("a" + strconv.Itoa(i))
		}
		if n := len(s.ids.entries); n != MaxIDTokenAudiences || len(s.ids.order) != n {
			t.Errorf("%d audiences kept, want %d", n, MaxIDTokenAudiences)
		}
		before := mints.Load()
		ask("svc") // dropped: minted again
		if mints.Load() != before+1 {
			t.Error("a dropped audience was not minted again")
		}
		// A token without a usable exp is not kept.
		noExp = true
		before = mints.Load()
		ask("noexp")
		ask("noexp")
		if mints.Load() != before+2 {
			t.Errorf("a token without exp was kept")
		}
	})
}

func TestJWTExpiry(t *testing.T) {
	for tok, want := range map[string]int64{
		testJWT("1700000000"):           1700000000,
		testJWT("1.7e9"):                -1,
		testJWT(`"1700000000"`):         1700000000,
		testJWT("0"):                    -1,
		testJWT("-5"):                   -1,
		testJWT("99999999999999999999"): -1,
		"a.b":                           -1,
		"a.!!!.c":                       -1,
		"a." + base64.RawURLEncoding.EncodeToString([]byte("[]")) + ".c": -1,
		strings.TrimSuffix(testJWT("1700000000"), ".sig") + "==.x":       1700000000,
	} {
		exp, ok := jwtExpiry(tok)
		if want < 0 && ok || want >= 0 && (!ok || exp.Unix() != want) {
			t.Errorf("jwtExpiry(%q) = %v, %v; want %d", tok, exp, ok, want)
		}
	}
}

func FuzzJWTExpiry(f *testing.F) {
	f.Add(testJWT("1700000000"))
	f.Add("a.b.c")
	f.Add(testJWT(`{"x":1}`))
	f.Fuzz(func(t *testing.T, tok string) {
		exp, ok := jwtExpiry(tok)
		if ok && (exp.Unix() <= 0 || exp.Unix() > 1<<40) {
			t.Fatalf("jwtExpiry(%q) = %v", tok, exp)
		}
	})
}
