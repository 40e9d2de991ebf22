package downscope_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/downscope"
	"github.com/stsgo/sts/ststest"
)

const dsRootSecret = "SECRET-ROOT-TOKEN-d5c1"

// dsRoot is a root source the test controls; it counts calls.
type dsRoot struct {
	mu    sync.Mutex
	tok   *oauth2.Token
	calls int
}

func (r *dsRoot) Token() (*oauth2.Token, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	return r.tok, nil
}

func (r *dsRoot) set(tok string, exp time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tok = &oauth2.Token{AccessToken: tok, Expiry: exp}
}

func (r *dsRoot) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

func dsBoundary() *sts.AccessBoundary {
	return &sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{
		sts.ObjectPrefixRule("bucket-a", "customer-a/", "roles/storage.objectViewer"),
		sts.BucketRule("bucket-b", "roles/storage.objectAdmin"),
	}}
}

// optionsOf is the options parameter carrying b, as sts.AccessBoundary's
// Validate measures it: {"accessBoundary":…} encoded by encoding/json.
func optionsOf(t *testing.T, b *sts.AccessBoundary) string {
	t.Helper()
	out, err := json.Marshal(struct {
		AccessBoundary *sts.AccessBoundary `json:"accessBoundary"`
	}{b})
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestServerSideRequestShapeAndExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := ststest.NewInMemoryServer(ststest.Options{})
		defer emu.Close()
		root := &dsRoot{}
		root.set(dsRootSecret, time.Now().Add(50*time.Minute))
		b := dsBoundary()
		ts, err := downscope.NewTokenSource(downscope.Config{Source: root, Boundary: b, TokenURL: emu.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()}})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := ts.Token()
		if err != nil {
			t.Fatal(err)
		}
		// STS gives no expires_in for an access token subject: the root's
		// expiry applies.
		if got := time.Until(tok.Expiry); got != 50*time.Minute {
			t.Errorf("expiry in %v, want the root token's 50m", got)
		}
		reqs := emu.Requests()
		if len(reqs) != 1 {
			t.Fatalf("%d requests", len(reqs))
		}
		f := reqs[0].Form
		for k, v := range map[string]string{
			"grant_type":           "urn:ietf:params:oauth:grant-type:token-exchange",
			"subject_token":        dsRootSecret,
			"subject_token_type":   sts.TokenTypeAccessToken,
			"requested_token_type": sts.TokenTypeAccessToken,
			"options":              optionsOf(t, b),
		} {
			if f.Get(k) != v {
				t.Errorf("%s = %q, want %q", k, f.Get(k), v)
			}
		}
		for _, k := range []string{"audience", "scope"} {
			if f.Has(k) {
				t.Errorf("%s sent: %q", k, f.Get(k))
			}
		}
		if h := reqs[0].Header.Get("Authorization"); h != "" {
			t.Errorf("Authorization header sent")
		}
		if ok, err := emu.Allows(tok.AccessToken, "storage.objects.get", "//storage.googleapis.com/projects/_/buckets/bucket-a/objects/customer-a/x", ""); !ok || err != nil {
			t.Errorf("Allows: %v %v", ok, err)
		}

		// Cached: no request while fresh.
		time.Sleep(20 * time.Minute)
		if tok2, _ := ts.Token(); tok2 != tok {
			t.Error("token not cached")
		}
		// Stale with the same root token: no exchange (none could live
		// longer); the root is asked again.
		time.Sleep(20 * time.Minute)
		calls := root.count()
		if tok2, _ := ts.Token(); tok2 != tok {
			t.Error("token replaced while the root token is unchanged")
		}
		synctest.Wait()
		if emu.Count("") != 1 || root.count() == calls {
			t.Fatalf("stale, same root: %d requests, root asked %d times", emu.Count(""), root.count()-calls)
		}
		// A new root token: the next refresh exchanges it.
		root.set("SECRET-ROOT-TOKEN-2", time.Now().Add(time.Hour))
		time.Sleep(9 * time.Minute) // 1 min left: stale again
		ts.Token()
		synctest.Wait()
		tok3, err := ts.Token()
		if err != nil || tok3 == tok || emu.Count("") != 2 {
			t.Fatalf("after root rotation: %v, %d requests", err, emu.Count(""))
		}
		// Invalidate forces an exchange even with the same root token.
		ts.Invalidate(tok3)
		tok4, err := ts.Token()
		if err != nil || tok4 == tok3 || emu.Count("") != 3 {
			t.Fatalf("after Invalidate: %v, %d requests", err, emu.Count(""))
		}
		if s := fmt.Sprintf("%v %+v %#v %s", ts, ts, ts, ts.String()); strings.Contains(s, "SECRET") || strings.Contains(s, tok4.AccessToken) {
			t.Errorf("String leaks: %s", s)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	root := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: dsRootSecret})
	eleven := &sts.AccessBoundary{}
	for i := range 11 {
		eleven.Rules = append(eleven.Rules, sts.BucketRule(fmt.Sprintf("b%d", i), "roles/storage.objectViewer"))
	}
	badCEL := dsBoundary()
	badCEL.Rules[0].AvailabilityCondition.Expression = "resource.name.startsWith("
	for _, tc := range []struct {
		cfg   downscope.Config
		field string
	}{
		{downscope.Config{Boundary: dsBoundary()}, "downscope.Config.Source"},
		{downscope.Config{Source: root}, "downscope.Config.Boundary"},
		{downscope.Config{Source: root, Boundary: &sts.AccessBoundary{}}, "AccessBoundary.Rules"},
		{downscope.Config{Source: root, Boundary: eleven}, "AccessBoundary.Rules"},
		{downscope.Config{Source: root, Boundary: badCEL}, "AccessBoundary.Rules[0].AvailabilityCondition.Expression"},
		{downscope.Config{Source: root, Boundary: dsBoundary(), TokenURL: "http://sts.example.com/v1/token"}, "downscope.Config.TokenURL"},
		{downscope.Config{Source: root, Boundary: dsBoundary(), UniverseDomain: "bad domain"}, "downscope.Config.UniverseDomain"},
		{downscope.Config{Source: root, Boundary: dsBoundary(), HTTPOptions: sts.HTTPOptions{Timeout: -1}}, "downscope.Config.Timeout"},
		{downscope.Config{Source: root, Boundary: dsBoundary(), HTTPOptions: sts.HTTPOptions{Retry: sts.RetryPolicy{MaxAttempts: -1}}}, "downscope.Config.Retry.MaxAttempts"},
		{downscope.Config{Source: root, Boundary: dsBoundary(), Cache: sts.CacheOptions{StaleFraction: 2}}, "downscope.Config.Cache.StaleFraction"},
		{downscope.Config{Source: root, Boundary: dsBoundary(), RefreshWindow: time.Hour}, "downscope.Config.RefreshWindow"},
		{downscope.Config{Source: root, Boundary: dsBoundary(), BlockingWindow: time.Minute}, "downscope.Config.BlockingWindow"},
	} {
		_, err := downscope.NewTokenSource(tc.cfg)
		var ve *sts.ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("NewTokenSource(%v) = %v, want a ValidationError for %s", tc.cfg, err, tc.field)
		}
	}
	for _, tc := range []struct {
		cfg   downscope.Config
		field string
	}{
		{downscope.Config{}, "downscope.Config.Source"},
		{downscope.Config{Source: root, Boundary: dsBoundary()}, "downscope.Config.Boundary"},
		{downscope.Config{Source: root, Cache: sts.CacheOptions{InitialToken: &oauth2.Token{AccessToken: "x"}}}, "downscope.Config.Cache.InitialToken"},
		{downscope.Config{Source: root, Cache: sts.CacheOptions{MinBackoff: -1}}, "downscope.Config.Cache.MinBackoff"},
		{downscope.Config{Source: root, BlockingWindow: -1}, "downscope.Config.BlockingWindow"},
	} {
		_, err := downscope.NewMinter(tc.cfg)
		var ve *sts.ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("NewMinter(%v) = %v, want a ValidationError for %s", tc.cfg, err, tc.field)
		}
	}
	if s := fmt.Sprint(downscope.Config{Source: root, Boundary: dsBoundary()}); strings.Contains(s, "SECRET") {
		t.Errorf("Config prints %s", s)
	}
}

func TestServerSideErrors(t *testing.T) {
	emu := ststest.NewInMemoryServer(ststest.Options{})
	defer emu.Close()
	emu.PushFaults(ststest.ErrorFault(400, "invalid_grant", "the subject token is invalid"))
	root := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: dsRootSecret})
	ts, err := downscope.NewTokenSource(downscope.Config{Source: root, Boundary: dsBoundary(), TokenURL: emu.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.Token()
	var se *sts.Error
	if !errors.As(err, &se) || se.Code != "invalid_grant" || se.Temporary() {
		t.Fatalf("err = %v, want a permanent invalid_grant", err)
	}
	if strings.Contains(err.Error(), dsRootSecret) || ts.LastError() == nil {
		t.Errorf("error %q / LastError %v", err, ts.LastError())
	}
	// A failing root source, and one with no token.
	for _, bad := range []oauth2.TokenSource{failingRoot{}, oauth2.StaticTokenSource(nil)} {
		ts, _ = downscope.NewTokenSource(downscope.Config{Source: bad, Boundary: dsBoundary(), TokenURL: emu.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()}})
		if _, err := ts.Token(); !errors.As(err, &se) || se.Op != "subject" {
			t.Fatalf("root failure: %v", err)
		}
	}
}

type failingRoot struct{}

func (failingRoot) Token() (*oauth2.Token, error) { return nil, errors.New("root is down") }

// TestServerSideOptionsAsValidated: the options the exchange sends are byte
// for byte what AccessBoundary.Validate measures, with characters that JSON
// escapes.
func TestServerSideOptionsAsValidated(t *testing.T) {
	emu := ststest.NewInMemoryServer(ststest.Options{})
	defer emu.Close()
	var rs []sts.AccessBoundaryRule
	for i := range 5 {
		rs = append(rs, sts.ObjectPrefixRule("bucket", fmt.Sprintf("p%d/&<>", i), "roles/storage.objectViewer"))
	}
	b := &sts.AccessBoundary{Rules: rs}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	ts, err := downscope.NewTokenSource(downscope.Config{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "x"}), Boundary: b,
		TokenURL: emu.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Token(); err != nil {
		t.Fatal(err)
	}
	sent, want := emu.Requests()[0].Form.Get("options"), optionsOf(t, b)
	if sent != want {
		t.Fatalf("exchange sends %d bytes:\n%s\nValidate measures %d:\n%s", len(sent), sent, len(want), want)
	}
}

// TestServerSideSendsTheRootTokenInTheBodyOnly: no request of server-side
// downscoping carries an Authorization header.
func TestServerSideSendsTheRootTokenInTheBodyOnly(t *testing.T) {
	emu := ststest.NewInMemoryServer(ststest.Options{})
	defer emu.Close()
	ds, err := downscope.NewTokenSource(downscope.Config{Source: rootSource(t, emu), TokenURL: emu.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()},
		Boundary: &sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{sts.BucketRule("b", "roles/storage.objectViewer")}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ds.Token(); err != nil {
		t.Fatal(err)
	}
	for i, r := range emu.Requests() {
		if a := r.Header.Get("Authorization"); a != "" {
			t.Errorf("request %d (%s) carries Authorization %q", i, r.Path, fmt.Sprintf("%.10s…", a))
		}
	}
}

// TestPlainHTTPRefusedForNonLoopbackEndpoints: both constructors refuse a
// token endpoint that would send the root token in the clear, and accept
// loopback ones.
func TestPlainHTTPRefusedForNonLoopbackEndpoints(t *testing.T) {
	insecure := []string{
		"http://sts.googleapis.com/v1/token", "http://example.com/v1/token", "http://127.0.0.1.evil.example/v1/token",
		"http://localhost.evil.example/v1/token", "http://0.0.0.0/v1/token", "http://10.0.0.1/v1/token",
		"http://169.254.169.254/v1/token", "http://2130706433/v1/token", "http://[::]/v1/token", "HTTP://EXAMPLE.COM/v1/token",
		"ftp://sts.googleapis.com/v1/token", "ws://127.0.0.1/v1/token", "file:///etc/passwd", "//sts.googleapis.com/v1/token",
		"sts.googleapis.com/v1/token", "https://user:" + dsRootSecret + "@sts.googleapis.com/v1/token",
	}
	loopback := []string{"http://127.0.0.1:8080/v1/token", "http://127.1.2.3/v1/token", "http://localhost/v1/token", "http://[::1]:9/v1/token"}
	root := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: dsRootSecret})
	ctors := map[string]func(u string) error{
		"NewTokenSource": func(u string) error {
			_, err := downscope.NewTokenSource(downscope.Config{Source: root, Boundary: dsBoundary(), TokenURL: u})
			return err
		},
		"NewMinter": func(u string) error {
			_, err := downscope.NewMinter(downscope.Config{Source: root, TokenURL: u})
			return err
		},
	}
	for name, ctor := range ctors {
		for _, u := range insecure {
			err := ctor(u)
			var ve *sts.ValidationError
			if !errors.As(err, &ve) || ve.Field != "downscope.Config.TokenURL" {
				t.Errorf("%s, TokenURL %q: err = %v, want a *ValidationError on downscope.Config.TokenURL", name, u, err)
				continue
			}
			if strings.Contains(err.Error(), dsRootSecret) {
				t.Errorf("%s, TokenURL %q: error shows the password: %v", name, u, err)
			}
		}
		for _, u := range loopback {
			if err := ctor(u); err != nil {
				t.Errorf("%s, TokenURL %q (loopback): %v", name, u, err)
			}
		}
	}
}

// TestServerSideTokenIntrospects: a server-side downscoped token
// introspects as active, with the subject and the expiry of the token it
// was exchanged for.
func TestServerSideTokenIntrospects(t *testing.T) {
	srv := ststest.NewInMemoryServer(ststest.Options{})
	defer srv.Close()
	opts := sts.IntrospectOptions{URL: srv.IntrospectURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: srv.Client()}}
	ctx := context.Background()
	exchanged, err := rootSource(t, srv).TokenContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := srv.Lookup(exchanged.AccessToken)
	ds, err := downscope.NewTokenSource(downscope.Config{
		Source:   oauth2.StaticTokenSource(exchanged),
		Boundary: &sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{sts.BucketRule("bucket-1", "roles/storage.objectViewer")}},
		TokenURL: srv.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: srv.Client()},
	})
	if err != nil {
		t.Fatal(err)
	}
	dtok, err := ds.Token()
	if err != nil {
		t.Fatal(err)
	}
	got, err := sts.Introspect(ctx, dtok.AccessToken, opts)
	if err != nil {
		t.Fatal(err)
	}
	if dinfo, ok := srv.Lookup(dtok.AccessToken); !ok || dinfo.Kind != "downscoped" {
		t.Fatalf("not a downscoped token: %v", dinfo)
	}
	if !got.Active || got.Subject != info.Subject || got.Subject == "" || !got.Expiry.Equal(info.ExpiresAt.Truncate(time.Second)) {
		t.Errorf("downscoped: %v, exchanged %v", got, info)
	}
}
