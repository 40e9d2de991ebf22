package gce

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stsgo/sts/internal/httpx"
)

// fakeMetadata plays the metadata server on loopback; token is the answer
// to token requests.
func fakeMetadata(t *testing.T, flavor bool, token string) (*httptest.Server, *atomic.Value) {
	var lastQuery atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if flavor {
			w.Header().Set("Metadata-Flavor", "Google")
		}
		if r.Header.Get("Metadata-Flavor") != "Google" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		switch r.URL.Path {
		case "/computeMetadata/v1/":
			io.WriteString(w, "instance/\nproject/\n")
		case "/computeMetadata/v1/instance/service-accounts/default/token":
			lastQuery.Store(r.URL.RawQuery)
			if token == "forbidden" {
				w.WriteHeader(http.StatusForbidden)
				io.WriteString(w, "the body is not quoted secret-body")
				return
			}
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, token)
		case "/computeMetadata/v1/instance/service-accounts/default/email":
			io.WriteString(w, "robot@demo.iam.gserviceaccount.com\n")
		case "/computeMetadata/v1/universe/universe-domain":
			if token == "forbidden" {
				http.NotFound(w, r)
				return
			}
			io.WriteString(w, "example-universe.com")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	t.Setenv(HostEnv, strings.TrimPrefix(srv.URL, "http://"))
	return srv, &lastQuery
}

func TestProbeAndTokens(t *testing.T) {
	_, q := fakeMetadata(t, true, `{"access_token":"ya29.md","expires_in":3000,"token_type":"Bearer"}`)
	c := NewClient(nil)
	defer c.hc.CloseIdleConnections()
	ctx := context.Background()
	if !c.Probe(ctx, time.Second) {
		t.Fatal("probe found no server")
	}
	tok, err := c.Tokens([]string{"https://www.googleapis.com/auth/cloud-platform", "openid"}).TokenContext(ctx)
	if err != nil || tok.AccessToken != "ya29.md" || time.Until(tok.Expiry) < 49*time.Minute {
		t.Fatalf("%+v %v", tok, err)
	}
	if got := q.Load(); got != "scopes=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcloud-platform%2Copenid" {
		t.Errorf("query %v", got)
	}
	if u, err := c.Universe(ctx); u != "example-universe.com" || err != nil {
		t.Errorf("universe %q %v", u, err)
	}
	if e, err := c.Email(ctx); e != "robot@demo.iam.gserviceaccount.com" || err != nil {
		t.Errorf("email %q %v", e, err)
	}
}

func TestProbeRefusals(t *testing.T) {
	fakeMetadata(t, false, "") // answers, but not as Google's metadata server
	c := NewClient(nil)
	defer c.hc.CloseIdleConnections()
	if c.Probe(context.Background(), time.Second) {
		t.Error("a server without Metadata-Flavor passed the probe")
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	t.Setenv(HostEnv, strings.TrimPrefix(closed.URL, "http://"))
	if c.Probe(context.Background(), time.Second) {
		t.Error("a closed port passed the probe")
	}
	t.Setenv(HostEnv, "bad host/%zz")
	if c.Probe(context.Background(), time.Second) {
		t.Error("an invalid host passed the probe")
	}
}

func TestTokenFailures(t *testing.T) {
	for _, tc := range []struct {
		name, token, want string
		status            int
	}{
		{"no expires_in", `{"access_token":"ya29.md"}`, "no expires_in", 200},
		{"case variant", `{"access_token":"ya29.md","Expires_In":5}`, `"Expires_In" is not "expires_in"`, 200},
		{"not JSON", `ya29.md`, "not valid JSON", 200},
		{"forbidden", "forbidden", "status 403: Forbidden", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := fakeMetadata(t, true, tc.token)
			c := NewClient(nil)
			defer c.hc.CloseIdleConnections()
			_, err := c.Tokens(nil).TokenContext(context.Background())
			var he *httpx.Error
			if !errors.As(err, &he) || he.StatusCode != tc.status || he.Op != "token" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want status %d and %q", err, tc.status, tc.want)
			}
			if he.URL != srv.URL+"/computeMetadata/v1/instance/service-accounts/default/token" || strings.Contains(err.Error(), "secret-body") {
				t.Errorf("err %v (URL %q)", err, he.URL)
			}
			if tc.token == "forbidden" {
				if u, err := c.Universe(context.Background()); u != "googleapis.com" || err != nil {
					t.Errorf("undefined universe: %q %v", u, err)
				}
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fakeMetadata(t, true, `{}`)
	_, err := NewClient(nil).Tokens(nil).TokenContext(ctx)
	var he *httpx.Error
	if !errors.As(err, &he) || he.Temporary() {
		t.Errorf("cancelled: %v", err)
	}
}
