// Package githubactions federates GitHub Actions jobs: its Subject asks the
// Actions runtime for a fresh OIDC token at every exchange, so a job that
// runs longer than a federated token's lifetime (or a GitHub OIDC token's
// few minutes) keeps getting new tokens.
//
//	ts, err := sts.NewTokenSource(sts.Config{
//		Subject:          githubactions.Subject{},
//		SubjectTokenType: sts.TokenTypeJWT,
//		Audience:         "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/github/providers/my-repo",
//	})
//
// The job must be allowed to ask for tokens: its workflow says
//
//	permissions:
//	  id-token: write
//
// which makes the runner set ACTIONS_ID_TOKEN_REQUEST_URL and
// ACTIONS_ID_TOKEN_REQUEST_TOKEN. Without them, construction fails with an
// error saying so.
//
// The credential file that google-github-actions/auth writes (a URL source
// with the runtime's request token in an Authorization header and the JSON
// field "value") needs no change: it is an ordinary URL source and is read
// afresh at every exchange too.
package githubactions

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/internal/check"
	"github.com/stsgo/sts/internal/httpx"
)

// Environment variables the Actions runner sets for a job with
// "permissions: id-token: write".
const (
	// EnvRequestURL is the runtime's OIDC token endpoint (it already
	// carries a query, such as "?api-version=2.0").
	EnvRequestURL = "ACTIONS_ID_TOKEN_REQUEST_URL"
	// EnvRequestToken is the bearer token that authorizes requests to it.
	EnvRequestToken = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
)

// DefaultTimeout bounds one request to the runtime when Subject.Timeout is
// zero.
const DefaultTimeout = 10 * time.Second

// permissionHint tells the user what a job without the runtime variables
// lacks.
const permissionHint = "is not set: this process cannot request GitHub Actions OIDC tokens; " +
	"the job needs `permissions: id-token: write` in its workflow (and the step must run on GitHub Actions)"

// Subject is an sts.SubjectTokenProvider that fetches a GitHub Actions OIDC
// token (a JWT, for sts.TokenTypeJWT or sts.TokenTypeIDToken exchanges)
// from the job's runtime at every call: GET on ACTIONS_ID_TOKEN_REQUEST_URL
// with the query parameter audience added, the bearer token
// ACTIONS_ID_TOKEN_REQUEST_TOKEN, and the token read from the JSON answer's
// "value".
//
// The zero value is ready to use inside a job that may request tokens; its
// Validate (which sts.NewTokenSource calls) fails outside one. A Subject
// holds no state, is safe for concurrent use and prints no secret. Redirects
// are never followed, and the request token is sent only over https (or to
// a loopback host).
type Subject struct {
	// Audience is the aud claim to ask for. Empty means the default allowed
	// audience of a workload identity pool provider: the exchange's
	// audience with "https:" in front ("https://iam.googleapis.com/projects/
	// …/providers/…"), as google-github-actions/auth asks for it. Set it
	// when the provider's allowed audiences name another.
	Audience string
	// HTTPClient sends the requests to the runtime. Nil means
	// http.DefaultClient.
	HTTPClient *http.Client
	// Timeout bounds one request. Zero means DefaultTimeout.
	Timeout time.Duration
	// Getenv reads ACTIONS_ID_TOKEN_REQUEST_URL and
	// ACTIONS_ID_TOKEN_REQUEST_TOKEN, at every call. Nil means os.Getenv.
	Getenv func(string) string
}

var _ sts.SubjectTokenProvider = Subject{}

// SourceKind returns "url": to Google the runtime is a URL source, as it is
// in the credential file of google-github-actions/auth.
func (Subject) SourceKind() string { return "url" }

// SubjectTokenTypes returns sts.TokenTypeJWT and sts.TokenTypeIDToken.
func (Subject) SubjectTokenTypes() []string { return []string{sts.TokenTypeJWT, sts.TokenTypeIDToken} }

// Validate checks Audience and Timeout, and that the runtime's variables
// are set: the request URL an absolute https URL (http only for a loopback
// host), the request token present. Errors are *sts.ValidationError naming
// the field or the environment variable.
func (s Subject) Validate() error {
	_, _, err := s.runtime()
	return err
}

// runtime checks s and returns the runtime's endpoint and request token.
func (s Subject) runtime() (*url.URL, string, error) {
	if strings.ContainsAny(s.Audience, "\x00\r\n") {
		return nil, "", invalid("Subject.Audience", "must not contain NUL or line breaks")
	}
	if s.Timeout < 0 {
		return nil, "", invalid("Subject.Timeout", "must not be negative")
	}
	getenv := s.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	raw := strings.TrimSpace(getenv(EnvRequestURL))
	if raw == "" {
		return nil, "", invalid(EnvRequestURL, permissionHint)
	}
	if err := check.Endpoint(EnvRequestURL, raw); err != nil {
		return nil, "", (*sts.ValidationError)(err)
	}
	u, err := url.Parse(raw)
	if err != nil { // check.Endpoint parsed it already
		return nil, "", invalid(EnvRequestURL, "not a valid URL")
	}
	tok := strings.TrimSpace(getenv(EnvRequestToken))
	if tok == "" {
		return nil, "", invalid(EnvRequestToken, permissionHint)
	}
	if strings.ContainsAny(tok, "\x00\r\n") {
		return nil, "", invalid(EnvRequestToken, "must not contain NUL or line breaks")
	}
	return u, tok, nil
}

// SubjectToken asks the runtime for an OIDC token for s.Audience (or the
// default audience of req.Audience). A missing runtime is an
// *sts.ValidationError; a failed request, an answer other than 200, an
// answer that is not JSON or has no "value" are *sts.Error with Op
// "subject" (temporary for network errors, 408, 429 and 5xx). Errors never
// hold the request token or the OIDC token.
func (s Subject) SubjectToken(ctx context.Context, req sts.SubjectRequest) (string, error) {
	u, reqToken, err := s.runtime()
	if err != nil {
		return "", err
	}
	aud := s.Audience
	if aud == "" {
		aud = DefaultAudience(req.Audience)
	}
	if aud == "" {
		return "", invalid("Subject.Audience", "must be set when the exchange has no audience")
	}
	q := u.Query()
	q.Set("audience", aud)
	u.RawQuery = q.Encode()
	// The runtime is a URL source with a bearer header and a JSON answer;
	// sts.URLSubject has the bounded, redirect-free fetch.
	src := sts.URLSubject{
		URL: u.String(),
		Headers: map[string]string{
			"Authorization": "Bearer " + reqToken,
			"Accept":        "application/json",
		},
		Format:     sts.Format{Type: "json", SubjectTokenField: "value"},
		HTTPClient: s.HTTPClient,
		Timeout:    s.Timeout,
	}
	if s.Timeout == 0 {
		src.Timeout = DefaultTimeout
	}
	tok, err := src.SubjectToken(ctx, req)
	if err != nil {
		var se *sts.Error
		if errors.As(err, &se) {
			// Say whose answer failed; a status failure has no cause to
			// wrap (its status decides whether it is temporary).
			wrapped := *se
			if se.Err != nil {
				wrapped.Err = fmt.Errorf("github actions OIDC token: %w", se.Err)
			} else {
				wrapped.Description = "github actions OIDC token: " + se.Description
			}
			return "", &wrapped
		}
		return "", err
	}
	return tok, nil
}

// DefaultAudience returns the default allowed audience of the workload
// identity pool provider named by an STS audience: "https:" followed by
// the audience ("//iam.googleapis.com/projects/…/providers/…" gives
// "https://iam.googleapis.com/projects/…/providers/…"). An audience that
// does not start with "//" is returned as it is; "" gives "".
func DefaultAudience(stsAudience string) string {
	if strings.HasPrefix(stsAudience, "//") {
		return "https:" + stsAudience
	}
	return stsAudience
}

// String describes s without the environment's secrets.
func (s Subject) String() string {
	return fmt.Sprintf("githubactions.Subject{Audience:%q Timeout:%v}", httpx.Truncate(s.Audience, 256), s.Timeout)
}

// GoString is String, so %#v prints no secret either.
func (s Subject) GoString() string { return s.String() }

func invalid(field, format string, args ...any) *sts.ValidationError {
	return (*sts.ValidationError)(check.Errorf(field, format, args...))
}
