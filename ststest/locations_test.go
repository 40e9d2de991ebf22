package ststest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stsgo/sts/ststest"
)

const (
	workloadPool  = "projects/123456/locations/global/workloadIdentityPools/pool-1"
	workforcePool = "locations/global/workforcePools/wf-pool"
	saResource    = "projects/-/serviceAccounts/" + testSA
)

type locationsAnswer struct {
	Locations        []string `json:"locations"`
	EncodedLocations string   `json:"encodedLocations"`
	Error            *struct {
		Code   int    `json:"code"`
		Status string `json:"status"`
	} `json:"error"`
}

func lookUp(t *testing.T, s *ststest.Server, resource, bearer string) (int, locationsAnswer) {
	t.Helper()
	status, b := call(t, s, http.MethodGet, s.AllowedLocationsURL(resource), bearer, "", "")
	var a locationsAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("answer %q: %v", b, err)
	}
	if status == 200 && !strings.Contains(string(b), `"locations":[`) {
		t.Errorf("locations is not an array: %s", b)
	}
	return status, a
}

func impersonate(t *testing.T, s *ststest.Server, bearer, sa string) string {
	t.Helper()
	status, a := generate(t, s, "/v1/projects/-/serviceAccounts/"+sa+":generateAccessToken", bearer, "application/json", `{"scope":["`+cloudScope+`"]}`)
	if status != 200 {
		t.Fatalf("impersonate: %d %+v", status, a.Error)
	}
	return a.AccessToken
}

func TestAllowedLocations(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{})
	defer s.Close()
	federated := mustToken(t, s) // workloadAud: pool-1 of project 123456
	form := exchangeForm()
	form.Set("audience", workforceAud)
	_, tr := postForm(t, s.Client(), s.TokenURL(), form)
	workforce := tr.AccessToken
	impersonated := impersonate(t, s, federated, testSA)

	// Unconfigured: no restriction.
	if status, a := lookUp(t, s, workloadPool, federated); status != 200 || a.EncodedLocations != ststest.NoLocations || len(a.Locations) != 0 {
		t.Fatalf("default answer: %d %+v", status, a)
	}
	s.SetAllowedLocations("", "0x1", "us-central1")
	s.SetAllowedLocations(workloadPool, "0xA30", "us-central1", "europe-west1")
	s.SetAllowedLocations(saResource, "0x5", "asia-east1")
	for _, tc := range []struct {
		resource, bearer string
		encoded          string
		locations        string
	}{
		{workloadPool, federated, "0xA30", "us-central1 europe-west1"},
		{workloadPool, impersonated, "0xA30", "us-central1 europe-west1"},
		{workforcePool, workforce, "0x1", "us-central1"},
		{saResource, impersonated, "0x5", "asia-east1"},
		{saResource, federated, "0x5", "asia-east1"},
	} {
		status, a := lookUp(t, s, tc.resource, tc.bearer)
		if status != 200 || a.EncodedLocations != tc.encoded || strings.Join(a.Locations, " ") != tc.locations {
			t.Errorf("%s: %d %+v", tc.resource, status, a)
		}
	}
	// Removing an answer falls back to the default.
	s.SetAllowedLocations(workloadPool, "")
	if _, a := lookUp(t, s, workloadPool, federated); a.EncodedLocations != "0x1" {
		t.Errorf("after removal: %+v", a)
	}
}

func TestAllowedLocationsErrors(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{Providers: []string{workloadAud, workforceAud}})
	defer s.Close()
	federated := mustToken(t, s)
	impersonated := impersonate(t, s, federated, testSA)
	expired := func() string {
		short := ststest.NewInMemoryServer(ststest.Options{TokenLifetime: 1})
		defer short.Close()
		return mustToken(t, short)
	}()
	otherPool := "projects/123456/locations/global/workloadIdentityPools/pool-2"
	form := exchangeForm()
	form.Set("subject_token", "x")
	form.Set("subject_token_type", "urn:ietf:params:oauth:token-type:saml2")
	form.Set("audience", workforceAud)
	_, tr := postForm(t, s.Client(), s.TokenURL(), form)
	workforce := tr.AccessToken
	for _, tc := range []struct {
		name, resource, bearer string
		status                 int
		googleStatus           string
	}{
		{"no bearer", workloadPool, "", 401, "UNAUTHENTICATED"},
		{"unknown token", workloadPool, "nope", 401, "UNAUTHENTICATED"},
		{"token of another server", workloadPool, expired, 401, "UNAUTHENTICATED"},
		{"another pool's token", workforcePool, federated, 403, "PERMISSION_DENIED"},
		{"workforce token for a workload pool", workloadPool, workforce, 403, "PERMISSION_DENIED"},
		{"another service account", "projects/-/serviceAccounts/other@example-project.iam.gserviceaccount.com", impersonated, 403, "PERMISSION_DENIED"},
		{"pool of no provider", otherPool, federated, 404, "NOT_FOUND"},
		{"malformed project", "projects/abc/locations/global/workloadIdentityPools/pool-1", federated, 404, "NOT_FOUND"},
		{"service account without project dash", "projects/p/serviceAccounts/" + testSA, federated, 404, "NOT_FOUND"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, a := lookUp(t, s, tc.resource, tc.bearer)
			if status != tc.status || a.Error == nil || a.Error.Status != tc.googleStatus {
				t.Errorf("got %d %+v, want %d %s", status, a, tc.status, tc.googleStatus)
			}
		})
	}
	// A downscoped token cannot look up anything.
	form = exchangeForm()
	form.Set("subject_token", federated)
	form.Set("subject_token_type", ttAccess)
	form.Del("audience")
	form.Set("options", `{"accessBoundary":{"accessBoundaryRules":[{"availableResource":"//storage.googleapis.com/projects/_/buckets/b","availablePermissions":["inRole:roles/storage.objectViewer"]}]}}`)
	_, tr = postForm(t, s.Client(), s.TokenURL(), form)
	if status, _ := lookUp(t, s, workloadPool, tr.AccessToken); status != 403 {
		t.Errorf("downscoped token: %d", status)
	}
}

// TestAllowedLocationsFaults: the lookup takes faults like every endpoint,
// so a client's fail-open path can be tested.
func TestAllowedLocationsFaults(t *testing.T) {
	s := ststest.NewInMemoryServer(ststest.Options{})
	defer s.Close()
	at := mustToken(t, s)
	path := strings.TrimPrefix(s.AllowedLocationsURL(workloadPool), s.URL)
	s.PushFaults(ststest.GoogleErrorFault(503, "UNAVAILABLE", "try later"), ststest.Fault{Path: path, Reset: true})
	if status, a := lookUp(t, s, workloadPool, at); status != 503 || a.Error == nil || a.Error.Status != "UNAVAILABLE" {
		t.Errorf("canned fault: %d %+v", status, a)
	}
	req, _ := http.NewRequest(http.MethodGet, s.AllowedLocationsURL(workloadPool), nil)
	req.Header.Set("Authorization", "Bearer "+at)
	if resp, err := s.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Error("reset fault: no error")
	}
	if status, _ := lookUp(t, s, workloadPool, at); status != 200 {
		t.Errorf("after the faults: %d", status)
	}
	if n := s.Count(path); n != 3 {
		t.Errorf("Count(%s) = %d, want 3", path, n)
	}
}
