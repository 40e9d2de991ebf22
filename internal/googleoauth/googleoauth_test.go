package googleoauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stsgo/sts/internal/fixture"
	"github.com/stsgo/sts/internal/httpx"
)

const (
	testRefresh = "1//refresh-token-secret-41c7"
	testSecret  = "client-secret-8e2d"
	testEmail   = "robot@demo-project.iam.gserviceaccount.com"
)

var testKey = fixture.RSAKey()

func keyPEM(*testing.T) string { return fixture.RSAKeyPEM() }

// tokenServer plays oauth2.googleapis.com/token: a refresh_token grant for
// the test client, and a JWT-bearer grant whose assertion the test key
// signed. answer, if set, replaces the success answer.
type tokenServer struct {
	*httptest.Server
	calls     atomic.Int32
	scopes    atomic.Value // string
	answer    atomic.Pointer[func(w http.ResponseWriter) bool]
	failFirst int32
}

func newTokenServer(t *testing.T) *tokenServer {
	ts := &tokenServer{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := ts.calls.Add(1)
		if r.Method != http.MethodPost || r.URL.Path != "/token" {
			http.NotFound(w, r)
			return
		}
		if n <= ts.failFirst {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if err := r.ParseForm(); err != nil {
			w.WriteHeader(400)
			return
		}
		switch r.PostForm.Get("grant_type") {
		case "refresh_token":
			if r.PostForm.Get("refresh_token") != testRefresh || r.PostForm.Get("client_id") != "client-1" || r.PostForm.Get("client_secret") != testSecret {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(400)
				io.WriteString(w, `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`)
				return
			}
		case "urn:ietf:params:oauth:grant-type:jwt-bearer":
			claims, err := verifyJWT(r.PostForm.Get("assertion"))
			if err != nil || claims["iss"] != testEmail || claims["aud"] != ts.URL+"/token" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(400)
				fmt.Fprintf(w, `{"error":"invalid_grant","error_description":"Invalid JWT Signature. %v"}`, err)
				return
			}
			ts.scopes.Store(fmt.Sprint(claims["scope"]))
		default:
			w.WriteHeader(400)
			return
		}
		if a := ts.answer.Load(); a != nil && (*a)(w) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"ya29.issued-`+fmt.Sprint(n)+`","expires_in":3599,"token_type":"Bearer"}`)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func verifyJWT(assertion string) (map[string]any, error) { return fixture.VerifyAssertion(assertion) }

// serviceAccount is the source of the test key, as the loader builds it
// from a key file.
func serviceAccount(t *testing.T, tokenURL string, scopes []string, c *http.Client) *Source {
	key, err := ParsePrivateKey(keyPEM(t))
	if err != nil {
		t.Fatal(err)
	}
	return ServiceAccount(testEmail, "kid1", key, tokenURL, scopes, opts(c))
}

func opts(c *http.Client) httpx.Options {
	return httpx.Options{Client: c, Retry: httpx.Retry{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond}}
}

func TestServiceAccount(t *testing.T) {
	srv := newTokenServer(t)
	src := serviceAccount(t, srv.URL+"/token", []string{"https://www.googleapis.com/auth/devstorage.read_only", "openid"}, srv.Client())
	tok, err := src.TokenContext(context.Background())
	if err != nil || tok.AccessToken != "ya29.issued-1" || time.Until(tok.Expiry) < 59*time.Minute || tok.TokenType != "Bearer" {
		t.Fatalf("token %+v, %v", tok, err)
	}
	if got := srv.scopes.Load(); got != "https://www.googleapis.com/auth/devstorage.read_only openid" {
		t.Errorf("scopes %v", got)
	}
	// Each call is one grant: the caller caches.
	if tok, _ := src.Token(); tok == nil || tok.AccessToken != "ya29.issued-2" {
		t.Errorf("second call %+v", tok)
	}
	if src.Kind() != "service_account" || !strings.Contains(src.String(), srv.URL) {
		t.Errorf("%s %s", src.Kind(), src)
	}
}

func TestAuthorizedUser(t *testing.T) {
	srv := newTokenServer(t)
	srv.failFirst = 1 // one 503, retried
	src := AuthorizedUser("client-1", testSecret, testRefresh, srv.URL+"/token", opts(srv.Client()))
	tok, err := src.TokenContext(context.Background())
	if err != nil || tok.AccessToken != "ya29.issued-2" || srv.calls.Load() != 2 {
		t.Fatalf("token %+v, %v after %d calls", tok, err, srv.calls.Load())
	}
	if AuthorizedUser("c", "s", "r", "", httpx.Options{}).URL() != DefaultTokenURL {
		t.Error("default token URL")
	}
}

// TestFailures: every failure is an *httpx.Error naming the request, with
// the OAuth error and no secret; answers are held to the module's rules.
func TestFailures(t *testing.T) {
	srv := newTokenServer(t)
	answer := func(status int, ctype, body string) func(w http.ResponseWriter) bool {
		return func(w http.ResponseWriter) bool {
			w.Header().Set("Content-Type", ctype)
			w.WriteHeader(status)
			io.WriteString(w, body)
			return true
		}
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	for _, tc := range []struct {
		name      string
		src       *Source
		answer    func(w http.ResponseWriter) bool
		want      string
		status    int
		temporary bool
	}{
		{"revoked", AuthorizedUser("client-1", testSecret, "1//other-refresh-secret", srv.URL+"/token", opts(srv.Client())), nil,
			"sts: token: POST " + srv.URL + "/token: status 400: invalid_grant: Token has been expired or revoked.", 400, false},
		{"no expires_in", AuthorizedUser("client-1", testSecret, testRefresh, srv.URL+"/token", opts(srv.Client())),
			answer(200, "application/json", `{"access_token":"ya29.x","token_type":"Bearer"}`), "no expires_in", 200, false},
		{"case variant", AuthorizedUser("client-1", testSecret, testRefresh, srv.URL+"/token", opts(srv.Client())),
			answer(200, "application/json", `{"access_token":"ya29.x","EXPIRES_IN":3600}`), `"EXPIRES_IN" is not "expires_in"`, 200, false},
		{"no access token", AuthorizedUser("client-1", testSecret, testRefresh, srv.URL+"/token", opts(srv.Client())),
			answer(200, "application/json", `{"expires_in":3600}`), "no access_token", 200, false},
		{"html", AuthorizedUser("client-1", testSecret, testRefresh, srv.URL+"/token", opts(srv.Client())),
			answer(200, "text/html", `<html>`), "content type", 200, false},
		{"redirect", AuthorizedUser("client-1", testSecret, testRefresh, srv.URL+"/token", opts(srv.Client())),
			func(w http.ResponseWriter) bool {
				w.Header().Set("Location", "https://evil.example/")
				w.WriteHeader(302)
				return true
			},
			"status 302", 302, false},
		{"service account 403", mustSA(t, srv.URL+"/token", srv.Client()),
			answer(403, "application/json", `{"error":{"code":403,"message":"denied","status":"PERMISSION_DENIED"}}`), "status 403: PERMISSION_DENIED: denied", 403, false},
		{"service account refused", mustSA(t, closedURL+"/token?key=q-secret", nil), nil, "sts: token: POST " + closedURL + "/token: ", 0, true},
		{"user refused", AuthorizedUser("client-1", testSecret, testRefresh, closedURL+"/token", opts(nil)), nil, "sts: token: POST " + closedURL + "/token: ", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.answer != nil {
				srv.answer.Store(&tc.answer)
				defer srv.answer.Store(nil)
			}
			_, err := tc.src.TokenContext(context.Background())
			var he *httpx.Error
			if !errors.As(err, &he) || he.Op != "token" || he.StatusCode != tc.status || he.Temporary() != tc.temporary {
				t.Fatalf("err = %#v (%v); want status %d, temporary %t", err, err, tc.status, tc.temporary)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %q, want %q", err, tc.want)
			}
			for _, secret := range []string{testRefresh, testSecret, "other-refresh-secret", "q-secret", "PRIVATE KEY"} {
				if strings.Contains(fmt.Sprintf("%v %+v", err, err), secret) {
					t.Errorf("error quotes %q: %v", secret, err)
				}
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := AuthorizedUser("client-1", testSecret, testRefresh, srv.URL+"/token", opts(srv.Client())).TokenContext(ctx)
	var he *httpx.Error
	if !errors.As(err, &he) || he.Temporary() || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func mustSA(t *testing.T, url string, c *http.Client) *Source { return serviceAccount(t, url, nil, c) }

func TestParsePrivateKey(t *testing.T) {
	if k, err := ParsePrivateKey(keyPEM(t)); err != nil || !k.Equal(testKey) {
		t.Error(err)
	}
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(testKey)}))
	if k, err := ParsePrivateKey(pkcs1); err != nil || !k.Equal(testKey) {
		t.Error(err)
	}
	for _, bad := range []string{"", "not a key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"} {
		if _, err := ParsePrivateKey(bad); err == nil || strings.Contains(err.Error(), "AAAA") {
			t.Errorf("ParsePrivateKey(%q) = %v", bad, err)
		}
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	ecPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if _, err := ParsePrivateKey(ecPEM); err == nil || err.Error() != "is not an RSA private key" {
		t.Errorf("ECDSA key: %v", err)
	}
}

// TestAssertion: the grant is x/oauth2/jwt's: its form, and an RS256
// assertion with the key's id, issued 10 s in the past for an hour, naming
// the service account, the token endpoint and the scopes.
func TestAssertion(t *testing.T) {
	var form atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		form.Store(string(b))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"ya29.a","expires_in":3600}`)
	}))
	defer srv.Close()
	before := time.Now()
	if _, err := serviceAccount(t, srv.URL+"/token", []string{"s1", "s2"}, srv.Client()).Token(); err != nil {
		t.Fatal(err)
	}
	got := form.Load().(string)
	const prefix, suffix = "assertion=", "&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
	if !strings.HasPrefix(got, prefix) || !strings.HasSuffix(got, suffix) {
		t.Fatalf("form %q", got)
	}
	a := strings.TrimSuffix(strings.TrimPrefix(got, prefix), suffix)
	claims, err := verifyJWT(a)
	if err != nil {
		t.Fatal(err)
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(a, ".")[0])
	if string(hdr) != `{"alg":"RS256","typ":"JWT","kid":"kid1"}` {
		t.Errorf("header %s", hdr)
	}
	iat := int64(claims["iat"].(float64))
	if d := before.Unix() - 10 - iat; d < -1 || d > 1 {
		t.Errorf("iat %d, now %d", iat, before.Unix())
	}
	if claims["iss"] != testEmail || claims["aud"] != srv.URL+"/token" || claims["scope"] != "s1 s2" ||
		int64(claims["exp"].(float64)) != iat+3600 || len(claims) != 5 {
		t.Errorf("claims %v", claims)
	}
}

// TestEchoedSecretsScrubbed: a token endpoint quoting the grant's secrets
// (the refresh token and client secret, the signed assertion) in its
// error answer, escaped, has them removed from the error.
func TestEchoedSecretsScrubbed(t *testing.T) {
	escape := func(s string) string { // every other character as \uXXXX
		var b strings.Builder
		for i, r := range s {
			if i%2 == 0 {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	var sentAssertion atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		var quoted []string
		for _, k := range []string{"assertion", "refresh_token", "client_secret"} {
			if v := r.PostForm.Get(k); v != "" {
				quoted = append(quoted, escape(v))
				if k == "assertion" {
					sentAssertion.Store(v)
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":"invalid_grant","error_description":"refused \u001b[31m%s"}`, strings.Join(quoted, " "))
	}))
	defer srv.Close()
	sa := serviceAccount(t, srv.URL+"/token", nil, srv.Client())
	for _, src := range []*Source{AuthorizedUser("client-1", testSecret, testRefresh, srv.URL+"/token", opts(srv.Client())), sa} {
		_, err := src.TokenContext(context.Background())
		var he *httpx.Error
		if !errors.As(err, &he) || he.Code != "invalid_grant" || !strings.Contains(he.Description, "REDACTED") {
			t.Fatalf("%s: err = %v", src.Kind(), err)
		}
		secrets := []string{testRefresh, testSecret}
		if a, ok := sentAssertion.Load().(string); ok {
			secrets = append(secrets, a[len(a)-20:])
		}
		for _, s := range secrets {
			if strings.Contains(err.Error(), s) || strings.Contains(err.Error(), "\x1b") {
				t.Errorf("%s: error %q holds %q or an escape", src.Kind(), err, s)
			}
		}
	}
}
