package sts

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/ststest"
)

// The emulator half of the corpus: every fault mode of ststest, injected
// into the exchange, the cached exchange, impersonation and the
// authorized-user refresh, in memory inside synctest bubbles and over real
// loopback sockets.

const relSA = "sa@p.iam.gserviceaccount.com"

type relFaultCase struct {
	name  string
	ops   []string
	fault ststest.Fault
	want  string
}

// relWantTimeout is what a fault that outlasts the deadline must produce.
const relWantTimeout = "timed out"

var relEmuOps = []string{relOpExchange, relOpCached, relOpImpersonate, relOpRefresh}

func relFaultCorpus() []relFaultCase {
	tokenOps := []string{relOpExchange, relOpCached, relOpRefresh}
	iamOps := []string{relOpImpersonate}
	body := func(s string) ststest.Fault { return ststest.Fault{Status: 200, Body: s} }
	huge := strings.Repeat("x", 10<<20)
	f429 := ststest.GoogleErrorFault(429, "RESOURCE_EXHAUSTED", "Quota exceeded")
	f429.RetryAfter = "1"
	truncErr := ststest.ErrorFault(500, "server_error", strings.Repeat("long description ", 20))
	truncErr.Truncate = true
	return []relFaultCase{
		{"html 502", relEmuOps, ststest.Fault{HTML: true}, "status 502: bad gateway"},
		{"html 503", relEmuOps, ststest.Fault{HTML: true, Status: 503}, "status 503: service unavailable"},
		{"html 404", relEmuOps, ststest.Fault{HTML: true, Status: 404}, "status 404: not found"},
		{"html 200", relEmuOps, ststest.Fault{HTML: true, Status: 200}, "content type"},
		{"html 200 labelled json", relEmuOps, ststest.Fault{HTML: true, Status: 200, ContentType: "application/json"}, "not valid json"},
		{"truncated answer", relEmuOps, ststest.Fault{Truncate: true}, "unexpected eof"},
		{"truncated error", relEmuOps, truncErr, "unexpected eof"},
		{"connection reset", relEmuOps, ststest.Fault{Reset: true}, "connection reset"},
		{"reset after a delay", relEmuOps, ststest.Fault{Delay: 100 * time.Millisecond, Reset: true}, "connection reset"},
		{"hang", relEmuOps, ststest.Fault{Hang: true}, relWantTimeout},
		{"slower than the deadline", relEmuOps, ststest.Fault{Delay: time.Minute}, relWantTimeout},
		{"10 MB body", relEmuOps, ststest.Fault{Status: 200, Body: huge}, "exceeds 1 mib"},
		{"10 MB error body", relEmuOps, ststest.Fault{Status: 500, Body: huge}, "exceeds 1 mib"},
		{"invalid_grant", relEmuOps, ststest.ErrorFault(400, "invalid_grant", "The subject token is expired."), "invalid_grant"},
		{"invalid_client", relEmuOps, ststest.ErrorFault(401, "invalid_client", "bad client"), "status 401: invalid_client"},
		{"permission denied", relEmuOps, ststest.GoogleErrorFault(403, "PERMISSION_DENIED", "denied"), "status 403: permission_denied: denied"},
		{"resource exhausted", relEmuOps, f429, "status 429: resource_exhausted"},
		{"temporarily unavailable", relEmuOps, ststest.UnavailableFault(2 * time.Second), "status 503: temporarily_unavailable"},
		{"500 empty", relEmuOps, ststest.Fault{Status: 500}, "status 500: internal server error"},
		{"redirect to another host", relEmuOps, ststest.Fault{Status: 302, Header: http.Header{"Location": {"https://evil.example/v1/token"}}}, `redirect to host "evil.example" not followed`},
		{"redirect to another port", relEmuOps, ststest.Fault{Status: 307, Header: http.Header{"Location": {"http://127.0.0.1:9/v1/token"}}}, "not followed"},
		{"text/plain answer", tokenOps, ststest.Fault{Status: 200, ContentType: "text/plain", Body: relTokenBody(`,"expires_in":3600`)}, "content type"},
		{"expires_in negative", tokenOps, body(relTokenBody(`,"expires_in":-1`)), "expires_in must be positive"},
		{"expires_in zero", tokenOps, body(relTokenBody(`,"expires_in":0`)), "expires_in must be positive"},
		{"expires_in huge", tokenOps, body(relTokenBody(`,"expires_in":315360000000`)), "out of range"},
		{"expires_in string", tokenOps, body(relTokenBody(`,"expires_in":"an hour"`)), "not an integer"},
		{"missing access_token", tokenOps, body(`{"token_type":"Bearer","expires_in":3600}`), "no access_token"},
		{"wrong token_type", tokenOps, body(relTokenBody(`,"token_type":"MAC","expires_in":3600`)), "not bearer"},
		{"missing accessToken", iamOps, body(`{"expireTime":"2999-01-01T00:00:00Z"}`), "no accesstoken"},
		{"missing expireTime", iamOps, body(`{"accessToken":"` + relAccessToken + `"}`), "no expiretime"},
		{"bad expireTime", iamOps, body(`{"accessToken":"` + relAccessToken + `","expireTime":"soon"}`), "rfc 3339"},
		{"expireTime in the past", iamOps, body(`{"accessToken":"` + relAccessToken + `","expireTime":"1990-01-01T00:00:00Z"}`), "in the past"},
	}
}

// relEmuPath is the path a fault for op must match.
func relEmuPath(op string) string {
	switch op {
	case relOpImpersonate:
		return "/v1/projects/-/serviceAccounts/" + relSA + ":generateAccessToken"
	case relOpRefresh:
		return "/v1/oauthtoken"
	}
	return "/v1/token"
}

// relEmuCall runs op against emu through client.
func relEmuCall(ctx context.Context, t *testing.T, emu *ststest.Server, client *http.Client, op string, timeout time.Duration, attempts int, log *slog.Logger) ([]string, error) {
	t.Helper()
	retry := RetryPolicy{MaxAttempts: attempts, InitialBackoff: 100 * time.Millisecond, MaxBackoff: relMaxBack}
	cfg := Config{
		Subject: StaticSubject(relSubjectToken), SubjectTokenType: TokenTypeJWT,
		Audience: "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
		ClientID: relClientID, ClientSecret: relClientSecret,
		TokenURL: emu.TokenURL(), HTTPOptions: HTTPOptions{HTTPClient: client, Timeout: timeout, Retry: retry, Logger: log},
	}
	var (
		obj any
		tok *oauth2.Token
		err error
	)
	switch op {
	case relOpExchange:
		x, cerr := newExchanger(cfg)
		if cerr != nil {
			t.Fatal(cerr)
		}
		obj = x
		tok, err = x.TokenContext(ctx)
	case relOpCached:
		ts, cerr := NewTokenSource(cfg)
		if cerr != nil {
			t.Fatal(cerr)
		}
		obj = ts
		tok, err = ts.TokenContext(ctx)
	case relOpImpersonate:
		x, cerr := newExchanger(cfg)
		if cerr != nil {
			t.Fatal(cerr)
		}
		im, cerr := newImpersonator(impConfig{Source: x, URL: emu.ImpersonationURL(relSA),
			HTTPOptions: HTTPOptions{HTTPClient: client, Timeout: timeout, Retry: retry, Logger: log}})
		if cerr != nil {
			t.Fatal(cerr)
		}
		obj = im
		tok, err = im.TokenContext(ctx)
	case relOpRefresh:
		emu.AddRefreshToken(relRefreshToken, relClientID)
		r, cerr := newRefresher(authUserConfig{RefreshToken: relRefreshToken, ClientID: relClientID, ClientSecret: relClientSecret,
			TokenURL: emu.URL + "/v1/oauthtoken", HTTPOptions: HTTPOptions{HTTPClient: client, Timeout: timeout, Retry: retry, Logger: log}})
		if cerr != nil {
			t.Fatal(cerr)
		}
		obj = r
		tok, err = r.TokenContext(ctx)
	default:
		t.Fatalf("unknown op %q", op)
	}
	if err == nil && tok == nil {
		t.Error("no token and no error")
	}
	return []string{fmt.Sprint(obj), fmt.Sprintf("%+v", obj), fmt.Sprintf("%#v", obj)}, err
}

// relEmuSecrets returns the credentials that travelled in emu's recorded
// requests: tokens it issued and was sent, besides the known ones.
func relEmuSecrets(emu *ststest.Server) []string {
	var out []string
	for _, r := range emu.Requests() {
		if a := r.Header.Get("Authorization"); a != "" {
			if _, cred, ok := strings.Cut(a, " "); ok && len(cred) >= 12 {
				out = append(out, cred)
			}
		}
		for _, k := range []string{"subject_token", "refresh_token", "actor_token"} {
			if v := r.Form.Get(k); len(v) >= 12 {
				out = append(out, v)
			}
		}
	}
	return out
}

// relRunFault runs case c against emu. Inside a synctest bubble (virtual
// time) it also checks that the call ended within its deadlines; over real
// sockets (virtualTime false) wall-clock time says nothing under load, so
// only a call that must time out is checked, and only for having waited its
// deadline out.
func relRunFault(t *testing.T, emu *ststest.Server, client *http.Client, c relFaultCase, op string, timeout time.Duration, attempts int, virtualTime bool) {
	t.Helper()
	for range attempts {
		f := c.fault
		f.Path = relEmuPath(op)
		emu.PushFaults(f)
	}
	log, buf := newRelLogger()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	var texts []string
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("panic: %v", p)
			}
		}()
		texts, err = relEmuCall(ctx, t, emu, client, op, timeout, attempts, log)
	}()
	switch elapsed := time.Since(start); {
	case virtualTime && elapsed > time.Duration(attempts)*timeout+relMaxBack+time.Second:
		t.Errorf("took %v, past the deadline %v", elapsed, time.Duration(attempts)*timeout+relMaxBack+time.Second)
	case c.want == relWantTimeout && elapsed < timeout:
		t.Errorf("timed out after %v, before the %v deadline", elapsed, timeout)
	}
	relCheckCorpusError(t, err, c.want)
	relCheckErrorSecrets(t, "fault", err, buf.String())
	for _, l := range relLeaks(texts...) {
		t.Errorf("String/%%+v: %s", l)
	}
	logs := buf.String()
	for _, s := range relEmuSecrets(emu) {
		if strings.Contains(err.Error(), s) || strings.Contains(fmt.Sprintf("%+v", err), s) || strings.Contains(logs, s) {
			t.Errorf("a credential sent to the emulator shows in the error or the log")
		}
		for _, x := range texts {
			if strings.Contains(x, s) {
				t.Errorf("a credential sent to the emulator shows in String/%%+v")
			}
		}
	}
}

// TestCorpusEmulatorControl checks that each operation succeeds against the
// emulator without a fault, so the faults are what the corpus tests.
func TestCorpusEmulatorControl(t *testing.T) {
	for _, op := range relEmuOps {
		t.Run(op, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				emu := ststest.NewInMemoryServer(ststest.Options{ClientID: relClientID, ClientSecret: relClientSecret})
				defer emu.Close()
				_, err := relEmuCall(context.Background(), t, emu, emu.Client(), op, relTimeout, relAttempts, nil)
				if err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

func TestCorpusEmulatorFaults(t *testing.T) {
	cases := relFaultCorpus()
	runs := 0
	for _, c := range cases {
		for _, op := range c.ops {
			runs++
			t.Run("memory/"+op+"/"+c.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					emu := ststest.NewInMemoryServer(ststest.Options{ClientID: relClientID, ClientSecret: relClientSecret})
					defer emu.Close()
					relRunFault(t, emu, emu.Client(), c, op, relTimeout, relAttempts, true)
				})
			})
		}
	}
	// The same faults over real loopback sockets, for the exchange (every
	// operation shares its HTTP path), with one attempt. Real time is not
	// virtual: a loaded machine can take seconds to answer, so only the
	// faults that must time out (the server never answers in time) get a
	// short deadline; every other fault gets a deadline no load reaches,
	// and the outcome, not the duration, is what is checked.
	for _, c := range cases {
		if !strings.Contains(strings.Join(c.ops, ","), relOpExchange) {
			continue
		}
		runs++
		t.Run("socket/"+c.name, func(t *testing.T) {
			emu := ststest.NewServer(ststest.Options{ClientID: relClientID, ClientSecret: relClientSecret})
			defer emu.Close()
			timeout := 30 * time.Second
			if c.want == relWantTimeout {
				timeout = time.Second
			}
			relRunFault(t, emu, emu.Client(), c, relOpExchange, timeout, 1, false)
		})
	}
	t.Logf("emulator corpus: %d fault modes, %d runs (in memory and over loopback sockets)", len(cases), runs)
}
