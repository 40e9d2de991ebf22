package sts

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

	"github.com/stsgo/sts/internal/exchange"
	"github.com/stsgo/sts/ststest"
	"golang.org/x/oauth2"
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

func dsBoundary() *AccessBoundary {
	return &AccessBoundary{Rules: []AccessBoundaryRule{
		ObjectPrefixRule("bucket-a", "customer-a/", "roles/storage.objectViewer"),
		BucketRule("bucket-b", "roles/storage.objectAdmin"),
	}}
}

func TestDownscopedRequestShapeAndExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := ststest.NewUnstartedServer(ststest.Options{})
		defer emu.Close()
		root := &dsRoot{}
		root.set(dsRootSecret, time.Now().Add(50*time.Minute))
		b := dsBoundary()
		ts, err := NewDownscopedTokenSource(DownscopeConfig{Source: root, Boundary: b, TokenURL: emu.TokenURL(), HTTPOptions: HTTPOptions{HTTPClient: emu.Client()}})
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
		want, _ := b.optionsJSON()
		for k, v := range map[string]string{
			"grant_type":           "urn:ietf:params:oauth:grant-type:token-exchange",
			"subject_token":        dsRootSecret,
			"subject_token_type":   TokenTypeAccessToken,
			"requested_token_type": TokenTypeAccessToken,
			"options":              string(want),
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
		calls := root.calls
		if tok2, _ := ts.Token(); tok2 != tok {
			t.Error("token replaced while the root token is unchanged")
		}
		synctest.Wait()
		if emu.Count("") != 1 || root.calls == calls {
			t.Fatalf("stale, same root: %d requests, root asked %d times", emu.Count(""), root.calls-calls)
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

func TestDownscopedConfigErrors(t *testing.T) {
	root := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: dsRootSecret})
	for _, tc := range []struct {
		cfg   DownscopeConfig
		field string
	}{
		{DownscopeConfig{Boundary: dsBoundary()}, "DownscopeConfig.Source"},
		{DownscopeConfig{Source: root}, "DownscopeConfig.Boundary"},
		{DownscopeConfig{Source: root, Boundary: &AccessBoundary{}}, "AccessBoundary.Rules"},
		{DownscopeConfig{Source: root, Boundary: &AccessBoundary{Rules: rules(11)}}, "AccessBoundary.Rules"},
		{DownscopeConfig{Source: root, Boundary: dsBoundary(), TokenURL: "http://sts.example.com/v1/token"}, "DownscopeConfig.TokenURL"},
		{DownscopeConfig{Source: root, Boundary: dsBoundary(), UniverseDomain: "bad domain"}, "DownscopeConfig.UniverseDomain"},
		{DownscopeConfig{Source: root, Boundary: dsBoundary(), HTTPOptions: HTTPOptions{Timeout: -1}}, "DownscopeConfig.Timeout"},
		{DownscopeConfig{Source: root, Boundary: dsBoundary(), HTTPOptions: HTTPOptions{Retry: RetryPolicy{MaxAttempts: -1}}}, "DownscopeConfig.Retry.MaxAttempts"},
		{DownscopeConfig{Source: root, Boundary: dsBoundary(), Cache: CacheOptions{StaleFraction: 2}}, "CacheOptions.StaleFraction"},
	} {
		_, err := NewDownscopedTokenSource(tc.cfg)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("NewDownscopedTokenSource(%v) = %v, want a ValidationError for %s", tc.cfg, err, tc.field)
		}
	}
	if _, err := NewIntermediaryExchanger(DownscopeConfig{}); err == nil {
		t.Error("NewIntermediaryExchanger without Source succeeded")
	}
	if s := fmt.Sprint(DownscopeConfig{Source: root, Boundary: dsBoundary()}); strings.Contains(s, "SECRET") {
		t.Errorf("DownscopeConfig prints %s", s)
	}
}

func TestDownscopedErrors(t *testing.T) {
	emu := ststest.NewUnstartedServer(ststest.Options{})
	defer emu.Close()
	emu.PushFaults(ststest.ErrorFault(400, "invalid_grant", "the subject token is invalid"))
	root := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: dsRootSecret})
	ts, err := NewDownscopedTokenSource(DownscopeConfig{Source: root, Boundary: dsBoundary(), TokenURL: emu.TokenURL(), HTTPOptions: HTTPOptions{HTTPClient: emu.Client()}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.Token()
	var se *Error
	if !errors.As(err, &se) || se.Code != "invalid_grant" || se.Temporary() {
		t.Fatalf("err = %v, want a permanent invalid_grant", err)
	}
	if strings.Contains(err.Error(), dsRootSecret) || ts.LastError() == nil {
		t.Errorf("error %q / LastError %v", err, ts.LastError())
	}
	// A failing root source.
	bad := oauth2.TokenSource(failingRoot{})
	ts, _ = NewDownscopedTokenSource(DownscopeConfig{Source: bad, Boundary: dsBoundary(), TokenURL: emu.TokenURL(), HTTPOptions: HTTPOptions{HTTPClient: emu.Client()}})
	if _, err := ts.Token(); !errors.As(err, &se) || se.Op != "subject" {
		t.Fatalf("root failure: %v", err)
	}
}

type failingRoot struct{}

func (failingRoot) Token() (*oauth2.Token, error) { return nil, errors.New("root is down") }

func TestIntermediaryExchanger(t *testing.T) {
	emu := ststest.NewUnstartedServer(ststest.Options{})
	defer emu.Close()
	exp := time.Now().Add(time.Hour).Round(time.Second)
	root := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: dsRootSecret, Expiry: exp})
	x, err := NewIntermediaryExchanger(DownscopeConfig{Source: root, TokenURL: emu.TokenURL(), HTTPOptions: HTTPOptions{HTTPClient: emu.Client()}})
	if err != nil {
		t.Fatal(err)
	}
	in, err := x.Intermediary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if in.SessionKey == "" || !in.Token.Expiry.Equal(exp) {
		t.Fatalf("intermediary expiry %v, want %v", in.Token.Expiry, exp)
	}
	f := emu.Requests()[0].Form
	if f.Get("requested_token_type") != TokenTypeIntermediary || f.Has("scope") || f.Has("options") || f.Has("audience") {
		t.Errorf("request %v", emu.Requests()[0])
	}
	for _, s := range []string{in.String(), fmt.Sprintf("%v %+v %#v", in, in, *in), x.String()} {
		if strings.Contains(s, in.SessionKey) || strings.Contains(s, in.Token.AccessToken) || !strings.Contains(s, "sts.") {
			t.Errorf("prints secrets: %s", s)
		}
	}
	// A response without a session key is an error.
	emu.PushFaults(ststest.Fault{Status: 200, Body: `{"access_token":"x","token_type":"Bearer","issued_token_type":"` + TokenTypeIntermediary + `"}`})
	if _, err := x.Intermediary(context.Background()); err == nil || !strings.Contains(err.Error(), "access_boundary_session_key") {
		t.Errorf("err = %v", err)
	}
	if _, err := x.Exchange(context.Background(), nil); err == nil {
		t.Error("Exchange(nil) succeeded")
	}
}

// The options the exchange sends are byte for byte what Validate measures.
func TestOptionsSizeMatchesExchange(t *testing.T) {
	var rs []AccessBoundaryRule
	for i := range 5 {
		rs = append(rs, ObjectPrefixRule("bucket", fmt.Sprintf("p%d/&<>", i), "roles/storage.objectViewer"))
	}
	b := &AccessBoundary{Rules: rs}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	mine, _ := b.optionsJSON()
	raw, _ := json.Marshal(b)
	sent, err := exchange.EncodeOptions("Config.Options", nil, "", raw)
	if err != nil {
		t.Fatal(err)
	}
	if string(sent) != string(mine) {
		t.Fatalf("exchange sends %d bytes:\n%s\nValidate measured %d:\n%s", len(sent), sent, len(mine), mine)
	}
}
