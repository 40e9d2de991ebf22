// Package locations implements regional access boundaries: it looks up the
// locations a credential's tokens may be used in (IAM Credentials'
// allowedLocations) with the credential's own access token, caches the
// answer, and gives the value of the x-allowed-locations header that Google
// APIs read.
//
// The lookup never delays a request: the first requests go out without the
// header while the lookup runs in the background. An answer is kept for
// TTL and looked up again in the background during its last RefreshBefore;
// a failed lookup is logged and retried after a cool-down that starts at
// Cooldown and doubles, jittered, up to MaxCooldown. Failures never fail a
// request ("fail open").
package locations

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/internal/errs"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/wire"
)

// Header is the request header that carries the encoded locations.
const Header = "X-Allowed-Locations"

// EnvEnabled turns regional access boundaries on, as in Google's client
// libraries, when it is "true" or "1" (any case).
const EnvEnabled = "GOOGLE_AUTH_TRUST_BOUNDARY_ENABLED"

// NoOp is the encoded locations of an answer that restricts nothing: no
// header is sent for it.
const NoOp = "0x0"

// Cache timing, as Google's client libraries have it.
const (
	// TTL is how long an answer is used.
	TTL = 6 * time.Hour
	// RefreshBefore is how long before the end of TTL a background lookup
	// starts.
	RefreshBefore = time.Hour
	// Cooldown is the pause after a first failed lookup; it doubles after
	// each further failure, up to MaxCooldown. Each pause is jittered
	// between half of it and all of it.
	Cooldown    = 15 * time.Minute
	MaxCooldown = 6 * time.Hour
	// LookupTimeout bounds one lookup, retries included.
	LookupTimeout = time.Minute
)

// maxEncoded bounds the encoded locations an answer may carry.
const maxEncoded = 1024

// Enabled reports whether the environment value of EnvEnabled turns the
// feature on.
func Enabled(v string) bool {
	v = strings.ToLower(strings.TrimSpace(v))
	return v == "true" || v == "1"
}

// DefaultBase returns the IAM Credentials endpoint of a universe.
func DefaultBase(universe string) string { return "https://iamcredentials." + universe }

// PoolURL returns the lookup URL of the workload or workforce identity pool
// of an STS audience, under base (such as DefaultBase(universe)), and
// whether the audience names such a pool.
func PoolURL(base, audience string) (string, bool) {
	base = strings.TrimSuffix(base, "/")
	// //iam.HOST/projects/P/locations/global/workloadIdentityPools/POOL/providers/X
	// or //iam.HOST/locations/global/workforcePools/POOL/providers/X, no
	// part empty.
	rest, ok := strings.CutPrefix(audience, "//iam.")
	if !ok {
		return "", false
	}
	parts := strings.Split(rest, "/")
	for _, p := range parts {
		if p == "" {
			return "", false
		}
	}
	switch {
	case len(parts) == 9 && parts[1] == "projects" && parts[3] == "locations" && parts[4] == "global" &&
		parts[5] == "workloadIdentityPools" && parts[7] == "providers":
		return base + "/v1/projects/" + url.PathEscape(parts[2]) + "/locations/global/workloadIdentityPools/" +
			url.PathEscape(parts[6]) + "/allowedLocations", true
	case len(parts) == 7 && parts[1] == "locations" && parts[2] == "global" && parts[3] == "workforcePools" &&
		parts[5] == "providers":
		return base + "/v1/locations/global/workforcePools/" + url.PathEscape(parts[4]) + "/allowedLocations", true
	}
	return "", false
}

// ServiceAccountURL returns the lookup URL of a service account, under
// base.
func ServiceAccountURL(base, email string) string {
	return strings.TrimSuffix(base, "/") + "/v1/projects/-/serviceAccounts/" + url.PathEscape(email) + "/allowedLocations"
}

// Skipped reports whether requests to host never carry the header: the
// token, impersonation and IAM endpoints themselves, and regional
// endpoints (which enforce their own region).
func Skipped(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	switch {
	case host == "rep.googleapis.com", strings.HasSuffix(host, ".rep.googleapis.com"),
		host == "rep.sandbox.googleapis.com", strings.HasSuffix(host, ".rep.sandbox.googleapis.com"):
		return true
	}
	first, rest, _ := strings.Cut(host, ".")
	switch first {
	case "sts", "iam", "iamcredentials":
		return rest == "googleapis.com" || rest == "mtls.googleapis.com"
	}
	return false
}

// validEncoded reports whether s looks as an answer's encodedLocations
// must: a hexadecimal number ("0x…" or "0X…"), which is safe in a header.
func validEncoded(s string) bool {
	digits, ok := strings.CutPrefix(s, "0x")
	if !ok {
		digits, ok = strings.CutPrefix(s, "0X")
	}
	if !ok || digits == "" {
		return false
	}
	for i := 0; i < len(digits); i++ {
		switch c := digits[i]; {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}

// answer is the JSON of an allowedLocations answer.
type answer struct {
	Locations        []string `json:"locations"`
	EncodedLocations string   `json:"encodedLocations"`
}

// ParseAnswer reads an allowedLocations answer and returns its encoded
// locations: a hexadecimal number ("0x…") of at most 1 KiB. Errors never
// quote the answer.
func ParseAnswer(body []byte) (string, error) {
	var a answer
	if err := wire.DecodeJSON(body, &a, "locations", "encodedLocations"); err != nil {
		return "", err
	}
	switch {
	case a.EncodedLocations == "":
		return "", errs.New("answer has no encodedLocations")
	case len(a.EncodedLocations) > maxEncoded:
		return "", errs.Errorf("encodedLocations is longer than %d bytes", maxEncoded)
	case !validEncoded(a.EncodedLocations):
		return "", errs.New("encodedLocations is not a hexadecimal number")
	}
	return a.EncodedLocations, nil
}

// Cache looks up and keeps the encoded locations of one credential. It is
// safe for concurrent use; it holds a goroutine only while a lookup runs.
type Cache struct {
	// Not comparable, so that no equality function is linked for it.
	_    [0]func()
	url  string
	doer *httpx.Doer

	mu       sync.Mutex
	encoded  string    // the last answer, "" for none
	expires  time.Time // when encoded stops being used
	fetching bool
	retryAt  time.Time     // no lookup starts before; zero after a success
	cooldown time.Duration // the next pause after a failure
	done     chan struct{} // closed when the running lookup ends; nil when none
}

// New returns a cache that looks up url with doer (whose Op in errors is
// "locations").
func New(url string, doer *httpx.Doer) *Cache {
	return &Cache{url: url, doer: doer, cooldown: Cooldown}
}

// Value returns the header value for a request authorized with tok: the
// cached encoded locations, or "" (send no header) when none is known yet,
// the cached answer restricts nothing, or tok is nil. When no answer is
// cached, or the cached one is in its last RefreshBefore, it starts one
// background lookup with tok, unless one runs or a cool-down lasts.
func (c *Cache) Value(tok *oauth2.Token) string {
	if c == nil || tok == nil || tok.AccessToken == "" {
		return ""
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	v := ""
	if c.encoded != "" && now.Before(c.expires) {
		if c.encoded != NoOp {
			v = c.encoded
		}
		if now.Before(c.expires.Add(-RefreshBefore)) {
			return v
		}
	}
	if !c.fetching && !now.Before(c.retryAt) {
		c.fetching = true
		c.done = make(chan struct{})
		go c.lookup(tok.Type()+" "+tok.AccessToken, tok.AccessToken, c.done)
	}
	return v
}

// Current returns the header value a request would carry now, without
// starting a lookup: the cached encoded locations, or "" when none is
// known, it restricts nothing or it expired.
func (c *Cache) Current() string {
	if c == nil {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.encoded == "" || c.encoded == NoOp || !time.Now().Before(c.expires) {
		return ""
	}
	return c.encoded
}

// Wait blocks until no lookup runs, or ctx ends.
func (c *Cache) Wait(ctx context.Context) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	done := c.done
	c.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lookup asks for the locations and records the outcome.
func (c *Cache) lookup(authorization, secret string, done chan struct{}) {
	defer close(done)
	ctx, cancel := context.WithTimeout(context.Background(), LookupTimeout)
	defer cancel()
	hdr := http.Header{}
	hdr.Set("Authorization", authorization)
	body, herr := c.doer.Do(ctx, &httpx.Request{
		Op: "locations", Method: http.MethodGet, URL: c.url, Header: hdr, Secrets: []string{secret},
	})
	var err error
	encoded := ""
	if herr != nil {
		err = herr
	} else if encoded, err = ParseAnswer(body); err != nil {
		err = httpx.BadAnswer("locations", http.MethodGet, c.url, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fetching = false
	if c.done == done {
		c.done = nil
	}
	now := time.Now()
	if err != nil {
		pause := c.cooldown/2 + rand.N(c.cooldown/2+1)
		c.retryAt = now.Add(pause)
		c.cooldown = min(2*c.cooldown, MaxCooldown)
		c.doer.Log(ctx, slog.LevelWarn, "sts: regional access boundary lookup failed; requests go without x-allowed-locations",
			"retry_in", pause, "cause", err.Error())
		return
	}
	c.encoded, c.expires = encoded, now.Add(TTL)
	c.retryAt, c.cooldown = time.Time{}, Cooldown
	c.doer.Log(ctx, slog.LevelDebug, "sts: regional access boundary looked up", "encoded_locations", encoded)
}
