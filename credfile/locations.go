package credfile

import (
	"context"
	"net/http"
	"net/url"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/locations"
)

// EnvRegionalAccessBoundaries turns regional access boundaries on when it
// is "true" or "1" (any case), as in Google's client libraries; see
// Options.RegionalAccessBoundaries.
const EnvRegionalAccessBoundaries = locations.EnvEnabled

// checkLocationsOptions checks the regional access boundary options.
func checkLocationsOptions(o *Options) error {
	if o.IAMCredentialsURL != "" {
		return verr(check.Endpoint("credfile.Options.IAMCredentialsURL", o.IAMCredentialsURL))
	}
	return nil
}

// locationsCache returns the regional access boundary lookup of credentials
// of a universe: of the service account email when impersonating (its
// generateAccessToken URL impURL), else of the pool of the audience. It is
// nil when the feature is off, the universe is not googleapis.com, or the
// audience names no pool. client sends the lookups.
func (o *Options) locationsCache(universe, audience, impURL, email string, client *http.Client) *locations.Cache {
	if !o.RegionalAccessBoundaries && !locations.Enabled(o.getenv(EnvRegionalAccessBoundaries)) {
		return nil
	}
	if universe != sts.DefaultUniverseDomain {
		return nil
	}
	base := o.IAMCredentialsURL
	if base == "" && impURL != "" {
		if u, err := url.Parse(impURL); err == nil {
			base = u.Scheme + "://" + u.Host
		}
	}
	if base == "" {
		base = locations.DefaultBase(universe)
	}
	lookup := ""
	if email != "" {
		lookup = locations.ServiceAccountURL(base, email)
	} else if u, ok := locations.PoolURL(base, audience); ok {
		lookup = u
	} else {
		return nil
	}
	return locations.New(lookup, httpx.NewDoer(o.httpOptions(client, httpx.BaseAPIClient())))
}

// AllowedLocations returns the regional access boundary that requests made
// now through HTTPClient carry in x-allowed-locations: the encoded
// locations last looked up, or "" when the feature is off, no lookup has
// succeeded yet, or the boundary restricts nothing. It waits for a lookup
// that is running (the first request through HTTPClient starts one) until
// ctx ends, and starts none itself.
func (c *Credentials) AllowedLocations(ctx context.Context) (string, error) {
	if err := c.locations.Wait(ctx); err != nil {
		return "", &sts.Error{Op: "locations", Err: err}
	}
	return c.locations.Current(), nil
}
