package locations

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/ststest"
)

const (
	testAudience = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/prov"
	testPool     = "projects/123/locations/global/workloadIdentityPools/pool"
)

// issue exchanges a subject token at the emulator and returns the access
// token it issued.
func issue(t *testing.T, s *ststest.Server) *oauth2.Token {
	t.Helper()
	form := url.Values{
		"grant_type":           {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token_type":   {"urn:ietf:params:oauth:token-type:jwt"},
		"subject_token":        {s.SubjectJWT("workload", testAudience)},
		"audience":             {testAudience},
		"requested_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
	}
	resp, err := s.Client().PostForm(s.TokenURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
		t.Fatalf("exchange: %v %v", resp.Status, err)
	}
	return &oauth2.Token{AccessToken: out.AccessToken, TokenType: "Bearer"}
}

// newCache returns an emulator, a cache looking up the test pool there, a
// token the emulator issued, and the cache's log.
func newCache(t *testing.T) (*ststest.Server, *Cache, *oauth2.Token, *fixture.Log) {
	t.Helper()
	// Tokens outlive the tests' days, as the transport would hand fresh
	// ones.
	s := ststest.NewInMemoryServer(ststest.Options{TokenLifetime: 30 * 24 * time.Hour})
	t.Cleanup(s.Close)
	u, ok := PoolURL(s.URL, testAudience)
	if !ok {
		t.Fatal("no pool URL")
	}
	logs := &fixture.Log{}
	doer := httpx.NewDoer(httpx.Options{Client: s.Client(), Retry: httpx.Retry{MaxAttempts: 1},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	return s, New(u, doer), issue(t, s), logs
}

func lookups(s *ststest.Server) int { return s.Count("/v1/" + testPool + "/allowedLocations") }

// TestLookupInBackground: the first request goes without the header and
// starts one lookup, authorized with the credential's token; once it is
// done, requests carry the encoded locations, with no further lookup.
func TestLookupInBackground(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c, tok, _ := newCache(t)
		s.SetAllowedLocations(testPool, "0xA30", "us-central1", "europe-west1")
		if v := c.Value(tok); v != "" {
			t.Errorf("first Value = %q, want none while the lookup runs", v)
		}
		// A second caller does not start another lookup; the first may
		// already have finished (the emulator answers in memory), so it sees
		// no header or the answer, nothing else.
		if v := c.Value(tok); v != "" && v != "0xA30" {
			t.Errorf("second Value = %q", v)
		}
		synctest.Wait()
		for range 3 {
			if v := c.Value(tok); v != "0xA30" {
				t.Errorf("Value = %q, want 0xA30", v)
			}
		}
		if v := c.Current(); v != "0xA30" {
			t.Errorf("Current = %q", v)
		}
		time.Sleep(TTL)
		if v := c.Current(); v != "" {
			t.Errorf("Current after the TTL = %q", v)
		}
		synctest.Wait()
		if n := lookups(s); n != 1 {
			t.Errorf("%d lookups, want 1", n)
		}
		for _, r := range s.Requests() {
			if strings.HasSuffix(r.Path, "/allowedLocations") && r.Header.Get("Authorization") != "Bearer "+tok.AccessToken {
				t.Errorf("lookup not authorized with the credential's token")
			}
		}
	})
}

// TestNoOpSendsNoHeader: an answer of 0x0 restricts nothing: no header,
// and no new lookup before the answer's refresh time.
func TestNoOpSendsNoHeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c, tok, _ := newCache(t)
		c.Value(tok)
		synctest.Wait()
		time.Sleep(time.Hour)
		if v := c.Value(tok); v != "" {
			t.Errorf("Value = %q, want none for 0x0", v)
		}
		synctest.Wait()
		if n := lookups(s); n != 1 {
			t.Errorf("%d lookups, want 1", n)
		}
	})
}

// TestRefreshAndExpiry: during the last hour of its six, an answer is
// still sent while a background lookup renews it; an answer that could not
// be renewed is dropped at the end of its six hours.
func TestRefreshAndExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c, tok, _ := newCache(t)
		s.SetAllowedLocations(testPool, "0xA30")
		c.Value(tok)
		synctest.Wait()
		time.Sleep(TTL - RefreshBefore - time.Minute)
		c.Value(tok)
		synctest.Wait()
		if n := lookups(s); n != 1 {
			t.Fatalf("%d lookups before the refresh window, want 1", n)
		}
		s.SetAllowedLocations(testPool, "0xB40")
		time.Sleep(2 * time.Minute)
		if v := c.Value(tok); v != "0xA30" {
			t.Errorf("in the refresh window: %q, want the old answer while the lookup runs", v)
		}
		synctest.Wait()
		if v := c.Value(tok); v != "0xB40" {
			t.Errorf("after the refresh: %q, want 0xB40", v)
		}
		// The lookup now fails for good: the answer lasts its TTL, no longer.
		s.PushFaults(repeat(ststest.Fault{Path: "/v1/" + testPool + "/allowedLocations", Status: 503}, 50)...)
		time.Sleep(TTL - RefreshBefore + time.Minute)
		if v := c.Value(tok); v != "0xB40" {
			t.Errorf("refresh failing, answer still valid: %q", v)
		}
		synctest.Wait()
		time.Sleep(RefreshBefore)
		if v := c.Value(tok); v != "" {
			t.Errorf("after the TTL: %q, want none", v)
		}
		synctest.Wait()
		s.ClearFaults()
	})
}

func repeat(f ststest.Fault, n int) []ststest.Fault {
	out := make([]ststest.Fault, n)
	for i := range out {
		out[i] = f
	}
	return out
}

// TestLookupDownFailsOpen: while the lookup fails, requests go without the
// header and nothing else happens; lookups are retried after a cool-down of
// 7.5 to 15 minutes, then a doubled one, and a success ends the cool-down.
// The failure is logged without the token.
func TestLookupDownFailsOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c, tok, logs := newCache(t)
		path := "/v1/" + testPool + "/allowedLocations"
		s.PushFaults(ststest.Fault{Path: path, Status: 500}, ststest.Fault{Path: path, Status: 500})
		s.SetAllowedLocations(testPool, "0xA30")
		start := time.Now()
		tick := func(d time.Duration) string {
			time.Sleep(d)
			v := c.Value(tok)
			synctest.Wait()
			return v
		}
		if v := tick(0); v != "" {
			t.Fatalf("Value = %q during failure", v)
		}
		for time.Since(start) < Cooldown/2-time.Minute {
			if v := tick(time.Minute); v != "" {
				t.Fatalf("Value = %q during failure", v)
			}
		}
		if n := lookups(s); n != 1 {
			t.Fatalf("%d lookups within the first cool-down, want 1", n)
		}
		for lookups(s) < 2 {
			if v := tick(time.Minute); v != "" {
				t.Fatalf("Value = %q during failure", v)
			}
		}
		if d := time.Since(start); d < Cooldown/2 || d > Cooldown+time.Minute {
			t.Errorf("second lookup after %v, want 7.5 to 15 minutes", d)
		}
		second := time.Now()
		for lookups(s) < 3 {
			tick(time.Minute)
		}
		if d := time.Since(second); d < Cooldown || d > 2*Cooldown+time.Minute {
			t.Errorf("third lookup %v after the second, want the doubled cool-down (15 to 30 minutes)", d)
		}
		if v := c.Value(tok); v != "0xA30" {
			t.Errorf("after a successful lookup: %q", v)
		}
		if out := logs.String(); !strings.Contains(out, "lookup failed") || strings.Contains(out, tok.AccessToken) {
			t.Errorf("log %q: want the failure, without the token", out)
		}
	})
}

// TestCooldownCapped: the cool-down stops doubling at six hours.
func TestCooldownCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c, tok, _ := newCache(t)
		s.PushFaults(repeat(ststest.Fault{Path: "/v1/" + testPool + "/allowedLocations", Status: 503}, 100)...)
		var at []time.Time
		for range 24 * 5 * 2 { // five days, every 30 minutes
			n := lookups(s)
			c.Value(tok)
			synctest.Wait()
			if lookups(s) > n {
				at = append(at, time.Now())
			}
			time.Sleep(30 * time.Minute)
		}
		s.ClearFaults()
		if len(at) < 8 {
			t.Fatalf("%d lookups in five days", len(at))
		}
		for i := 1; i < len(at); i++ {
			if gap := at[i].Sub(at[i-1]); gap > MaxCooldown+30*time.Minute {
				t.Errorf("gap %d is %v, more than the six-hour cap", i, gap)
			}
		}
		if last := at[len(at)-1].Sub(at[len(at)-2]); last < MaxCooldown/2 {
			t.Errorf("last gap %v, want at least half the cap", last)
		}
	})
}

// TestBadAnswers: an answer without usable encodedLocations is a failure,
// never a header value.
func TestBadAnswers(t *testing.T) {
	for _, body := range []string{
		`{"locations":["us-central1"]}`,
		`{"encodedLocations":""}`,
		`{"encodedLocations":"0xA30\r\nX-Evil: 1"}`,
		`{"encodedLocations":"us-central1"}`,
		`{"encodedLocations":"0x` + strings.Repeat("A", 2000) + `"}`,
		`{"encodedLocations":12}`,
		`not json`,
	} {
		t.Run(body[:min(len(body), 30)], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, c, tok, _ := newCache(t)
				s.PushFaults(ststest.Fault{Path: "/v1/" + testPool + "/allowedLocations", Status: 200, Body: body})
				c.Value(tok)
				synctest.Wait()
				if v := c.Value(tok); v != "" {
					t.Errorf("Value = %q", v)
				}
				synctest.Wait()
				if n := lookups(s); n != 1 {
					t.Errorf("%d lookups; want the cool-down after a bad answer", n)
				}
			})
		})
	}
}

// TestLookupRefused: a 403 (the token may not look up the pool) fails open
// too; a nil cache or a missing token give no header and no lookup.
func TestLookupRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c, tok, _ := newCache(t)
		other := &oauth2.Token{AccessToken: "not-issued-by-the-emulator"}
		c.Value(other)
		synctest.Wait()
		if v := c.Value(tok); v != "" {
			t.Errorf("Value = %q after a refused lookup", v)
		}
		var nilCache *Cache
		if v := nilCache.Value(tok); v != "" || nilCache.Current() != "" || nilCache.Wait(context.Background()) != nil {
			t.Errorf("nil cache: %q", v)
		}
		if v := c.Value(nil); v != "" {
			t.Errorf("nil token: %q", v)
		}
		synctest.Wait()
		if n := lookups(s); n != 1 {
			t.Errorf("%d lookups, want 1", n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := c.Wait(ctx); err != nil {
			t.Error(err)
		}
	})
}

// TestURLs: the three lookup forms, as IAM Credentials names them.
func TestURLs(t *testing.T) {
	base := DefaultBase("googleapis.com")
	for aud, want := range map[string]string{
		testAudience: "https://iamcredentials.googleapis.com/v1/projects/123/locations/global/workloadIdentityPools/pool/allowedLocations",
		"//iam.googleapis.com/locations/global/workforcePools/wf-pool/providers/p": "https://iamcredentials.googleapis.com/v1/locations/global/workforcePools/wf-pool/allowedLocations",
	} {
		if got, ok := PoolURL(base, aud); !ok || got != want {
			t.Errorf("PoolURL(%s) = %q, %t; want %q", aud, got, ok, want)
		}
	}
	for _, aud := range []string{"", "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p", "https://example.com/aud",
		"//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q/extra"} {
		if got, ok := PoolURL(base, aud); ok {
			t.Errorf("PoolURL(%q) = %q", aud, got)
		}
	}
	if got := ServiceAccountURL(base+"/", "sa@p.iam.gserviceaccount.com"); got != "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com/allowedLocations" {
		t.Errorf("ServiceAccountURL = %q", got)
	}
}

// TestSkipped: token, IAM and regional endpoints never get the header;
// API hosts do.
func TestSkipped(t *testing.T) {
	for host, want := range map[string]bool{
		"sts.googleapis.com": true, "sts.mtls.googleapis.com": true, "iamcredentials.googleapis.com": true,
		"iam.googleapis.com": true, "IAM.googleapis.com.": true, "storage.us-east1.rep.googleapis.com": true,
		"rep.googleapis.com": true, "x.rep.sandbox.googleapis.com": true,
		"storage.googleapis.com": false, "sts.example.com": false, "127.0.0.1": false, "pubsub.googleapis.com": false,
		"iamcredentials.googleapis.com.evil.example": false,
	} {
		if got := Skipped(host); got != want {
			t.Errorf("Skipped(%q) = %t, want %t", host, got, want)
		}
	}
}

// TestEnabled: "true" and "1" in any case turn the feature on; anything
// else leaves it off.
func TestEnabled(t *testing.T) {
	for v, want := range map[string]bool{"true": true, "TRUE": true, " 1 ": true, "1": true, "": false, "0": false, "false": false, "yes": false} {
		if Enabled(v) != want {
			t.Errorf("Enabled(%q) = %t", v, !want)
		}
	}
}

// The patterns PoolURL and validEncoded implement without the regexp
// package (which would add about 250 KB to every program loading a
// credential file).
var (
	workloadPoolRE  = regexp.MustCompile(`^//iam\.[^/]+/projects/([^/]+)/locations/global/workloadIdentityPools/([^/]+)/providers/[^/]+$`)
	workforcePoolRE = regexp.MustCompile(`^//iam\.[^/]+/locations/global/workforcePools/([^/]+)/providers/[^/]+$`)
	validEncodedRE  = regexp.MustCompile(`^0[xX][0-9A-Fa-f]+$`)
)

// poolURLRE is PoolURL by the patterns.
func poolURLRE(base, audience string) (string, bool) {
	base = strings.TrimSuffix(base, "/")
	if m := workloadPoolRE.FindStringSubmatch(audience); m != nil {
		return base + "/v1/projects/" + url.PathEscape(m[1]) + "/locations/global/workloadIdentityPools/" +
			url.PathEscape(m[2]) + "/allowedLocations", true
	}
	if m := workforcePoolRE.FindStringSubmatch(audience); m != nil {
		return base + "/v1/locations/global/workforcePools/" + url.PathEscape(m[1]) + "/allowedLocations", true
	}
	return "", false
}

// FuzzPatterns: PoolURL and validEncoded agree with the regular
// expressions they implement.
func FuzzPatterns(f *testing.F) {
	for _, s := range []string{testAudience, "//iam.googleapis.com/locations/global/workforcePools/wf/providers/p",
		"//iam./projects/1/locations/global/workloadIdentityPools/p/providers/q", "//iam.x/projects//locations/global/workloadIdentityPools/p/providers/q",
		"//iam.x/projects/1/locations/global/workloadIdentityPools/p/providers/q/", "//iam.x/locations/global/workforcePools/\n/providers/\xff",
		"0x", "0xA30", "0XfF", "0xA30\n", "x0A", "00A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := PoolURL("https://iamcredentials.googleapis.com/", s)
		want, wantOK := poolURLRE("https://iamcredentials.googleapis.com/", s)
		if got != want || ok != wantOK {
			t.Errorf("PoolURL(%q) = %q, %t; the pattern says %q, %t", s, got, ok, want, wantOK)
		}
		if validEncoded(s) != validEncodedRE.MatchString(s) {
			t.Errorf("validEncoded(%q) = %t", s, validEncoded(s))
		}
	})
}

// FuzzParseAnswer: any answer gives an error or a header-safe value.
func FuzzParseAnswer(f *testing.F) {
	f.Add([]byte(`{"locations":["us-central1"],"encodedLocations":"0xA30"}`))
	f.Add([]byte(`{"encodedLocations":"0x0"}`))
	f.Add([]byte(`{"encodedLocations":"0xA30\r\n"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := ParseAnswer(body)
		if err != nil {
			if v != "" {
				t.Fatal("value with an error")
			}
			if len(body) > 16 && strings.Contains(err.Error(), string(body)) {
				t.Fatal("error quotes the answer")
			}
			return
		}
		if !validEncoded(v) || len(v) > maxEncoded {
			t.Fatalf("unsafe value %q", v)
		}
	})
}
