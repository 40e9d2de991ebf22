package githubactions_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/credfile"
	"github.com/stsgo/sts/githubactions"
	"github.com/stsgo/sts/ststest"
)

const (
	testAudience = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/github/providers/repo"
	// runtimeURL is where the fake runtime answers, as the runner sets
	// ACTIONS_ID_TOKEN_REQUEST_URL (with its own query).
	runtimeURL   = "http://127.0.0.3:0/_apis/distributedtask/oidc/token?api-version=2.0"
	requestToken = "runtime-request-token-SECRET-7f3a9"
	// oidcLifetime is how long the fake runtime's tokens live, as GitHub's
	// do: a few minutes.
	oidcLifetime = 5 * time.Minute
)

// runtime is a fake GitHub Actions OIDC endpoint. It mints a new unsigned
// JWT (accepted by the emulator until its exp) at every request, or
// answers with the status and body a test sets.
type runtime struct {
	mu       sync.Mutex
	requests []*http.Request
	issued   []string
	status   int    // 0: mint a token
	body     string // with status
}

func (rt *runtime) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.requests = append(rt.requests, r.Clone(context.Background()))
	if rt.status != 0 {
		w.WriteHeader(rt.status)
		_, _ = w.Write([]byte(rt.body))
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+requestToken {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{
		"iss": "https://token.actions.githubusercontent.com", "sub": "repo:octo/repo:ref:refs/heads/main",
		"aud": r.URL.Query().Get("audience"), "iat": now.Unix(), "exp": now.Add(oidcLifetime).Unix(),
		"jti": fmt.Sprintf("jti-%d", len(rt.issued)),
	})
	tok := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString(claims) + "."
	rt.issued = append(rt.issued, tok)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"count": 1, "value": tok})
}

func (rt *runtime) snapshot() (reqs []*http.Request, issued []string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]*http.Request(nil), rt.requests...), append([]string(nil), rt.issued...)
}

// routes sends requests for the runtime's host to the fake runtime, in the
// calling goroutine (so that synctest bubbles stay durable), and every
// other request through next.
type routes struct {
	rt   http.Handler
	next http.RoundTripper
}

func (r routes) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != "127.0.0.3:0" {
		return r.next.RoundTrip(req)
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	r.rt.ServeHTTP(rec, req)
	return rec.Result(), nil
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

var jobEnv = env(map[string]string{
	githubactions.EnvRequestURL:   runtimeURL,
	githubactions.EnvRequestToken: requestToken,
})

// setup returns an emulator and an HTTP client that reaches both it and rt.
func setup(t *testing.T, opts ststest.Options, rt *runtime) (*ststest.Server, *http.Client) {
	t.Helper()
	s := ststest.NewInMemoryServer(opts)
	t.Cleanup(s.Close)
	return s, &http.Client{Transport: routes{rt: rt, next: s.Client().Transport}}
}

// TestSubjectAsksRuntime: the request is a GET on the runtime's URL with
// its query kept and audience added (the provider's default allowed
// audience, or Subject.Audience), the request token as a Bearer token, and
// the exchange sends the token of the answer's "value".
func TestSubjectAsksRuntime(t *testing.T) {
	for _, tc := range []struct{ name, audience, want string }{
		{"default audience", "", "https:" + testAudience},
		{"explicit audience", "https://example.com/aud", "https://example.com/aud"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := &runtime{}
			var got []string
			s, hc := setup(t, ststest.Options{ValidateSubject: func(_, tok string) error {
				got = append(got, tok)
				return nil
			}}, rt)
			ts, err := sts.NewTokenSource(sts.Config{
				Subject:          githubactions.Subject{Audience: tc.audience, HTTPClient: hc, Getenv: jobEnv},
				SubjectTokenType: sts.TokenTypeJWT, Audience: testAudience, TokenURL: s.TokenURL(),
				HTTPOptions: sts.HTTPOptions{HTTPClient: hc},
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ts.Token(); err != nil {
				t.Fatal(err)
			}
			reqs, issued := rt.snapshot()
			if len(reqs) != 1 {
				t.Fatalf("runtime got %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != http.MethodGet || r.URL.Path != "/_apis/distributedtask/oidc/token" {
				t.Errorf("request %s %s", r.Method, r.URL.Path)
			}
			if q := r.URL.Query(); q.Get("api-version") != "2.0" || q.Get("audience") != tc.want {
				t.Errorf("query %v, want api-version=2.0 and audience=%s", q, tc.want)
			}
			if h := r.Header.Get("Authorization"); h != "Bearer "+requestToken {
				t.Errorf("Authorization %q", h)
			}
			if len(got) != 1 || got[0] != issued[0] {
				t.Errorf("exchange sent %d tokens, not the runtime's", len(got))
			}
		})
	}
}

// TestLongJobGetsFreshTokens: a job that runs for several lifetimes of the
// federated token keeps getting tokens; each exchange asks the runtime for a
// new OIDC token (the emulator refuses the expired ones of earlier
// exchanges).
func TestLongJobGetsFreshTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &runtime{}
		var mu sync.Mutex
		exchanged := map[string]bool{}
		s, hc := setup(t, ststest.Options{TokenLifetime: time.Hour, ValidateSubject: func(_, tok string) error {
			mu.Lock()
			defer mu.Unlock()
			if exchanged[tok] {
				return errors.New("subject token reused")
			}
			exchanged[tok] = true
			return nil
		}}, rt)
		ts, err := sts.NewTokenSource(sts.Config{
			Subject:          githubactions.Subject{HTTPClient: hc, Getenv: jobEnv},
			SubjectTokenType: sts.TokenTypeJWT, Audience: testAudience, TokenURL: s.TokenURL(),
			HTTPOptions: sts.HTTPOptions{HTTPClient: hc, Retry: sts.RetryPolicy{MaxAttempts: 1}},
		})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		seen := map[string]bool{}
		for time.Since(start) < 5*time.Hour {
			tok, err := ts.Token()
			if err != nil {
				t.Fatalf("after %v: %v", time.Since(start), err)
			}
			if !tok.Expiry.After(time.Now()) {
				t.Fatalf("after %v: expired token served", time.Since(start))
			}
			seen[tok.AccessToken] = true
			time.Sleep(time.Minute)
			synctest.Wait()
		}

		reqs, issued := rt.snapshot()
		n := s.Count("/v1/token")
		if len(seen) < 5 || n < 5 {
			t.Errorf("%d distinct access tokens from %d exchanges over 5 hours; want at least 5", len(seen), n)
		}
		if len(reqs) != n || len(issued) != n {
			t.Errorf("runtime asked %d times for %d exchanges; want one fresh OIDC token per exchange", len(reqs), n)
		}
	})
}

// TestRuntimeAbsent: outside a job with id-token: write, construction fails
// with a *sts.ValidationError naming the variable and the permission, and a
// direct call fails the same way.
func TestRuntimeAbsent(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		field string
	}{
		{"no variables", nil, githubactions.EnvRequestURL},
		{"no request token", map[string]string{githubactions.EnvRequestURL: runtimeURL}, githubactions.EnvRequestToken},
		{"no request URL", map[string]string{githubactions.EnvRequestToken: requestToken}, githubactions.EnvRequestURL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub := githubactions.Subject{Getenv: env(tc.env)}
			_, err := sts.NewTokenSource(sts.Config{
				Subject: sub, SubjectTokenType: sts.TokenTypeJWT, Audience: testAudience,
			})
			var ve *sts.ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field || !strings.Contains(err.Error(), "permissions: id-token: write") {
				t.Fatalf("NewTokenSource: %v; want a *sts.ValidationError for %s saying the job needs id-token: write", err, tc.field)
			}
			_, err = sub.SubjectToken(context.Background(), sts.SubjectRequest{Audience: testAudience})
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Fatalf("SubjectToken: %v", err)
			}
			if strings.Contains(err.Error(), requestToken) {
				t.Errorf("error quotes the request token: %v", err)
			}
		})
	}
}

// TestValidate: bad settings and a runtime URL that would carry the
// request token in clear text are refused.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sub   githubactions.Subject
		field string
	}{
		{"plain http to a remote host", githubactions.Subject{Getenv: env(map[string]string{
			githubactions.EnvRequestURL: "http://runtime.example.com/oidc?api-version=2.0", githubactions.EnvRequestToken: requestToken})},
			githubactions.EnvRequestURL},
		{"not a URL", githubactions.Subject{Getenv: env(map[string]string{
			githubactions.EnvRequestURL: "::", githubactions.EnvRequestToken: requestToken})}, githubactions.EnvRequestURL},
		{"token with a line break", githubactions.Subject{Getenv: env(map[string]string{
			githubactions.EnvRequestURL: runtimeURL, githubactions.EnvRequestToken: "a\r\nX-Evil: 1"})}, githubactions.EnvRequestToken},
		{"audience with a line break", githubactions.Subject{Audience: "a\nb", Getenv: jobEnv}, "Subject.Audience"},
		{"negative timeout", githubactions.Subject{Timeout: -1, Getenv: jobEnv}, "Subject.Timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.sub.Validate()
			var ve *sts.ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Fatalf("Validate() = %v; want a *sts.ValidationError for %s", err, tc.field)
			}
		})
	}
	if err := (githubactions.Subject{Getenv: jobEnv}).Validate(); err != nil {
		t.Errorf("valid job environment: %v", err)
	}
	_, err := sts.NewTokenSource(sts.Config{
		Subject: githubactions.Subject{Getenv: jobEnv}, SubjectTokenType: sts.TokenTypeSAML2, Audience: testAudience,
	})
	var ve *sts.ValidationError
	if !errors.As(err, &ve) {
		t.Errorf("SAML subject type accepted: %v", err)
	}
}

// TestRuntimeFailures: answers other than a 200 with a JSON "value" are
// *sts.Error with Op "subject", temporary only where a retry may help, and
// never quote the request token or the answer's token.
func TestRuntimeFailures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		body      string
		temporary bool
		want      string
	}{
		{"server error", 500, `oops`, true, "500"},
		{"throttled", 429, ``, true, "429"},
		{"forbidden", 403, `{"message":"no id-token permission"}`, false, "403"},
		{"not JSON", 200, `eyJhbGciOiJub25lIn0.e30.`, false, "JSON"},
		{"no value", 200, `{"count":1,"token":"eyJhbGciOiJub25lIn0.e30."}`, false, `"value"`},
		{"value not a string", 200, `{"value":12}`, false, `"value"`},
		{"empty value", 200, `{"value":""}`, false, "empty"},
		{"redirect", 302, ``, false, "redirect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := &runtime{status: tc.status, body: tc.body}
			hc := &http.Client{Transport: routes{rt: rt}}
			_, err := githubactions.Subject{HTTPClient: hc, Getenv: jobEnv}.SubjectToken(context.Background(),
				sts.SubjectRequest{Audience: testAudience, SubjectTokenType: sts.TokenTypeJWT})
			var se *sts.Error
			if !errors.As(err, &se) || se.Op != "subject" || se.Temporary() != tc.temporary {
				t.Fatalf("err = %v; want an *sts.Error Op subject, temporary %t", err, tc.temporary)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, "github actions") {
				t.Errorf("error %q does not say %q and name the runtime", msg, tc.want)
			}
			for _, secret := range []string{requestToken, "eyJhbGciOiJub25lIn0", "audience="} {
				if strings.Contains(fmt.Sprintf("%v %+v %#v", err, err, err), secret) {
					t.Errorf("error quotes %q: %v", secret, err)
				}
			}
		})
	}
}

// TestRuntimeUnreachable: a network failure is temporary, and a cancelled
// context stops the request.
func TestRuntimeUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	sub := githubactions.Subject{Getenv: env(map[string]string{
		githubactions.EnvRequestURL: addr + "/oidc?api-version=2.0", githubactions.EnvRequestToken: requestToken})}
	_, err := sub.SubjectToken(context.Background(), sts.SubjectRequest{Audience: testAudience})
	if !sts.IsTemporary(err) {
		t.Errorf("closed port: %v; want a temporary *sts.Error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rt := &runtime{}
	_, err = githubactions.Subject{HTTPClient: &http.Client{Transport: routes{rt: rt}}, Getenv: jobEnv}.SubjectToken(ctx,
		sts.SubjectRequest{Audience: testAudience})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestSubjectPrintsNoSecret: the provider's printed forms show neither the
// request token nor the environment.
func TestSubjectPrintsNoSecret(t *testing.T) {
	sub := githubactions.Subject{Audience: "https://example.com/aud", Getenv: jobEnv}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, sub)
		if strings.Contains(out, requestToken) || !strings.Contains(out, "example.com") {
			t.Errorf("%s: %s", verb, out)
		}
	}
}

// TestActionsCredentialFile: the file that google-github-actions/auth
// writes (a URL source with the request token in an Authorization header
// and the JSON field "value", with and without impersonation) loads
// unchanged and fetches a new OIDC token at each exchange.
func TestActionsCredentialFile(t *testing.T) {
	for _, impersonate := range []bool{false, true} {
		t.Run(fmt.Sprintf("impersonate=%t", impersonate), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt := &runtime{}
				s, hc := setup(t, ststest.Options{TokenLifetime: time.Hour}, rt)
				file := map[string]any{
					"type":               "external_account",
					"audience":           testAudience,
					"subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
					"token_url":          s.TokenURL(),
					"credential_source": map[string]any{
						"url":     runtimeURL + "&audience=" + "https%3A%2F%2Fiam.googleapis.com%2Fprojects%2F123%2Flocations%2Fglobal%2FworkloadIdentityPools%2Fgithub%2Fproviders%2Frepo",
						"headers": map[string]string{"Authorization": "Bearer " + requestToken},
						"format":  map[string]string{"type": "json", "subject_token_field_name": "value"},
					},
				}
				if impersonate {
					file["service_account_impersonation_url"] = s.ImpersonationURL("ci@project.iam.gserviceaccount.com")
				}
				data, err := json.Marshal(file)
				if err != nil {
					t.Fatal(err)
				}
				creds, err := credfile.Load(data, credfile.Options{HTTPOptions: sts.HTTPOptions{HTTPClient: hc}})
				if err != nil {
					t.Fatal(err)
				}
				ts := creds.TokenSource()

				start := time.Now()
				for time.Since(start) < 3*time.Hour {
					if _, err := ts.Token(); err != nil {
						t.Fatalf("after %v: %v", time.Since(start), err)
					}
					time.Sleep(time.Minute)
					synctest.Wait()
				}
				reqs, _ := rt.snapshot()
				n := s.Count("/v1/token")
				if n < 3 || len(reqs) != n {
					t.Errorf("%d runtime requests for %d exchanges in 3 hours; want one per exchange, at least 3", len(reqs), n)
				}
				for _, r := range reqs {
					if r.URL.Query().Get("audience") != "https:"+testAudience || r.Header.Get("Authorization") != "Bearer "+requestToken {
						t.Fatalf("runtime request %v %v", r.URL.Query(), r.Header.Get("Authorization") != "")
					}
				}
			})
		})
	}
}
