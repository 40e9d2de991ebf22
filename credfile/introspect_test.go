package credfile

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/ststest"
)

// TestCredentialsIntrospect: IntrospectOptions of a loaded file name its
// endpoint and client; the loaded-file shortcut asks the file's
// token_info_url with the file's client about the current token; a caller
// changes the options and calls sts.Introspect for anything else.
func TestCredentialsIntrospect(t *testing.T) {
	emu := ststest.NewServer(ststest.Options{ClientID: testClientID, ClientSecret: testClientSecret, RequireClientAuth: true})
	t.Cleanup(emu.Close)
	emu.AddRefreshToken(testRefreshToken, testClientID)
	m := authorizedUserFile(t, emu)
	m["token_info_url"] = emu.IntrospectURL()
	c, err := Load(encodeMap(t, m), Options{HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// The file's settings: the emulator wants the file's client.
	opts := c.IntrospectOptions()
	if opts.URL != emu.IntrospectURL() || opts.ClientID != testClientID || strings.Contains(fmt.Sprint(opts), "SECRET") {
		t.Errorf("IntrospectOptions = %v", opts)
	}
	tok, err := c.TokenSource().Token()
	if err != nil {
		t.Fatal(err)
	}
	in, err := sts.Introspect(ctx, tok.AccessToken, opts)
	if err != nil || !in.Active {
		t.Errorf("refreshed token introspected with IntrospectOptions(): %v, %v", in, err)
	}
	in, err = c.Introspect(ctx)
	if err != nil || !in.Active {
		t.Fatalf("file's settings: %v, %v", in, err)
	}

	// Every setting changed by the caller.
	other := ststest.NewServer(ststest.Options{ClientID: "other-client", ClientSecret: "other-secret-SECRET", RequireClientAuth: true})
	t.Cleanup(other.Close)
	var sent atomic.Int32
	client := &http.Client{Transport: fixture.RoundTrip(func(r *http.Request) (*http.Response, error) {
		sent.Add(1)
		return other.Client().Transport.RoundTrip(r)
	})}
	log, buf := fixture.NewLogger()
	opts.URL, opts.TokenTypeHint, opts.ClientID, opts.ClientSecret = other.IntrospectURL(), "access_token", "other-client", "other-secret-SECRET"
	opts.HTTPOptions = sts.HTTPOptions{HTTPClient: client, Timeout: time.Minute, Logger: log}
	in, err = sts.Introspect(ctx, tok.AccessToken, opts)
	if err != nil || in.Active {
		t.Fatalf("changed settings: %v, %v (the other server does not know the token)", in, err)
	}
	r := other.Requests()
	if len(r) != 1 || r[0].Header.Get("Authorization") != httpx.BasicAuth("other-client", "other-secret-SECRET") || r[0].Form.Get("token_type_hint") != "access_token" {
		t.Errorf("request %+v", r)
	}
	if sent.Load() != 1 || !strings.Contains(buf.String(), "introspect") || strings.Contains(buf.String(), "SECRET") {
		t.Errorf("client used %d times; logs:\n%s", sent.Load(), buf.String())
	}

	// The shortcut ends with its context, and a failure to get the token
	// is that failure.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	c.TokenSource().Invalidate(nil)
	if _, err := c.Introspect(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	m["refresh_token"] = "SECRET-unknown"
	bad, err := Load(encodeMap(t, m), Options{HTTPOptions: sts.HTTPOptions{HTTPClient: emu.Client()}})
	if err != nil {
		t.Fatal(err)
	}
	var se *sts.Error
	if _, err := bad.Introspect(ctx); !errors.As(err, &se) || se.Op != "refresh" || se.Code != "invalid_grant" {
		t.Errorf("failed refresh: %v", err)
	}

	var ve *sts.ValidationError
	if _, err := (*Credentials)(nil).Introspect(ctx); !errors.As(err, &ve) {
		t.Errorf("nil Credentials: %v", err)
	}
}
