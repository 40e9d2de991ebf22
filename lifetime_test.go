package sts

import (
	"errors"
	"math"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/ststest"
)

// Token lifetimes: an answer without expires_in is refused unless the
// protocol gives the expiry another way (an access token subject's own
// expiry), and expiries far in the future neither overflow nor read as
// already expired. The malformed answers themselves are in the HTTP corpus
// (corpus_test.go, "expires_in …" and "iam expireTime …").

const lifetimeAud = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q"

// noLifetimeBodies are 200 answers that carry a token but no lifetime.
var noLifetimeBodies = []string{
	`{"access_token":"ya29.no-lifetime","token_type":"Bearer"}`,
	`{"access_token":"ya29.no-lifetime","token_type":"Bearer","expires_in":null}`,
	`{"access_token":"ya29.no-lifetime","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer"}`,
	`{"access_token":"ya29.no-lifetime","token_type":"Bearer","expiresIn":3600,"expiry":"2030-01-01T00:00:00Z"}`,
}

// TestNoLifetimeRefusedForNonAccessTokenSubjects: a JWT, ID token, SAML or
// AWS subject exchanged without expires_in is a permanent *Error, through
// the cache.
func TestNoLifetimeRefusedForNonAccessTokenSubjects(t *testing.T) {
	for _, typ := range []string{TokenTypeJWT, TokenTypeIDToken, TokenTypeSAML2} {
		for i, body := range noLifetimeBodies {
			t.Run(typ[strings.LastIndex(typ, ":")+1:]+"/"+string(rune('a'+i)), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					s := ststest.NewInMemoryServer(ststest.Options{})
					defer s.Close()
					s.PushFaults(ststest.Fault{Path: "/v1/token", Status: 200, Body: body})
					ts, err := NewTokenSource(Config{
						Subject: StaticSubject("subject-token-value"), SubjectTokenType: typ, Audience: lifetimeAud,
						TokenURL: s.TokenURL(), HTTPOptions: HTTPOptions{HTTPClient: s.Client(), Retry: RetryPolicy{MaxAttempts: 1}},
					})
					if err != nil {
						t.Fatal(err)
					}
					tok, err := ts.Token()
					var se *Error
					if !errors.As(err, &se) || se.Op != "exchange" || se.Temporary() || !strings.Contains(err.Error(), "no expires_in") {
						t.Fatalf("Token() = %v, %v; want a permanent *Error saying no expires_in", tok, err)
					}
					if strings.Contains(err.Error(), "ya29.no-lifetime") {
						t.Errorf("error quotes the token: %v", err)
					}
				})
			})
		}
	}
}

// TestNoLifetimeAccessTokenSubjectTakesSubjectExpiry: STS gives no
// expires_in for an access token subject; the exchanged token then expires
// with its subject when the subject's expiry is known, and has the zero
// expiry of the caller's own token when it is not.
func TestNoLifetimeAccessTokenSubjectTakesSubjectExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := ststest.NewInMemoryServer(ststest.Options{})
		defer s.Close()
		subjectExpiry := time.Now().Add(40 * time.Minute)
		for _, body := range noLifetimeBodies {
			s.PushFaults(ststest.Fault{Path: "/v1/token", Status: 200, Body: body})
			x, err := newExchanger(Config{
				Subject:          TokenSourceSubject{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "ya29.subject", Expiry: subjectExpiry})},
				SubjectTokenType: TokenTypeAccessToken, Audience: lifetimeAud,
				TokenURL: s.TokenURL(), HTTPOptions: HTTPOptions{HTTPClient: s.Client()},
			})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := x.Token()
			if err != nil || !tok.Expiry.Equal(subjectExpiry) {
				t.Errorf("%s: %v, %v; want the subject's expiry %v", body, tok, err, subjectExpiry)
			}
		}
		s.PushFaults(ststest.Fault{Path: "/v1/token", Status: 200, Body: noLifetimeBodies[0]})
		x, err := newExchanger(Config{
			Subject: StaticSubject("ya29.subject"), SubjectTokenType: TokenTypeAccessToken, Audience: lifetimeAud,
			TokenURL: s.TokenURL(), HTTPOptions: HTTPOptions{HTTPClient: s.Client()},
		})
		if err != nil {
			t.Fatal(err)
		}
		if tok, err := x.Token(); err != nil || !tok.Expiry.IsZero() {
			t.Errorf("static access token subject: %v, %v; want the zero expiry", tok, err)
		}
	})
}

// TestNoLifetimeRefusedOnRefresh: a /v1/oauthtoken refresh answer without
// expires_in is refused (the HTTP corpus runs more bodies).
func TestNoLifetimeRefusedOnRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := ststest.NewInMemoryServer(ststest.Options{})
		defer s.Close()
		for _, body := range noLifetimeBodies {
			s.PushFaults(ststest.Fault{Path: "/v1/oauthtoken", Status: 200, Body: body})
			r, err := newRefresher(authUserConfig{
				RefreshToken: "refresh-token-value", ClientID: "client-id", ClientSecret: "client-secret-value",
				TokenURL: s.URL + "/v1/oauthtoken", HTTPOptions: HTTPOptions{HTTPClient: s.Client(), Retry: RetryPolicy{MaxAttempts: 1}},
			})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := r.Token()
			var se *Error
			if !errors.As(err, &se) || se.Op != "refresh" || se.Temporary() || !strings.Contains(err.Error(), "no expires_in") {
				t.Errorf("%s: %v, %v; want a permanent *Error saying no expires_in", body, tok, err)
			}
		}
	})
}

// farSource hands out one token expiring at exp.
type farSource struct {
	exp   time.Time
	calls int
}

func (f *farSource) Token() (*oauth2.Token, error) {
	f.calls++
	return &oauth2.Token{AccessToken: "far-token", Expiry: f.exp}, nil
}

// TestCacheExpiryPast2262: a source's expiry beyond int64 nanoseconds (year
// 2262) is served as a long-lived token, not refused as already expired,
// and is not refreshed again.
func TestCacheExpiryPast2262(t *testing.T) {
	for _, exp := range []time.Time{
		time.Date(2262, 4, 12, 0, 0, 0, 0, time.UTC),
		time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Unix(1<<62, 0),
		time.Unix(math.MaxInt64/2, 0),
		time.Unix(0, math.MaxInt64).Add(time.Nanosecond),
	} {
		t.Run(exp.UTC().Format("2006"), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src := &farSource{exp: exp}
				c := newCache(t, src, CacheOptions{})
				for range 3 {
					tok, err := c.Token()
					if err != nil || tok.AccessToken != "far-token" {
						t.Fatalf("Token() = %v, %v", tok, err)
					}
				}
				time.Sleep(24 * time.Hour)
				synctest.Wait()
				if _, err := c.Token(); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				if src.calls != 1 {
					t.Errorf("%d fetches, want 1", src.calls)
				}
			})
		})
	}
}
