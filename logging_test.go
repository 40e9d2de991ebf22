package sts

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/ststest"
)

// TestLogsRedactSecrets runs exchanges, a retry, a refresh and a failing
// refresh with debug logging on, and checks that the log has those events
// and none of the secrets involved.
func TestLogsRedactSecrets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			subject      = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJsb2ctdGVzdCIsImV4cCI6NDEwMjQ0NDgwMH0.c2VjcmV0LXN1YmplY3Q"
			clientID     = "log-test-client"
			clientSecret = "client-secret-4f7a1d9c2e"
		)
		emu := ststest.NewInMemoryServer(ststest.Options{ClientID: clientID, ClientSecret: clientSecret, RequireClientAuth: true})
		defer emu.Close()
		var sink fixture.Log
		logger := slog.New(slog.NewJSONHandler(&sink, &slog.HandlerOptions{Level: slog.LevelDebug}))
		ts, err := NewTokenSource(Config{
			Subject:          StaticSubject(subject),
			SubjectTokenType: TokenTypeJWT,
			Audience:         "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x",
			ClientID:         clientID,
			ClientSecret:     clientSecret,
			TokenURL:         emu.TokenURL(),
			HTTPOptions:      HTTPOptions{HTTPClient: emu.Client(), Retry: RetryPolicy{InitialBackoff: 10 * time.Millisecond}, Logger: logger},
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		emu.PushFaults(ststest.UnavailableFault(0))
		tok1, err := ts.TokenContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ts.Invalidate(tok1)
		tok2, err := ts.TokenContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ts.Invalidate(tok2)
		emu.PushFaults(ststest.ErrorFault(400, "invalid_grant", "the subject token is not accepted"))
		if _, err := ts.TokenContext(ctx); err == nil {
			t.Fatal("want the refresh to fail")
		}
		synctest.Wait()

		out := sink.String()
		for _, want := range []string{`"msg":"sts: subject token"`, `"msg":"sts: request"`, `"msg":"sts: response"`, `"msg":"sts: retrying"`,
			`"msg":"sts: token refreshed"`, `"msg":"sts: token refresh failed"`, `"msg":"sts: error response"`} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks %s:\n%s", want, out)
			}
		}
		for name, secret := range map[string]string{
			"subject token":  subject,
			"subject part":   "c2VjcmV0LXN1YmplY3Q",
			"client secret":  clientSecret,
			"basic header":   strings.TrimPrefix(httpx.BasicAuth(clientID, clientSecret), "Basic "),
			"access token 1": tok1.AccessToken,
			"access token 2": tok2.AccessToken,
		} {
			if strings.Contains(out, secret) {
				t.Errorf("log holds the %s", name)
			}
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if !json.Valid([]byte(line)) {
				t.Errorf("log line is not JSON: %q", line)
			}
		}
	})
}

func TestLoggingLevelEnv(t *testing.T) {
	t.Setenv(LoggingLevelEnv, "")
	if l := resolveLogger(nil); l != nil {
		t.Error("logging on without the environment variable")
	}
	given := slog.New(slog.DiscardHandler)
	t.Setenv(LoggingLevelEnv, "debug")
	if l := resolveLogger(given); l != given {
		t.Error("a given logger is not used as is")
	}
	l := resolveLogger(nil)
	if l == nil || !l.Enabled(context.Background(), slog.LevelDebug) {
		t.Fatal("GOOGLE_SDK_GO_LOGGING_LEVEL=debug does not enable debug logs")
	}
	t.Setenv(LoggingLevelEnv, "warn")
	if l := resolveLogger(nil); l == nil || l.Enabled(context.Background(), slog.LevelInfo) || !l.Enabled(context.Background(), slog.LevelWarn) {
		t.Error("GOOGLE_SDK_GO_LOGGING_LEVEL=warn does not log from warn up only")
	}
}

// TestNilSlogLogger: a nil *slog.Logger in a configuration means no logger,
// as it did when the fields were *slog.Logger: the environment's logger, or
// the configuration's HTTPOptions.Logger for its cache.
func TestNilSlogLogger(t *testing.T) {
	t.Setenv(LoggingLevelEnv, "")
	emu := ststest.NewInMemoryServer(ststest.Options{})
	defer emu.Close()
	var sink fixture.Log
	ts, err := NewTokenSource(Config{
		Subject:          StaticSubject("eyJhbGciOiJub25lIn0.eyJzdWIiOiJsb2ctdGVzdCIsImV4cCI6NDEwMjQ0NDgwMH0.c2VjcmV0LXN1YmplY3Q"),
		SubjectTokenType: TokenTypeJWT,
		Audience:         "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x",
		TokenURL:         emu.TokenURL(),
		HTTPOptions:      HTTPOptions{HTTPClient: emu.Client(), Logger: (*slog.Logger)(nil)},
		Cache:            CacheOptions{Logger: (*slog.Logger)(nil)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Token(); err != nil {
		t.Fatal(err)
	}
	ts, err = NewTokenSource(Config{
		Subject:          StaticSubject("eyJhbGciOiJub25lIn0.eyJzdWIiOiJsb2ctdGVzdCIsImV4cCI6NDEwMjQ0NDgwMH0.c2VjcmV0LXN1YmplY3Q"),
		SubjectTokenType: TokenTypeJWT,
		Audience:         "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x",
		TokenURL:         emu.TokenURL(),
		HTTPOptions:      HTTPOptions{HTTPClient: emu.Client(), Logger: slog.New(slog.NewJSONHandler(&sink, &slog.HandlerOptions{Level: slog.LevelDebug}))},
		Cache:            CacheOptions{Logger: (*slog.Logger)(nil)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Token(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sink.String(), `"msg":"sts: token refreshed"`) {
		t.Errorf("the cache did not fall back to HTTPOptions.Logger:\n%s", sink.String())
	}
}
