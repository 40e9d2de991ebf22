package ststest

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// noLocations is the encodedLocations value of an allowedLocations answer
// that restricts nothing: clients send no x-allowed-locations header for
// it.
const noLocations = "0x0"

// The resources of IAM Credentials' allowedLocations lookups, as they appear
// in the path between "/v1/" and "/allowedLocations".
var (
	workloadPoolResource  = regexp.MustCompile(`^projects/([0-9]+)/locations/global/workloadIdentityPools/([A-Za-z0-9_-]+)$`)
	workforcePoolResource = regexp.MustCompile(`^locations/global/workforcePools/([A-Za-z0-9_-]+)$`)
	serviceAccountName    = regexp.MustCompile(`^projects/-/serviceAccounts/([^/\s]+@[^/\s]+)$`)
)

// locationsState holds the configured allowedLocations answers, guarded by
// Server.mu.
type locationsState struct {
	answers map[string]allowedLocations // by resource; "" for the default
}

type allowedLocations struct {
	encoded   string
	locations []string
}

// SetAllowedLocations sets the answer of the allowedLocations lookup of
// resource, GET URL+"/v1/"+resource+"/allowedLocations" as in IAM
// Credentials, where resource is a workload identity pool
// ("projects/NUMBER/locations/global/workloadIdentityPools/POOL"), a
// workforce pool ("locations/global/workforcePools/POOL") or a service
// account ("projects/-/serviceAccounts/EMAIL"); "" sets the answer of every
// resource without one of its own: the locations and their encoding, the
// opaque hexadecimal string clients send in the x-allowed-locations header
// (for example "0xA30"). An empty encoded removes the answer. Without any
// answer the lookup answers no locations, encoded "0x0", which restricts
// nothing (clients send no header for it).
func (s *Server) SetAllowedLocations(resource, encoded string, locations ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locations.answers == nil {
		s.locations.answers = make(map[string]allowedLocations)
	}
	if encoded == "" {
		delete(s.locations.answers, resource)
		return
	}
	s.locations.answers[resource] = allowedLocations{encoded: encoded, locations: slices.Clone(locations)}
}

// serveAllowedLocations answers GET /v1/{resource}/allowedLocations, the
// regional access boundary lookup of IAM Credentials, with
// {"locations": […], "encodedLocations": "0x…"}. The caller must present,
// as a Bearer token, a valid access token the server issued, and may look
// up its own pool (the pool of the audience its token was exchanged for)
// or, with an impersonated token, its own service account: a token known to
// belong elsewhere gets 403 PERMISSION_DENIED. With Options.Providers, a pool
// none of the providers belongs to gets 404 NOT_FOUND. Errors are in
// Google's JSON shape.
func (s *Server) serveAllowedLocations(w http.ResponseWriter, r *http.Request) {
	resource := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/"), "/allowedLocations")
	pool := ""
	switch {
	case workloadPoolResource.MatchString(resource), workforcePoolResource.MatchString(resource):
		pool = resource
	case serviceAccountName.MatchString(resource):
	default:
		writeGoogleError(w, googleError{http.StatusNotFound, "NOT_FOUND", "unknown resource " + clip(resource)})
		return
	}
	caller, ge := s.bearerCaller(r)
	if ge != nil {
		writeGoogleError(w, *ge)
		return
	}
	if pool != "" && len(s.opts.Providers) > 0 && !slices.ContainsFunc(s.opts.Providers, func(p string) bool { return poolOf(p) == pool }) {
		writeGoogleError(w, googleError{http.StatusNotFound, "NOT_FOUND", "the pool does not exist: " + clip(pool)})
		return
	}
	if !callerMayLookUp(caller, resource, pool) {
		writeGoogleError(w, googleError{http.StatusForbidden, "PERMISSION_DENIED",
			"Permission denied on resource " + clip(resource) + " (or it may not exist)."})
		return
	}
	s.mu.Lock()
	a, ok := s.locations.answers[resource]
	if !ok {
		a, ok = s.locations.answers[""]
	}
	s.mu.Unlock()
	if !ok {
		a = allowedLocations{encoded: noLocations}
	}
	writeJSON(w, http.StatusOK, map[string]any{"locations": append([]string{}, a.locations...), "encodedLocations": a.encoded})
}

// callerMayLookUp reports whether caller may look up the allowed locations
// of resource (pool is resource when it names a pool, else ""). Only what
// the emulator knows to be another principal's is refused.
func callerMayLookUp(caller TokenInfo, resource, pool string) bool {
	if pool == "" { // a service account
		return caller.Kind != "impersonated" || "projects/-/serviceAccounts/"+caller.Subject == resource
	}
	return caller.Audience == "" || poolOf(caller.Audience) == pool
}

// poolOf returns the pool resource of a provider audience
// ("//iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/Q"
// gives "projects/N/locations/global/workloadIdentityPools/P"), or "".
func poolOf(audience string) string {
	if m := workloadAudience.FindStringSubmatch(audience); m != nil {
		return "projects/" + m[2] + "/locations/global/workloadIdentityPools/" + m[3]
	}
	if m := workforceAudience.FindStringSubmatch(audience); m != nil {
		return "locations/global/workforcePools/" + m[2]
	}
	return ""
}
