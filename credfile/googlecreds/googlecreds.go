// Package googlecreds hands credentials loaded by package credfile to
// Google Cloud client libraries as a *google.Credentials of
// golang.org/x/oauth2/google, for option.WithCredentials.
//
// It is a package of its own because importing golang.org/x/oauth2/google
// links much of x/oauth2's credential code (and the regexp package) into a
// program: credfile alone does not, and a program that passes
// option.WithTokenSource(creds.TokenSource()) does not need it.
package googlecreds

import (
	"golang.org/x/oauth2/google"

	"github.com/stsgo/sts/credfile"
)

// From returns c as a *google.Credentials. c must not be nil. TokenSource is
// c.TokenSource(); UniverseDomainProvider reports c.UniverseDomain(); JSON
// is c.JSON(), the file as loaded, which is where Google's clients read
// quota_project_id from (they send it as x-goog-user-project, and let
// GOOGLE_CLOUD_QUOTA_PROJECT override it) — note that JSON therefore holds
// the file's secrets, as with any google.Credentials. ProjectID is
// c.ProjectID(): a service account key's project_id, else empty.
func From(c *credfile.Credentials) *google.Credentials {
	universe := c.UniverseDomain()
	return &google.Credentials{
		ProjectID:              c.ProjectID(),
		TokenSource:            c.TokenSource(),
		JSON:                   c.JSON(),
		UniverseDomainProvider: func() (string, error) { return universe, nil },
	}
}
