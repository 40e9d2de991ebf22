package credfile

import (
	"fmt"
	"slices"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/errtree"
	"github.com/stsgo/sts/internal/googleoauth"
	"github.com/stsgo/sts/internal/httpx"
	"github.com/stsgo/sts/internal/iam"
)

// otherKeys are the keys that only some types use, in the order notFor
// reports them.
var otherKeys = [...]string{"audience", "subject_token_type", "token_url", "token_info_url", "revoke_url",
	"service_account_impersonation_url", "service_account_impersonation", "credential_source",
	"workforce_pool_user_project", "refresh_token", "client_id", "client_secret", "private_key",
	"client_email", "token_uri", "source_credentials", "delegates"}

// notFor refuses the keys of other types that f, a file of type typ, has
// (set, not null): a reader could think they are used. allowed are those
// of otherKeys that typ uses.
func notFor(f *fileJSON, typ string, allowed ...string) error {
	present := [len(otherKeys)]bool{f.Audience != "", f.SubjectTokenType != "", f.TokenURL != nil,
		f.TokenInfoURL != nil, f.RevokeURL != nil, f.ServiceAccountImpersonationURL != nil,
		f.ServiceAccountImpersonation != nil, f.CredentialSource != nil, f.WorkforcePoolUserProject != "",
		f.RefreshToken != nil, f.ClientID != "", f.ClientSecret != "", f.PrivateKey != "",
		f.ClientEmail != "", f.TokenURI != nil, len(f.SourceCredentials) > 0, f.Delegates != nil}
	for i, k := range otherKeys {
		if present[i] && !slices.Contains(allowed, k) {
			return invalid(k, "does not apply to %s files", typ)
		}
	}
	return nil
}

// scopes returns the caller's scopes, or cloud-platform.
func (o *Options) scopes() []string {
	if o.Scopes == nil {
		return []string{sts.CloudPlatformScope}
	}
	return o.Scopes
}

// googleOAuthURL checks token_uri, Google's OAuth 2.0 token endpoint by
// default.
func (o *Options) googleOAuthURL(f *fileJSON, universe string) (string, error) {
	return o.endpoint("token_uri", f.TokenURI, "https://oauth2."+universe+"/token", check.ServiceOAuth2, universe)
}

// loadServiceAccount checks a service_account key file and builds its
// token source: JWT-bearer grants signed with the key, at token_uri,
// as golang.org/x/oauth2/jwt sends them, behind the module's cache.
func loadServiceAccount(f *fileJSON, o *Options) (*Credentials, error) {
	universe, err := fileUniverse(f, o)
	if err != nil {
		return nil, err
	}
	if err := notFor(f, TypeServiceAccount, "client_id", "private_key", "client_email", "token_uri"); err != nil {
		return nil, err
	}
	if err := verr(check.Principal("client_email", f.ClientEmail)); err != nil {
		return nil, err
	}
	if f.PrivateKey == "" {
		return nil, invalid("private_key", "must not be empty")
	}
	key, err := googleoauth.ParsePrivateKey(f.PrivateKey)
	if err != nil {
		return nil, invalid("private_key", "%v", err)
	}
	tokenURL, err := o.googleOAuthURL(f, universe)
	if err != nil {
		return nil, err
	}
	quota, err := quotaProject(f, o)
	if err != nil {
		return nil, err
	}
	ts, err := o.cached(googleoauth.ServiceAccount(f.ClientEmail, f.PrivateKeyID, key, tokenURL, o.scopes(),
		o.httpOptions(o.HTTPClient, httpx.BaseAPIClient()+" cred-type/sa")))
	if err != nil {
		return nil, err
	}
	return &Credentials{
		typ:            TypeServiceAccount,
		universe:       universe,
		tokenURL:       tokenURL,
		tokenInfoURL:   stsEndpoint(universe, "/v1/introspect"),
		quotaProject:   quota,
		serviceAccount: f.ClientEmail,
		projectID:      f.ProjectID,
		ts:             ts,
	}, nil
}

// loadUser checks an authorized_user file (a Google user's refresh token,
// gcloud's application default credentials) and builds its token source:
// refresh_token grants at Google's OAuth 2.0 endpoint, the client's ID and
// secret in the form as golang.org/x/oauth2 sends them, behind the
// module's cache.
func loadUser(f *fileJSON, o *Options) (*Credentials, error) {
	universe, err := fileUniverse(f, o)
	if err != nil {
		return nil, err
	}
	if err := notFor(f, TypeAuthorizedUser, "refresh_token", "client_id", "client_secret", "token_uri"); err != nil {
		return nil, err
	}
	for _, x := range []struct {
		field string
		v     *string
	}{{"client_id", &f.ClientID}, {"client_secret", &f.ClientSecret}, {"refresh_token", f.RefreshToken}} {
		if x.v == nil || *x.v == "" {
			return nil, invalid(x.field, "must not be empty")
		}
	}
	if err := checkClient(f); err != nil {
		return nil, err
	}
	tokenURL, err := o.googleOAuthURL(f, universe)
	if err != nil {
		return nil, err
	}
	quota, err := quotaProject(f, o)
	if err != nil {
		return nil, err
	}
	ts, err := o.cached(googleoauth.AuthorizedUser(f.ClientID, f.ClientSecret, *f.RefreshToken, tokenURL,
		o.httpOptions(o.HTTPClient, httpx.BaseAPIClient()+" cred-type/u")))
	if err != nil {
		return nil, err
	}
	return &Credentials{
		typ:          TypeAuthorizedUser,
		universe:     universe,
		tokenURL:     tokenURL,
		tokenInfoURL: stsEndpoint(universe, "/v1/introspect"),
		quotaProject: quota,
		ts:           ts,
	}, nil
}

// loadImpersonated checks an impersonated_service_account file and builds
// its token source: IAM Credentials' generateAccessToken with the token of
// source_credentials, which are loaded like a file of their own (with
// cloud-platform scope), keeping all their behaviour (an external_account
// source still exchanges, caches and refreshes ahead at STS).
func loadImpersonated(f *fileJSON, o *Options, depth int) (*Credentials, error) {
	universe, err := fileUniverse(f, o)
	if err != nil {
		return nil, err
	}
	if err := notFor(f, TypeImpersonatedServiceAccount, "service_account_impersonation_url", "source_credentials", "delegates"); err != nil {
		return nil, err
	}
	if f.ServiceAccountImpersonationURL == nil {
		return nil, invalid("service_account_impersonation_url", "must not be empty")
	}
	imp, err := checkImpersonation(f, o, universe)
	if err != nil {
		return nil, err
	}
	for i, d := range f.Delegates {
		const prefix = "projects/-/serviceAccounts/"
		email := d
		if len(d) > len(prefix) && d[:len(prefix)] == prefix {
			email = d[len(prefix):]
		}
		if err := verr(check.Principal(fmt.Sprintf("delegates[%d]", i), email)); err != nil {
			return nil, err
		}
	}
	if len(f.SourceCredentials) == 0 || string(f.SourceCredentials) == "null" {
		return nil, invalid("source_credentials", "must be set")
	}
	if depth >= maxDepth {
		return nil, invalid("source_credentials", "nests impersonations more than %d deep", maxDepth)
	}
	quota, err := quotaProject(f, o)
	if err != nil {
		return nil, err
	}
	// The source's token only calls IAM: cloud-platform scope. Its
	// refresh token rotations (an external_account_authorized_user
	// source) reach the caller's callback too.
	so := *o
	so.Scopes = nil
	source, err := load(f.SourceCredentials, &so, depth+1)
	if err != nil {
		return nil, nested("source_credentials", err)
	}
	src := source.ts
	ts, err := o.cached(iam.NewAccessTokens(iam.Config{
		Source:     src.TokenContext,
		Invalidate: src.Invalidate,
		URL:        imp.url,
		Scopes:     o.scopes(),
		Delegates:  f.Delegates,
		Lifetime:   imp.lifetime,
		HTTP:       o.httpOptions(o.HTTPClient, httpx.BaseAPIClient()+" cred-type/imp"),
	}))
	if err != nil {
		return nil, err
	}
	return &Credentials{
		typ:            TypeImpersonatedServiceAccount,
		audience:       source.audience,
		universe:       universe,
		tokenURL:       imp.url,
		tokenInfoURL:   stsEndpoint(universe, "/v1/introspect"),
		quotaProject:   quota,
		serviceAccount: imp.email,
		ts:             ts,
	}, nil
}

// nested prefixes the field of a *sts.ValidationError from a nested
// document with the key it is under.
func nested(key string, err error) error {
	if ve, ok := errtree.As[*sts.ValidationError](err); ok {
		out := *ve
		if out.Field == "credentials JSON" {
			out.Field = key
		} else {
			out.Field = key + "." + out.Field
		}
		return &out
	}
	return err
}
