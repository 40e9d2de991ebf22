package authtransport

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"testing/synctest"

	"golang.org/x/oauth2"

	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/locations"
	"github.com/stsgo/sts/ststest"
)

// headerRecorder answers 200 to every request in the calling goroutine and
// records each request's host and x-allowed-locations.
type headerRecorder struct {
	mu   sync.Mutex
	seen [][2]string
}

func (h *headerRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.seen = append(h.seen, [2]string{r.URL.Host, r.Header.Get("X-Allowed-Locations")})
	h.mu.Unlock()
	rec := httptest.NewRecorder()
	rec.WriteHeader(http.StatusOK)
	return rec.Result(), nil
}

func (h *headerRecorder) last() [2]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen[len(h.seen)-1]
}

// TestAllowedLocationsHeader: with a locations cache, API requests carry
// the looked-up x-allowed-locations once the background lookup is done (the
// first one goes without it); token, IAM and regional endpoints never get
// it; a header the caller set is kept; a lookup that fails leaves requests
// going out without it.
func TestAllowedLocationsHeader(t *testing.T) {
	const aud = "//iam.googleapis.com/locations/global/workforcePools/wf/providers/p"
	const pool = "locations/global/workforcePools/wf"
	for _, down := range []bool{false, true} {
		name := "lookup up"
		if down {
			name = "lookup down"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := ststest.NewInMemoryServer(ststest.Options{})
				defer s.Close()
				s.SetAllowedLocations(pool, "0x1F")
				if down {
					s.PushFaults(ststest.Fault{Path: "/v1/" + pool + "/allowedLocations", Status: 503})
				}
				resp, err := s.Client().PostForm(s.TokenURL(), url.Values{
					"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
					"subject_token_type": {"urn:ietf:params:oauth:token-type:id_token"},
					"subject_token":      {s.SubjectJWT("workload", aud)}, "audience": {aud},
				})
				if err != nil {
					t.Fatal(err)
				}
				var tok oauth2.Token
				_ = json.NewDecoder(resp.Body).Decode(&tok)
				resp.Body.Close()
				lookupURL, _ := locations.PoolURL(s.URL, aud)
				cache := locations.New(lookupURL, httpx.NewDoer(httpx.Options{Client: s.Client(), Retry: httpx.Retry{MaxAttempts: 1}}))
				api := &headerRecorder{}
				client := &http.Client{Transport: &Transport{
					Token:     func(context.Context) (*oauth2.Token, error) { return &tok, nil },
					Base:      api,
					Locations: cache,
				}}
				get := func(rawURL string, hdr string) [2]string {
					req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
					if hdr != "" {
						req.Header.Set("X-Allowed-Locations", hdr)
					}
					resp, err := client.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					return api.last()
				}
				if got := get("https://storage.googleapis.com/storage/v1/b/x", ""); got[1] != "" {
					t.Errorf("first request carries %q before the lookup ended", got[1])
				}
				synctest.Wait()
				want := "0x1F"
				if down {
					want = ""
				}
				if got := get("https://storage.googleapis.com/storage/v1/b/x", ""); got[1] != want {
					t.Errorf("API request: x-allowed-locations %q, want %q", got[1], want)
				}
				for _, u := range []string{"https://sts.googleapis.com/v1/token", "https://iamcredentials.googleapis.com/v1/x",
					"https://storage.us-east1.rep.googleapis.com/b"} {
					if got := get(u, ""); got[1] != "" {
						t.Errorf("%s: x-allowed-locations %q, want none", u, got[1])
					}
				}
				if got := get("https://storage.googleapis.com/b", "0x2"); got[1] != "0x2" {
					t.Errorf("caller's header replaced: %q", got[1])
				}
				synctest.Wait()
			})
		})
	}
}
