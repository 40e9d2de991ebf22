package credfile

import (
	"context"

	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/refreshgrant"
)

// loadAuthorizedUser checks an external_account_authorized_user file and
// builds its token source: refresh_token grants at STS's /v1/oauthtoken,
// following rotations, behind one cache.
func loadAuthorizedUser(f *fileJSON, o *Options) (*Credentials, error) {
	universe, err := fileUniverse(f, o)
	if err != nil {
		return nil, err
	}
	if f.Audience != "" {
		if err := verr(check.Audience("audience", f.Audience)); err != nil {
			return nil, err
		}
		if !check.WorkforceAudience(f.Audience, universe) {
			return nil, invalid("audience", "must be a workforce pool provider (//iam.%s/locations/LOCATION/workforcePools/POOL/providers/PROVIDER)", universe)
		}
	}
	if f.RefreshToken == nil || *f.RefreshToken == "" {
		return nil, invalid("refresh_token", "must not be empty")
	}
	if f.ClientID == "" {
		return nil, invalid("client_id", "must not be empty")
	}
	if f.ClientSecret == "" {
		return nil, invalid("client_secret", "must not be empty")
	}
	if err := checkClient(f); err != nil {
		return nil, err
	}
	tokenURL, err := o.endpoint("token_url", f.TokenURL, stsEndpoint(universe, "/v1/oauthtoken"), check.ServiceSTS, universe)
	if err != nil {
		return nil, err
	}
	tokenInfoURL, err := o.endpoint("token_info_url", f.TokenInfoURL, sibling(tokenURL, "introspect"), check.ServiceSTS, universe)
	if err != nil {
		return nil, err
	}
	revokeURL, err := o.endpoint("revoke_url", f.RevokeURL, sibling(tokenURL, "revoke"), check.ServiceSTS, universe)
	if err != nil {
		return nil, err
	}
	quota, err := quotaProject(f, o)
	if err != nil {
		return nil, err
	}
	for _, x := range []struct {
		field string
		set   bool
	}{
		{"credential_source", f.CredentialSource != nil},
		{"subject_token_type", f.SubjectTokenType != ""},
		{"service_account_impersonation_url", f.ServiceAccountImpersonationURL != nil},
		{"service_account_impersonation", f.ServiceAccountImpersonation != nil},
		{"workforce_pool_user_project", f.WorkforcePoolUserProject != ""},
	} {
		if x.set {
			return nil, invalid(x.field, "does not apply to %s files", TypeExternalAccountAuthorizedUser)
		}
	}
	grants := refreshgrant.New(refreshgrant.Config{
		RefreshToken: *f.RefreshToken,
		ClientID:     f.ClientID,
		ClientSecret: f.ClientSecret,
		TokenURL:     tokenURL,
		OnRotate:     o.OnRefreshTokenRotated,
		HTTP:         o.httpOptions(o.HTTPClient, refreshgrant.APIClient()),
	})
	ts, err := o.cached(grants)
	if err != nil {
		return nil, err
	}
	var revoke func(context.Context) error
	if revokeURL != "" {
		revoke = func(ctx context.Context) error {
			if err := grants.Revoke(ctx, revokeURL); err != nil {
				return err
			}
			return nil
		}
	}
	return &Credentials{
		locations:    o.locationsCache(universe, f.Audience, "", "", o.HTTPClient),
		revoke:       revoke,
		typ:          TypeExternalAccountAuthorizedUser,
		audience:     f.Audience,
		universe:     universe,
		tokenURL:     tokenURL,
		tokenInfoURL: tokenInfoURL,
		revokeURL:    revokeURL,
		quotaProject: quota,
		ts:           ts,
		clientID:     f.ClientID,
		clientSecret: hide(f.ClientSecret),
	}, nil
}
