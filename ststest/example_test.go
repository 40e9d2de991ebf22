package ststest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stsgo/sts/ststest"
)

const audience = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/oidc"

// exchange is the code under test: it trades a subject token for a Google
// access token at tokenURL.
func exchange(c *http.Client, tokenURL, subjectToken string) (string, error) {
	form := url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:jwt"},
		"subject_token":      {subjectToken},
		"audience":           {audience},
		"scope":              {"https://www.googleapis.com/auth/cloud-platform"},
	}
	resp, err := c.PostForm(tokenURL, form)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("exchange failed: %d %s", resp.StatusCode, body.Error)
	}
	return body.AccessToken, nil
}

// A test of one's own code against the emulator: check what was sent, what
// was issued, and how failures are handled.
func Example() {
	s := ststest.NewServer(ststest.Options{Providers: []string{audience}})
	defer s.Close()

	subject := s.SubjectJWT("workload-1", audience) // a JWT that expires in an hour
	tok, err := exchange(s.Client(), s.TokenURL(), subject)
	if err != nil {
		fmt.Println(err)
		return
	}
	info, _ := s.Lookup(tok)
	fmt.Println(info.Kind, info.Subject, info.Scopes, info.ExpiresAt.Sub(info.IssuedAt))
	fmt.Println(s.Requests()[0].Form.Get("subject_token_type"))

	_, err = exchange(s.Client(), s.TokenURL(), "not-a-jwt") // STS refuses it too
	fmt.Println(err)

	s.PushFaults(ststest.UnavailableFault(time.Second))
	_, err = exchange(s.Client(), s.TokenURL(), subject)
	fmt.Println(err)
	fmt.Println(s.Count("/v1/token"), "requests")
	// Output:
	// exchange workload-1 [https://www.googleapis.com/auth/cloud-platform] 1h0m0s
	// urn:ietf:params:oauth:token-type:jwt
	// exchange failed: 400 invalid_grant
	// exchange failed: 503 temporarily_unavailable
	// 3 requests
}

// The in-memory form needs no socket: use its Client. Inside a
// testing/synctest bubble, token lifetimes, delays and latency pass in
// virtual time:
//
//	func TestExpiry(t *testing.T) {
//		synctest.Test(t, func(t *testing.T) {
//			s := ststest.NewInMemoryServer(ststest.Options{TokenLifetime: time.Hour})
//			defer s.Close()
//			s.SetLatency(2 * time.Second)
//			tok, err := exchange(s.Client(), s.TokenURL(), s.SubjectJWT("w", audience))
//			…
//			time.Sleep(time.Hour) // virtual
//			info, _ := s.Lookup(tok)
//			// info.Valid(time.Now()) is false
//		})
//	}
func ExampleNewInMemoryServer() {
	s := ststest.NewInMemoryServer(ststest.Options{})
	defer s.Close()
	tok, err := exchange(s.Client(), s.URL+"/v1/token", s.SubjectJWT("w", audience))
	fmt.Println(err, strings.HasPrefix(tok, "ststest-"), s.URL)
	// Output: <nil> true http://127.0.0.1:0
}
