package downscope_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/downscope"
	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/ststest"
)

// TestSecretsNeverShown runs both kinds of downscoping to success and then
// to failure with a debug-level logger, and checks that no root token,
// downscoped token, intermediary token or session key appears in the logs,
// in any rendering of the objects involved, or in the errors.
func TestSecretsNeverShown(t *testing.T) {
	emu := ststest.NewInMemoryServer(ststest.Options{})
	defer emu.Close()
	var secrets []string
	var mu sync.Mutex
	keep := func(s string) {
		mu.Lock()
		secrets = append(secrets, s)
		mu.Unlock()
	}
	// Record the session keys STS hands out.
	base := emu.Client().Transport
	client := &http.Client{Transport: fixture.RoundTrip(func(r *http.Request) (*http.Response, error) {
		resp, err := base.RoundTrip(r)
		if err != nil || resp.StatusCode != 200 {
			return resp, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		var m struct {
			SessionKey string `json:"access_boundary_session_key"`
		}
		if json.Unmarshal(body, &m) == nil && m.SessionKey != "" {
			keep(m.SessionKey)
		}
		return resp, nil
	})}
	var logs fixture.Log
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts := sts.HTTPOptions{HTTPClient: client, Logger: logger}
	root := rootSource(t, emu)
	ctx := context.Background()
	rootTok, err := root.TokenContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keep(rootTok.AccessToken)
	keep(testJWT)

	b := dsBoundary()
	cfg := downscope.Config{Source: root, Boundary: b, TokenURL: emu.TokenURL(), HTTPOptions: opts}
	server, err := downscope.NewTokenSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := downscope.NewMinter(downscope.Config{Source: root, TokenURL: emu.TokenURL(), HTTPOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := downscope.Compile(b)
	if err != nil {
		t.Fatal(err)
	}
	ts := m.TokenSource(cb)
	sTok, err := server.TokenContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cTok, err := ts.TokenContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inter, sealed, _ := strings.Cut(cTok.AccessToken, ".")
	keep(sTok.AccessToken)
	keep(inter)
	keep(sealed)
	if len(secrets) < 6 {
		t.Fatalf("only %d secrets recorded (no session key?)", len(secrets))
	}

	// A failing round.
	server.Invalidate(nil)
	m.Invalidate()
	for range 10 {
		emu.PushFaults(ststest.ErrorFault(400, "invalid_grant", "no"))
	}
	var errs []error
	if _, err := server.TokenContext(ctx); err == nil {
		t.Error("server-side: no error in the failing round")
	} else {
		errs = append(errs, err)
	}
	if _, err := m.Token(ctx, cb); err == nil {
		t.Error("client-side: no error in the failing round")
	} else {
		errs = append(errs, err, m.LastError())
	}

	var texts []string
	for _, o := range []any{cfg, server, m, ts, cb} {
		texts = append(texts, fmt.Sprint(o), fmt.Sprintf("%v", o), fmt.Sprintf("%+v", o), fmt.Sprintf("%#v", o))
	}
	for _, e := range errs {
		texts = append(texts, e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e))
	}
	l := logs.String()
	if !strings.Contains(l, "level=DEBUG") || !strings.Contains(l, "intermediary token fetch failed") {
		t.Errorf("the logs miss the expected records: %s", l)
	}
	texts = append(texts, l)
	for _, s := range secrets {
		for i, txt := range texts {
			if strings.Contains(txt, s) {
				t.Errorf("a secret shows in text %d: %.200q", i, txt)
			}
		}
	}
}
